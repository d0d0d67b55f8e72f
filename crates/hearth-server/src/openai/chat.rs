//! `POST /v1/chat/completions`: a conversation answered whole or streamed as
//! `chat.completion.chunk` events. A `workflow/<id>` model runs a workflow instead
//! (`workflows/as_model.rs`) and answers in the same format.

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use hearth_llm::{ChatEvent, ChatMessage, ChatModel, ChatRequest, ResponseFormat, Tool, ToolCall, ToolChoice};
use hearth_types::Role;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{ResponseFormatIn, Sampling, Started, StreamOptions, UsageOut, collect, finish_reason, model_name, now, openai_stream, start};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::workflows::as_model;
use crate::{ApiJson, AppState};

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
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    role: String,
    content: Option<Content>,
    /// An assistant turn's calls.
    #[serde(default)]
    tool_calls: Vec<ToolCallIn>,
    /// A `tool` turn answers this call.
    tool_call_id: Option<String>,
}

/// A call an assistant turn made, as the API returned it.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ToolCallIn {
    id: String,
    /// Always `function`.
    #[allow(dead_code)] // part of OpenAI's format; there is only one type
    r#type: Option<String>,
    function: FunctionCall,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub(crate) struct FunctionCall {
    name: String,
    /// The arguments as JSON text.
    arguments: String,
}

/// A function the model may call.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ToolIn {
    /// Only `function`.
    r#type: String,
    function: FunctionIn,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct FunctionIn {
    /// Letters, digits, `_` and `-`, at most 64.
    name: String,
    description: Option<String>,
    /// A JSON Schema object of the arguments; none means no arguments.
    #[schema(value_type = Option<Object>)]
    parameters: Option<Value>,
}

