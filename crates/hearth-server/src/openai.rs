//! The OpenAI-compatible API under `/v1`: models, chat completions, legacy completions and
//! embeddings, in OpenAI's wire format, so the openai SDKs and editors work unchanged.
//!
//! Requests are translated into Hearth's model vocabulary (`hearth-llm`) and answered by the
//! model host; nothing here is stored (the app API is the one with chats). Where OpenAI's
//! format has no word for something Hearth does, the closest is used: a reply stopped by
//! server shutdown reports `finish_reason: "stop"`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hearth_llm::{
    CancellationToken, ChatEvent, ChatMessage, ChatModel, ChatRequest, ChatStream, CompletionRequest, EmbedInput, FinishReason, LlmError,
    ResponseFormat, SamplingParams, Usage,
};
use hearth_types::Role;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::limits::Slot;
use crate::{ApiJson, AppState, blocking};

// ------------------------------------------------------------------ models

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ModelObject {
    id: String,
    /// Always `model`.
    object: &'static str,
    /// When the model was registered (Unix seconds; 0 for a provider's models).
    created: i64,
    /// `hearth` for local models, else the provider's name.
    owned_by: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ModelList {
    /// Always `list`.
    object: &'static str,
    data: Vec<ModelObject>,
}

/// Local models, then each provider's (as `provider/model`).
fn model_objects(entries: Vec<hearth_core::ModelEntry>) -> Vec<ModelObject> {
    entries.into_iter().map(|e| ModelObject { created: e.created, id: e.id, object: "model", owned_by: e.owned_by }).collect()
}

/// The models this server can run.
#[utoipa::path(get, path = "/v1/models", tag = "openai",
    responses((status = 200, body = ModelList), (status = 401, body = ErrorBody)))]
pub(crate) async fn list_models(State(state): State<AppState>) -> ApiResult<Json<ModelList>> {
    let router = state.models.clone();
    let models = blocking(&state, move |_| router.models().map(model_objects)).await?;
    Ok(Json(ModelList { object: "list", data: models }))
}

/// One model.
#[utoipa::path(get, path = "/v1/models/{model}", tag = "openai",
    params(("model" = String, Path, description = "the model's name")),
    responses((status = 200, body = ModelObject), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_model(State(state): State<AppState>, Path(model): Path<String>) -> ApiResult<Json<ModelObject>> {
    let router = state.models.clone();
    let found = blocking(&state, move |_| {
        let all = model_objects(router.models()?);
        all.into_iter().find(|m| m.id == model).ok_or_else(|| LlmError::ModelNotFound(model).into())
    })
    .await?;
    Ok(Json(found))
}

// ------------------------------------------------------------------ request pieces

/// `stop`: one string or several.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub(crate) struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct JsonSchemaFormat {
    #[serde(default)]
    #[allow(dead_code)] // part of OpenAI's format; the schema alone decides the grammar
    name: Option<String>,
    /// The JSON Schema the reply must match.
    #[schema(value_type = Object)]
    schema: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ResponseFormatIn {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchemaFormat },
}

/// Sampling fields shared by chat and legacy completions (plus llama.cpp's extensions).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub(crate) struct Sampling {
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    /// Extension: keep only the k most likely tokens (0 keeps all).
    top_k: Option<u32>,
    /// Extension: drop tokens less likely than this fraction of the best one.
    min_p: Option<f32>,
    /// Extension: 1.0 is off.
    repeat_penalty: Option<f32>,
    /// Same seed, prompt and settings give the same text. Random when absent.
    seed: Option<i64>,
    stop: Option<Stop>,
    /// Extension: keep generating past the end of the turn, up to `max_tokens` (benchmarks).
    #[serde(default)]
    ignore_eos: bool,
    /// Only 1 is supported.
    n: Option<u32>,
}

impl Sampling {
    fn params(&self) -> ApiResult<SamplingParams> {
        if let Some(n) = self.n
            && n != 1
        {
            return Err(ApiError::invalid("n", "only n = 1 is supported"));
        }
        // OpenAI's API has no repeat penalty, and it hurts code and JSON: off unless asked.
        let mut p = SamplingParams { repeat_penalty: 1.0, ..SamplingParams::default() };
        if let Some(t) = self.temperature {
            p.temperature = t;
        }
        if let Some(v) = self.top_p {
            p.top_p = v;
        }
        if let Some(v) = self.top_k {
            p.top_k = v;
        }
        if let Some(v) = self.min_p {
            p.min_p = v;
        }
        if let Some(v) = self.repeat_penalty {
            p.repeat_penalty = v;
        }
        if let Some(v) = self.max_completion_tokens.or(self.max_tokens) {
            p.max_tokens = v;
        }
        p.seed = match self.seed {
            Some(s) => s as u64,
            None => random_seed(),
        };
        p.stop = match &self.stop {
            None => Vec::new(),
            Some(Stop::One(s)) => vec![s.clone()],
            Some(Stop::Many(v)) => v.clone(),
        };
        if p.stop.len() > 4 {
            return Err(ApiError::invalid("stop", "at most 4 stop sequences"));
        }
        p.ignore_eos = self.ignore_eos;
        p.validate()?;
        Ok(p)
    }
}

