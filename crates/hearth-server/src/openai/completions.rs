//! `POST /v1/completions`: raw text continued without a chat template, as editor
//! autocomplete uses it.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use hearth_llm::{ChatEvent, ChatModel, CompletionRequest, Reply};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{Sampling, StreamOptions, UsageOut, collect, finish_reason, model_name, now, openai_stream, start};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::{ApiJson, AppState};

/// `prompt`: one string (a list holding one string is accepted too).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum PromptIn {
    One(String),
    List(Vec<String>),
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct CompletionRequestIn {
    model: String,
    prompt: PromptIn,
    #[serde(flatten)]
    sampling: Sampling,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CompletionChoice {
    text: String,
    index: u32,
    finish_reason: &'static str,
    /// Always null: log probabilities are not reported.
    #[schema(value_type = Option<Object>)]
    logprobs: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Completion {
    id: String,
    /// Always `text_completion`.
    object: &'static str,
    created: i64,
    model: String,
    choices: Vec<CompletionChoice>,
    usage: UsageOut,
}

/// Continues raw text (no chat template), as editor autocomplete uses it.
#[utoipa::path(post, path = "/v1/completions", tag = "openai", request_body = CompletionRequestIn,
    responses(
        (status = 200, description = "the completion, or with `stream` its chunks", content(
            (Completion = "application/json"),
            (crate::SseEvent = "text/event-stream"),
        )),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn completions(State(state): State<AppState>, ApiJson(req): ApiJson<CompletionRequestIn>) -> ApiResult<Response> {
    let params = req.sampling.params()?;
    let prompt = match req.prompt {
        PromptIn::One(p) => p,
        PromptIn::List(mut list) if list.len() == 1 => list.remove(0),
        PromptIn::List(_) => return Err(ApiError::invalid("prompt", "one prompt per request")),
    };
    let model = model_name(&state, &req.model).await?;
    let request = CompletionRequest { model: model.clone(), prompt, params };
    let id = format!("cmpl-{}", uuid::Uuid::now_v7().simple());
    let host = state.models.clone();
    let started = start(&state, move |cancel| host.complete(request, cancel)).await?;
    if req.stream {
        let include_usage = req.stream_options.is_some_and(|o| o.include_usage);
        let created = now();
        let chunk = move |text: &str, finish: Option<&str>| {
            json!({ "id": id, "object": "text_completion", "created": created, "model": model,
                    "choices": [{ "index": 0, "text": text, "finish_reason": finish, "logprobs": null }] })
        };
        let first = chunk("", None);
        Ok(openai_stream(state, started, first, include_usage, move |event| match event {
            ChatEvent::Delta(text) => Some(chunk(&text, None)),
            ChatEvent::ToolCall { .. } | ChatEvent::Fallback { .. } => None,
            ChatEvent::Finished { reason, .. } => Some(chunk("", Some(finish_reason(reason)))),
        }))
    } else {
        let Reply { text, reason, usage, .. } = collect(&state, started).await?;
        let body = Completion {
            id,
            object: "text_completion",
            created: now(),
            model,
            choices: vec![CompletionChoice { text, index: 0, finish_reason: finish_reason(reason), logprobs: None }],
            usage: usage.into(),
        };
        Ok(Json(body).into_response())
    }
}
