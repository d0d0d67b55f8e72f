//! Messages and replies under `/api/v1`: sending (with the model's reply started in the
//! background), answering again, editing and deleting, a message's siblings, a reply's
//! resumable event stream and cancelling it, and full-text search over messages.

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use hearth_core::ReplyRequest;
use hearth_llm::SamplingParams;
use hearth_types::{ChatId, Message, MessageId, SearchHit};
use serde::Deserialize;
use serde_json::json;
use tokio_stream::StreamExt as _;
use tracing::Instrument as _;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::params::{chat_id, message_id, workspace_ref};
use crate::replies::ReplyEvent;
use crate::{ApiJson, AppState, blocking};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SendIn {
    content: String,
    /// Reply to this message instead of the end of the branch on screen.
    parent_id: Option<String>,
    /// The model that answers [default: the chat's, the workspace's, then the default model].
    model: Option<String>,
    /// Whether the model answers (default true).
    reply: Option<bool>,
    /// A retried send with the same key returns the first send's messages.
    idempotency_key: Option<String>,
    temperature: Option<f32>,
    max_tokens: Option<u32>,
    seed: Option<u64>,
    /// Whether and which tools the reply may call, as on `/v1/chat/completions` [default: the
    /// workspace's `tools` setting decides]. A required or named call binds the first round.
    tool_choice: Option<crate::openai::chat::ToolChoiceIn>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub(crate) struct Sent {
    message: Message,
    /// The assistant's reply (status `streaming` while it runs); absent with `reply: false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    reply: Option<Message>,
    /// Where the reply's events stream; absent with `reply: false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<String>,
}

/// Sends a message. With `reply` (the default) the model's reply starts in the background:
/// 202 with its ids, or with `Accept: text/event-stream` the reply's event stream itself.
#[utoipa::path(post, path = "/api/v1/chats/{chat}/messages", tag = "messages", request_body = SendIn,
    params(("chat" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "retry-safe sends")),
    responses(
        (status = 200, description = "a retried send: the first send's messages; with `Accept: text/event-stream`, the reply's events",
            content((Sent = "application/json"), (crate::SseEvent = "text/event-stream"))),
        (status = 201, description = "stored without a reply", body = Sent),
        (status = 202, description = "stored; the reply runs", body = Sent),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub(crate) async fn send(
    State(state): State<AppState>,
    Path(chat): Path<String>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<SendIn>,
) -> ApiResult<Response> {
    let chat = chat_id(&chat)?;
    let header_key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_owned))
        .transpose()
        .map_err(|_| ApiError::invalid("Idempotency-Key", "must be text"))?;
    let key = header_key.or(input.idempotency_key.clone());
    let parent_id = input.parent_id.as_deref().map(message_id).transpose()?;
    let wants_stream = wants_event_stream(&headers);

    if input.reply == Some(false) {
        let add = hearth_core::AddMessage { parent_id, idempotency_key: key, ..hearth_core::AddMessage::user(input.content) };
        let appended = blocking(&state, move |core| core.add_message(chat, &add)).await?;
        let status = if appended.created { StatusCode::CREATED } else { StatusCode::OK };
        return Ok((status, Json(Sent { message: appended.message, reply: None, events: None })).into_response());
    }

    let params = sampling(input.temperature, input.max_tokens, input.seed)?;
    let tool_choice = input.tool_choice.as_ref().map(crate::openai::chat::ToolChoiceIn::to_choice).transpose()?;
    let slot = state.replies.reserve()?;
    let requested = input.model.clone().filter(|m| !m.is_empty());
    let content = input.content;
    let router = state.models.clone();
    let started = start_in_background(&state, slot, move |core| {
        let model = answering_model(core, &router, requested, chat)?;
        let request = ReplyRequest { parent_id, idempotency_key: key, tool_choice, ..ReplyRequest::new(chat, content, model, params) };
        core.start_reply(&request)
    })
    .await?;
    respond(&state, started, wants_stream).await
}

/// The model that answers in `chat`: the one asked for, else the chat's, its workspace's or
/// the default. An unknown one is the sender's mistake (404), found before anything is stored.
fn answering_model(
    core: &hearth_core::Core,
    router: &hearth_core::ModelRouter,
    requested: Option<String>,
    chat: ChatId,
) -> hearth_core::Result<String> {
    let model = match requested {
        Some(m) => m,
        None => core.reply_model(chat)?,
    };
    router.check(&model)?;
    Ok(model)
}