/// `auto` (the default), `none`, `required`, or `{"type": "function", "function": {"name": …}}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum ToolChoiceIn {
    Mode(String),
    Named { r#type: String, function: NamedFunction },
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct NamedFunction {
    name: String,
}

impl ToolChoiceIn {
    pub(crate) fn to_choice(&self) -> ApiResult<ToolChoice> {
        match self {
            ToolChoiceIn::Mode(mode) => match mode.as_str() {
                "auto" => Ok(ToolChoice::Auto),
                "none" => Ok(ToolChoice::None),
                "required" => Ok(ToolChoice::Required),
                other => Err(ApiError::invalid("tool_choice", format!("{other:?} is not a choice (auto, none, required, or a function)"))),
            },
            ToolChoiceIn::Named { r#type, function } if r#type == "function" => Ok(ToolChoice::Function(function.name.clone())),
            ToolChoiceIn::Named { r#type, .. } => {
                Err(ApiError::invalid("tool_choice", format!("type {type:?} is not supported (function)")))
            }
        }
    }
}

fn tools_of(tools: &[ToolIn]) -> ApiResult<Vec<Tool>> {
    tools
        .iter()
        .map(|t| {
            if t.r#type != "function" {
                return Err(ApiError::invalid("tools", format!("tool type {:?} is not supported (function)", t.r#type)));
            }
            let f = &t.function;
            Ok(Tool {
                name: f.name.clone(),
                description: f.description.clone().unwrap_or_default(),
                parameters: f.parameters.clone().unwrap_or_else(|| json!({ "type": "object", "properties": {} })),
            })
        })
        .collect()
}

impl InMessage {
    fn to_chat(&self) -> ApiResult<ChatMessage> {
        let role = match self.role.as_str() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            other => {
                return Err(ApiError::invalid(
                    "messages",
                    format!("role {other:?} is not supported (system, developer, user, assistant, tool)"),
                ));
            }
        };
        if role == Role::Tool && self.tool_call_id.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::invalid("messages", "a tool message needs the tool_call_id of the call it answers"));
        }
        if role != Role::Assistant && !self.tool_calls.is_empty() {
            return Err(ApiError::invalid("messages", "only assistant messages carry tool_calls"));
        }
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
        let mut message = ChatMessage::new(role, content);
        message.tool_calls = self
            .tool_calls
            .iter()
            .map(|c| ToolCall { id: c.id.clone(), name: c.function.name.clone(), arguments: c.function.arguments.clone() })
            .collect();
        if role == Role::Tool {
            message.tool_call_id = self.tool_call_id.clone();
        }
        Ok(message)
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
    /// Functions the model may call.
    tools: Option<Vec<ToolIn>>,
    tool_choice: Option<ToolChoiceIn>,
    /// Several calls in one turn. Local models make one unless this is `true`.
    parallel_tool_calls: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AssistantMessage {
    /// Always `assistant`.
    role: &'static str,
    /// The reply's text; `null` when it only called tools.
    content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCallOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ToolCallOut {
    id: String,
    /// Always `function`.
    r#type: &'static str,
    function: FunctionCall,
}

impl AssistantMessage {
    fn new(content: String, calls: Vec<ToolCall>) -> Self {
        let content = if content.is_empty() && !calls.is_empty() { None } else { Some(content) };
        let tool_calls = calls
            .into_iter()
            .map(|c| ToolCallOut { id: c.id, r#type: "function", function: FunctionCall { name: c.name, arguments: c.arguments } })
            .collect();
        Self { role: "assistant", content, tool_calls }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChatChoice {
    index: u32,
    message: AssistantMessage,
    /// `stop`, `length` or `tool_calls`.
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
        if req.tools.as_ref().is_some_and(|t| !t.is_empty()) || req.tool_choice.is_some() {
            return Err(ApiError::invalid("tools", "a workflow answers as a whole; it takes no tools"));
        }
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
    let mut request = ChatRequest::new(model.clone(), messages, params);
    request.tools = tools_of(req.tools.as_deref().unwrap_or_default())?;
    if let Some(choice) = &req.tool_choice {
        request.tool_choice = choice.to_choice()?;
    }
    request.parallel_tool_calls = req.parallel_tool_calls;
    let id = format!("chatcmpl-{}", uuid::Uuid::now_v7().simple());
    let host = state.models.clone();
    let started = start(&state, move |cancel| host.chat(request, cancel)).await?;
    if req.stream {
        let include_usage = req.stream_options.is_some_and(|o| o.include_usage);
        Ok(stream_chat(state, started, id, model, include_usage))
    } else {
        let reply = collect(&state, started).await?;
        let body = ChatCompletion {
            id,
            object: "chat.completion",
            created: now(),
            model,
            choices: vec![ChatChoice {
                index: 0,
                message: AssistantMessage::new(reply.text, reply.tool_calls),
                finish_reason: finish_reason(reply.reason),
            }],
            usage: reply.usage.into(),
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
        // OpenAI's shape: the id, type and name once, on a call's first piece; later pieces
        // only add to its arguments.
        ChatEvent::ToolCall { index, id, name, arguments } => {
            let mut call = json!({ "index": index, "function": { "arguments": arguments } });
            if let Some(id) = id {
                call["id"] = json!(id);
                call["type"] = json!("function");
            }
            if let Some(name) = name {
                call["function"]["name"] = json!(name);
            }
            Some(chunk(json!({ "tool_calls": [call] }), None))
        }
        ChatEvent::Fallback { .. } => None,
        ChatEvent::Finished { reason, .. } => Some(chunk(json!({}), Some(finish_reason(reason)))),
    })
}

/// `model: "workflow/<id>"`: the run's answer (`workflows/as_model.rs`) in this route's format.
/// A stream carries the whole answer in one chunk at the end (the workflow's own steps are
/// not the answer), with keep-alives while it runs.
async fn workflow_completion(state: AppState, workflow: &str, req: &ChatCompletionRequest) -> ApiResult<Response> {
    let messages = req.messages.iter().map(InMessage::to_chat).collect::<ApiResult<Vec<_>>>()?;
    let watch = as_model::start(&state, workflow, &messages).await?;
    let (model, stream, include_usage) = (req.model.clone(), req.stream, req.stream_options.as_ref().is_some_and(|o| o.include_usage));
    if !stream {
        let answer = watch.answer().await?;
        let body = ChatCompletion {
            id: answer.id,
            object: "chat.completion",
            created: now(),
            model,
            choices: vec![ChatChoice { index: 0, message: AssistantMessage::new(answer.content, Vec::new()), finish_reason: "stop" }],
            usage: answer.usage.into(),
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
                    usage["usage"] = json!(UsageOut::from(answer.usage));
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