fn random_seed() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Length => "length",
        FinishReason::Stop | FinishReason::Cancelled => "stop",
        FinishReason::ToolCalls => "tool_calls",
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UsageOut {
    prompt_tokens: u32,
    completion_tokens: u32,
    total_tokens: u32,
    prompt_tokens_details: PromptTokensDetails,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PromptTokensDetails {
    /// Prompt tokens found in the prefix cache, not processed again.
    cached_tokens: u32,
}

impl From<Usage> for UsageOut {
    fn from(u: Usage) -> Self {
        Self {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.prompt_tokens + u.completion_tokens,
            prompt_tokens_details: PromptTokensDetails { cached_tokens: u.cached_prompt_tokens },
        }
    }
}

/// `"default"` (or nothing) means the default model.
async fn model_name(state: &AppState, requested: &str) -> ApiResult<String> {
    if !requested.trim().is_empty() && requested != "default" {
        return Ok(requested.to_owned());
    }
    let default = blocking(state, |core| core.default_model()).await?;
    default.map(|m| m.name).ok_or_else(|| ApiError::from(LlmError::NoDefaultModel))
}

// ------------------------------------------------------------------ chat completions

/// A message's content: a string, or parts of which the text ones are read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ContentPart {
    r#type: String,
    text: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct InMessage {
    /// `system`, `developer`, `user` or `assistant`.
    role: String,
    content: Option<Content>,
}

impl InMessage {
    fn to_chat(&self) -> ApiResult<ChatMessage> {
        let role = match self.role.as_str() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => {
                return Err(ApiError::invalid("messages", format!("role {other:?} is not supported (system, developer, user, assistant)")));
            }
        };
        let content = match &self.content {
            None => String::new(),
            Some(Content::Text(t)) => t.clone(),
            Some(Content::Parts(parts)) => {
                let mut text = String::new();
                for part in parts {
                    match (part.r#type.as_str(), &part.text) {
                        ("text", Some(t)) => text.push_str(t),
                        (kind, _) => {
                            return Err(ApiError::invalid(
                                "messages",
                                format!("content parts of type {kind:?} are not supported (text only)"),
                            ));
                        }
                    }
                }
                text
            }
        };
        Ok(ChatMessage::new(role, content))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ChatCompletionRequest {
    /// A model name, or `default`.
    model: String,
    messages: Vec<InMessage>,
    #[serde(flatten)]
    sampling: Sampling,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    response_format: Option<ResponseFormatIn>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AssistantMessage {
    /// Always `assistant`.
    role: &'static str,
    content: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChatChoice {
    index: u32,
    message: AssistantMessage,
    /// `stop` or `length`.
    finish_reason: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChatCompletion {
    id: String,
    /// Always `chat.completion`.
    object: &'static str,
    created: i64,
    model: String,
    choices: Vec<ChatChoice>,
    usage: UsageOut,
}

/// Answers a conversation, streamed (`stream: true`, as `chat.completion.chunk` server-sent
/// events ending with `[DONE]`) or whole.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", request_body = ChatCompletionRequest,
    responses(
        (status = 200, description = "the completion, or with `stream` its chunks", content(
            (ChatCompletion = "application/json"),
            (crate::SseEvent = "text/event-stream"),
        )),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn chat_completions(State(state): State<AppState>, ApiJson(req): ApiJson<ChatCompletionRequest>) -> ApiResult<Response> {
    if let Some(workflow) = req.model.strip_prefix("workflow/") {
        return workflow_completion(state, workflow, &req).await;
    }
    let mut params = req.sampling.params()?;
    params.format = match req.response_format {
        None | Some(ResponseFormatIn::Text) => None,
        Some(ResponseFormatIn::JsonObject) => Some(ResponseFormat::JsonObject),
        Some(ResponseFormatIn::JsonSchema { json_schema }) => match json_schema.schema {
            Some(schema) if schema.is_object() || schema.is_boolean() => Some(ResponseFormat::JsonSchema(schema)),
            _ => return Err(ApiError::invalid("response_format", "json_schema.schema must be a JSON Schema object")),
        },
    };
    let messages = req.messages.iter().map(InMessage::to_chat).collect::<ApiResult<Vec<_>>>()?;
    if messages.is_empty() {
        return Err(ApiError::invalid("messages", "must hold at least one message"));
    }
    let model = model_name(&state, &req.model).await?;
    let request = ChatRequest::new(model.clone(), messages, params);
    let id = format!("chatcmpl-{}", uuid::Uuid::now_v7().simple());
    let host = state.models.clone();
    let started = start(&state, move |cancel| host.chat(request, cancel)).await?;
    if req.stream {
        let include_usage = req.stream_options.is_some_and(|o| o.include_usage);
        Ok(stream_chat(state, started, id, model, include_usage))
    } else {
        let (text, reason, usage) = collect(&state, started).await?;
        let body = ChatCompletion {
            id,
            object: "chat.completion",
            created: now(),
            model,
            choices: vec![ChatChoice {
                index: 0,
                message: AssistantMessage { role: "assistant", content: text },
                finish_reason: finish_reason(reason),
            }],
            usage: usage.into(),
        };
        Ok(Json(body).into_response())
    }
}

/// One `chat.completion.chunk` of a streamed answer.
fn chat_chunk(id: &str, created: i64, model: &str, delta: Value, finish: Option<&str>) -> Value {
    json!({ "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }] })
}

fn stream_chat(state: AppState, started: Started, id: String, model: String, include_usage: bool) -> Response {
    let created = now();
    let chunk = move |delta: Value, finish: Option<&str>| chat_chunk(&id, created, &model, delta, finish);
    let first = chunk(json!({ "role": "assistant", "content": "" }), None);
    openai_stream(state, started, first, include_usage, move |event| match event {
        ChatEvent::Delta(text) => Some(chunk(json!({ "content": text }), None)),
        ChatEvent::ToolCall { index, id, name, arguments } => {
            let call = json!({ "index": index, "id": id, "type": "function", "function": { "name": name, "arguments": arguments } });
            Some(chunk(json!({ "tool_calls": [call] }), None))
        }
        ChatEvent::Fallback { .. } => None,
        ChatEvent::Finished { reason, .. } => Some(chunk(json!({}), Some(finish_reason(reason)))),
    })
}

// ------------------------------------------------------------------ workflows as models

/// `model: "workflow/<id>"`: runs the workflow with the last user message as its input
/// (the start input named `input`, else the first one) and answers with its output (the
/// single output's text, else the outputs as JSON). A stream carries the whole answer in
/// one chunk at the end (the workflow's own steps are not the answer), with keep-alives
/// while it runs. Like any model request it counts against the in-flight limit, and a client
/// that goes away cancels the run.
async fn workflow_completion(state: AppState, workflow: &str, req: &ChatCompletionRequest) -> ApiResult<Response> {
    let id = hearth_types::WorkflowId::parse_field(workflow, "model")?;
    let messages = req.messages.iter().map(InMessage::to_chat).collect::<ApiResult<Vec<_>>>()?;
    let question = messages.iter().rev().find(|m| m.role == Role::User).map(|m| m.content.clone());
    let question = question.ok_or_else(|| ApiError::invalid("messages", "a workflow needs a user message for its input"))?;
    let slot = hold(&state)?;
    let runs = state.workflows.clone();
    let handle = tokio::runtime::Handle::current();
    let run = tokio::task::spawn_blocking(move || {
        let _enter = handle.enter();
        runs.start_with_text(id, &question)
    })
    .await
    .map_err(ApiError::internal)??;
    let watch = RunWatch { workflows: state.workflows.clone(), run: run.id, done: false, _slot: slot };
    let (model, stream, include_usage) = (req.model.clone(), req.stream, req.stream_options.as_ref().is_some_and(|o| o.include_usage));
    if !stream {
        let answer = watch.answer().await?;
        let body = ChatCompletion {
            id: answer.id,
            object: "chat.completion",
            created: now(),
            model,
            choices: vec![ChatChoice {
                index: 0,
                message: AssistantMessage { role: "assistant", content: answer.content },
                finish_reason: "stop",
            }],
            usage: answer.usage,
        };
        return Ok(Json(body).into_response());
    }
    let created = now();
    let events = futures_util::stream::once(async move {
        let chunk = |id: &str, delta: Value, finish: Option<&str>| chat_chunk(id, created, &model, delta, finish);
        let mut out = Vec::new();
        match watch.answer().await {
            Ok(answer) => {
                out.push(chunk(&answer.id, json!({ "role": "assistant", "content": "" }), None));
                out.push(chunk(&answer.id, json!({ "content": answer.content }), None));
                out.push(chunk(&answer.id, json!({}), Some("stop")));
                if include_usage {
                    let mut usage = chunk(&answer.id, json!({}), None);
                    usage["choices"] = json!([]);
                    usage["usage"] = json!(answer.usage);
                    out.push(usage);
                }
            }
            // The stream has begun: the error goes in it, as for any model.
            Err(e) => out.push(json!({ "error": e.object() })),
        }
        let events: Vec<Result<Event, std::convert::Infallible>> =
            out.into_iter().map(|e| Ok(Event::default().data(e.to_string()))).chain([Ok(Event::default().data("[DONE]"))]).collect();
        futures_util::stream::iter(events)
    });
    Ok(Sse::new(futures_util::StreamExt::flatten(events)).keep_alive(KeepAlive::default()).into_response())
}

/// A workflow run answering as a model: cancelled if dropped before it ends (the client went
/// away), holding its in-flight slot meanwhile.
struct RunWatch {
    workflows: Arc<hearth_core::workflow::WorkflowRuns>,
    run: hearth_types::RunId,
    done: bool,
    _slot: Slot,
}

/// What a finished workflow run answers.
struct WorkflowAnswer {
    id: String,
    content: String,
    usage: UsageOut,
}

impl RunWatch {
    async fn answer(mut self) -> ApiResult<WorkflowAnswer> {
        let detail = self.workflows.wait(self.run).await;
        self.done = true;
        let run = detail?.run;
        if run.status != hearth_types::RunStatus::Succeeded {
            let why = run.error.unwrap_or_else(|| run.status.as_str().to_owned());
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_GATEWAY,
                "upstream",
                format!("workflow run {} {}: {why}", run.id, run.status.as_str()),
            ));
        }
        let content = match run.outputs.values().collect::<Vec<_>>().as_slice() {
            [Value::String(s)] => s.clone(),
            [other] => other.to_string(),
            _ => Value::Object(run.outputs.clone()).to_string(),
        };
        let usage =
            UsageOut::from(Usage { prompt_tokens: run.prompt_tokens, completion_tokens: run.completion_tokens, cached_prompt_tokens: 0 });
        Ok(WorkflowAnswer { id: format!("chatcmpl-{}", run.id.as_uuid().simple()), content, usage })
    }
}

impl Drop for RunWatch {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.workflows.cancel(self.run);
        }
    }
}

// ------------------------------------------------------------------ legacy completions

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
        let (text, reason, usage) = collect(&state, started).await?;
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

// ------------------------------------------------------------------ embeddings

/// `input`: a string, strings, token ids, or lists of token ids.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum EmbeddingInputIn {
    One(String),
    Many(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct EmbeddingRequest {
    model: String,
    input: EmbeddingInputIn,
    /// `float` (default) or `base64` (little-endian f32).
    encoding_format: Option<String>,
}

/// Floats, or with `encoding_format: base64` a base64 string of little-endian f32.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum EmbeddingData {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EmbeddingObject {
    /// Always `embedding`.
    object: &'static str,
    index: u32,
    embedding: EmbeddingData,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EmbeddingUsage {
    prompt_tokens: u32,
    total_tokens: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EmbeddingList {
    object: &'static str,
    data: Vec<EmbeddingObject>,
    model: String,
    usage: EmbeddingUsage,
}

/// Mean-pooled, L2-normalized embeddings.
#[utoipa::path(post, path = "/v1/embeddings", tag = "openai", request_body = EmbeddingRequest,
    responses((status = 200, body = EmbeddingList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn embeddings(State(state): State<AppState>, ApiJson(req): ApiJson<EmbeddingRequest>) -> ApiResult<Json<EmbeddingList>> {
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => return Err(ApiError::invalid("encoding_format", format!("{other:?} is not float or base64"))),
    };
    let inputs: Vec<EmbedInput> = match req.input {
        EmbeddingInputIn::One(s) => vec![EmbedInput::Text(s)],
        EmbeddingInputIn::Many(v) => v.into_iter().map(EmbedInput::Text).collect(),
        EmbeddingInputIn::Tokens(t) => vec![EmbedInput::Tokens(t)],
        EmbeddingInputIn::TokenLists(v) => v.into_iter().map(EmbedInput::Tokens).collect(),
    };
    if inputs.is_empty() || inputs.iter().any(|i| matches!(i, EmbedInput::Text(t) if t.is_empty())) {
        return Err(ApiError::invalid("input", "must not be empty (nor hold an empty string)"));
    }
    let _slot = hold(&state)?;
    if inputs.len() > 2048 {
        return Err(ApiError::invalid("input", "at most 2048 inputs per request"));
    }
    let model = model_name(&state, &req.model).await?;
    let host = state.models.clone();
    let name = model.clone();
    let embeddings = tokio::task::spawn_blocking(move || host.embed(&name, &inputs)).await.map_err(ApiError::internal)??;
    let tokens = embeddings.prompt_tokens;
    let data = embeddings
        .vectors
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                EmbeddingData::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                EmbeddingData::Float(v)
            };
            EmbeddingObject { object: "embedding", index: i as u32, embedding }
        })
        .collect();
    Ok(Json(EmbeddingList { object: "list", data, model, usage: EmbeddingUsage { prompt_tokens: tokens, total_tokens: tokens } }))
}

// ------------------------------------------------------------------ streams

/// A model request that the model host accepted, with the place it holds (dropping it
/// cancels the request).
pub(crate) struct Started {
    stream: ChatStream,
    guard: Slot,
}

/// A place among the `max_in_flight` requests (`limits.rs`) for a model request, or for work
/// that is not a stream but just as heavy (embeddings, a model load, a provider test, a sync
/// round): held until the response, so a flood of them gets 429s like a flood of chats does,
/// and shutdown cancels them with the rest.
pub(crate) fn hold(state: &AppState) -> ApiResult<Slot> {
    state.room.take()
}

/// Starts a model request on a blocking thread, so that refusals (unknown model, prompt too
/// long, bad parameters) become the HTTP status before any body is sent.
async fn start(
    state: &AppState,
    begin: impl FnOnce(CancellationToken) -> Result<ChatStream, LlmError> + Send + 'static,
) -> ApiResult<Started> {
    let guard = hold(state)?;
    let token = guard.cancel_token();
    let stream = tokio::task::spawn_blocking(move || begin(token)).await.map_err(ApiError::internal)??;
    Ok(Started { stream, guard })
}

/// Reads a whole reply.
async fn collect(state: &AppState, started: Started) -> ApiResult<(String, FinishReason, Usage)> {
    let Started { stream, guard } = started;
    let result = tokio::task::spawn_blocking(move || stream.collect_text()).await;
    drop(guard);
    let (text, reason, usage, timings) = result.map_err(ApiError::internal)??;
    state.metrics.observe_reply(&usage, &timings);
    Ok((text, reason, usage))
}

/// Streams a reply as OpenAI's server-sent events: `first`, then the chunk `chunk` makes of
/// each model event, then (with `include_usage`) a copy of the last chunk with usage and empty
/// `choices`, then `[DONE]`. An error mid-stream is sent as `{"error": ...}`, which the SDKs
/// raise.
fn openai_stream(
    state: AppState,
    started: Started,
    first: Value,
    include_usage: bool,
    mut chunk: impl FnMut(ChatEvent) -> Option<Value> + Send + 'static,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Value>(64);
    let Started { stream, guard } = started;
    let metrics = state.metrics.clone();
    metrics.active_streams.inc();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let _ = tx.blocking_send(first);
        'events: for event in stream {
            let out = match event {
                Ok(ChatEvent::Finished { reason, usage, timings }) => {
                    metrics.observe_reply(&usage, &timings);
                    let last = chunk(ChatEvent::Finished { reason, usage, timings }).unwrap_or_else(|| json!({}));
                    let mut out = vec![last.clone()];
                    if include_usage {
                        let mut usage_chunk = last;
                        usage_chunk["choices"] = json!([]);
                        usage_chunk["usage"] = json!(UsageOut::from(usage));
                        out.push(usage_chunk);
                    }
                    out
                }
                Ok(event) => chunk(event).into_iter().collect(),
                Err(e) => vec![json!({ "error": ApiError::from(e).object() })],
            };
            for chunk in out {
                if tx.blocking_send(chunk).is_err() {
                    break 'events; // the client went away; dropping the stream cancels the reply
                }
            }
        }
        metrics.active_streams.dec();
    });
    let events = ReceiverStream::new(rx)
        .map(|chunk| Ok::<_, std::convert::Infallible>(Event::default().data(chunk.to_string())))
        .chain(tokio_stream::once(Ok(Event::default().data("[DONE]"))))
        // Held by the body: dropping the response (client gone) cancels the model request.
        .map(move |e| {
            let _ = &guard;
            e
        });
    Sse::new(events).keep_alive(KeepAlive::default()).into_response()
}