/// The sampling parameters of a send or an answer: Hearth's defaults, a fresh seed unless one
/// is given, checked.
fn sampling(temperature: Option<f32>, max_tokens: Option<u32>, seed: Option<u64>) -> ApiResult<SamplingParams> {
    let mut params = SamplingParams::default();
    if let Some(t) = temperature {
        params.temperature = t;
    }
    if let Some(m) = max_tokens {
        params.max_tokens = m;
    }
    params.seed = seed.unwrap_or_else(|| uuid::Uuid::new_v4().as_u64_pair().0);
    params.validate()?;
    Ok(params)
}

/// Stores a reply's messages with `start` and starts the model in the place `slot` holds, as
/// one task the server owns: if the request is dropped (the client went away) between the
/// two, the stored reply still runs rather than staying `streaming` with nothing behind it. A
/// replayed send (its idempotency key was seen) starts nothing and frees the place.
async fn start_in_background(
    state: &AppState,
    slot: crate::limits::Slot,
    start: impl FnOnce(&hearth_core::Core) -> hearth_core::Result<hearth_core::StartedReply> + Send + 'static,
) -> ApiResult<hearth_core::StartedReply> {
    let task_state = state.clone();
    state
        .replies
        .track(
            async move {
                let started = blocking(&task_state, start).await?;
                if !started.replayed {
                    let s = &task_state;
                    s.replies.spawn(slot, s.core.clone(), s.models.clone(), s.metrics.clone(), started.clone());
                }
                Ok::<_, ApiError>(started)
            }
            .instrument(tracing::Span::current()),
        )
        .await
        .map_err(ApiError::internal)?
}

/// A started reply's answer: its event stream, or 202 (200 when replayed) with its messages.
async fn respond(state: &AppState, started: hearth_core::StartedReply, wants_stream: bool) -> ApiResult<Response> {
    let (question, answer, replayed) = (started.question, started.answer, started.replayed);
    if wants_stream {
        return reply_events(state, answer.id, 0).await;
    }
    let events = format!("/api/v1/replies/{}/events", answer.id);
    let status = if replayed { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok((status, Json(Sent { message: question, reply: Some(answer), events: Some(events) })).into_response())
}

fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/event-stream"))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnswerIn {
    /// The model that answers [default: the chat's, the workspace's, then the default model].
    model: Option<String>,
    temperature: Option<f32>,
    max_tokens: Option<u32>,
    seed: Option<u64>,
}

/// Answers again: for a reply, a new sibling reply to the same question (regenerate); for a
/// person's message, a reply to it (after an edit, which adds none). The new reply is the
/// branch shown from now on; the old one stays one `<` away. Answers as a send does.
#[utoipa::path(post, path = "/api/v1/messages/{message}/reply", tag = "messages", request_body = AnswerIn,
    params(("message" = String, Path)),
    responses(
        (status = 200, description = "with `Accept: text/event-stream`, the reply's events", content((crate::SseEvent = "text/event-stream"))),
        (status = 202, description = "the reply runs", body = Sent),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn answer(
    State(state): State<AppState>,
    Path(message): Path<String>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<AnswerIn>,
) -> ApiResult<Response> {
    let id = message_id(&message)?;
    let params = sampling(input.temperature, input.max_tokens, input.seed)?;
    let slot = state.replies.reserve()?;
    let requested = input.model.filter(|m| !m.is_empty());
    let router = state.models.clone();
    let started = start_in_background(&state, slot, move |core| {
        let model = answering_model(core, &router, requested, core.message(id)?.chat_id)?;
        core.start_answer(id, &model, params)
    })
    .await?;
    respond(&state, started, wants_event_stream(&headers)).await
}

/// The message and its siblings, oldest first: the branches a `< 2/3 >` switcher steps through
/// (show one with `POST /api/v1/chats/{chat}/branch`).
#[utoipa::path(get, path = "/api/v1/messages/{message}/siblings", tag = "messages", params(("message" = String, Path)),
    responses((status = 200, body = [Message]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn siblings(State(state): State<AppState>, Path(message): Path<String>) -> ApiResult<Json<Vec<Message>>> {
    let id = message_id(&message)?;
    Ok(Json(blocking(&state, move |core| core.siblings(id)).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditIn {
    content: String,
}

/// Edits a message: the new text becomes a new sibling branch, shown from now on.
#[utoipa::path(patch, path = "/api/v1/messages/{message}", tag = "messages", request_body = EditIn, params(("message" = String, Path)),
    responses((status = 200, body = Message), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn edit_message(
    State(state): State<AppState>,
    Path(message): Path<String>,
    ApiJson(e): ApiJson<EditIn>,
) -> ApiResult<Json<Message>> {
    let id = message_id(&message)?;
    Ok(Json(blocking(&state, move |core| core.edit_message(id, &e.content)).await?))
}

/// Deletes a message and the replies under it.
#[utoipa::path(delete, path = "/api/v1/messages/{message}", tag = "messages", params(("message" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_message(State(state): State<AppState>, Path(message): Path<String>) -> ApiResult<StatusCode> {
    let id = message_id(&message)?;
    blocking(&state, move |core| core.delete_message(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A reply's events: `message_start`, `delta`..., `citations` (when the workspace's knowledge
/// gave it passages), then `message_end` or `error`, each with an id; `Last-Event-ID` resumes
/// after that id. A reply that calls tools adds `tool_call` (`message_id` of the `tool`
/// message, `call`, `approval`: `required` or `not_needed`), `approval` (the answer, for one
/// that asked), `tool_result` (the stored `tool` message) and a `message_start` for the
/// message that continues; `message_end` carries the last one.
#[utoipa::path(get, path = "/api/v1/replies/{message}/events", tag = "messages", operation_id = "reply_events",
    params(("message" = String, Path, description = "the reply's message id"), ("Last-Event-ID" = Option<u64>, Header)),
    responses((status = 200, content((crate::SseEvent = "text/event-stream"))), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn events(State(state): State<AppState>, Path(message): Path<String>, headers: HeaderMap) -> ApiResult<Response> {
    let id = message_id(&message)?;
    let after = match headers.get("last-event-id") {
        None => 0,
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| ApiError::invalid("Last-Event-ID", "must be an event id (a number)"))?,
    };
    reply_events(&state, id, after).await
}

async fn reply_events(state: &AppState, id: MessageId, after: u64) -> ApiResult<Response> {
    let events = match state.replies.events(id, after) {
        Some(events) => events,
        None => {
            // Not run by this server (or long finished): the stored message is the record.
            let message = blocking(state, move |core| core.message(id)).await?;
            let event = if message.status == hearth_types::MessageStatus::Streaming {
                let e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "this reply is not running here any more (the app stopped while it ran)",
                );
                ReplyEvent { id: after + 1, name: "error", data: json!({ "error": e.object() }) }
            } else {
                ReplyEvent { id: after + 1, name: "message_end", data: json!({ "message": message, "finish_reason": null, "usage": null }) }
            };
            Box::pin(tokio_stream::once(event))
        }
    };
    let stream = events.map(|e| Ok::<_, Infallible>(Event::default().id(e.id.to_string()).event(e.name).data(e.data.to_string())));
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

/// Stops a running reply; it keeps the text it had, with status `cancelled`.
#[utoipa::path(post, path = "/api/v1/replies/{message}/cancel", tag = "messages", params(("message" = String, Path)),
    responses((status = 202, description = "cancelling"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn cancel(State(state): State<AppState>, Path(message): Path<String>) -> ApiResult<StatusCode> {
    let id = message_id(&message)?;
    if state.replies.cancel(id) {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(ApiError::not_found("message", "no reply with that id is running in this server"))
    }
}

/// A person's answer to a tool call that waits for approval.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApprovalIn {
    /// `once` (this call), `always` (this call and every later call of this tool, without
    /// asking), or `deny`.
    #[schema(value_type = String, example = "once")]
    decision: hearth_core::Approval,
}

/// Answers a tool call that waits for approval: the `tool_call` event's `message_id` (a `tool`
/// message, status `pending`) when its `approval` is `required`.
#[utoipa::path(post, path = "/api/v1/messages/{message}/approval", tag = "messages", operation_id = "approve_tool_call",
    request_body = ApprovalIn, params(("message" = String, Path, description = "the tool call's message id")),
    responses((status = 202, description = "the call goes on (or is denied)"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn approve(
    State(state): State<AppState>,
    Path(message): Path<String>,
    ApiJson(input): ApiJson<ApprovalIn>,
) -> ApiResult<StatusCode> {
    let id = message_id(&message)?;
    if state.replies.approve(id, input.decision) {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(ApiError::not_found("message", "no tool call with that id waits for approval in this server"))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct SearchQuery {
    /// Words to find (all must match; the last may be a prefix).
    q: String,
    /// Only this workspace (id or handle).
    workspace: Option<String>,
    /// 1 to 500 (default 20).
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/search", tag = "messages", params(SearchQuery),
    responses((status = 200, body = Vec<SearchHit>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn search(State(state): State<AppState>, Query(q): Query<SearchQuery>) -> ApiResult<Json<Vec<SearchHit>>> {
    let ws = q.workspace.as_deref().map(workspace_ref).transpose()?;
    let limit = q.limit.unwrap_or(20);
    Ok(Json(blocking(&state, move |core| core.search(&q.q, ws.as_ref(), limit)).await?))
}
