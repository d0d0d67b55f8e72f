//! Chats under `/api/v1`: a workspace's chats, one chat's fields, the thread along the
//! branch on screen and switching branches.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use hearth_types::{Chat, ChatPatch, Thread};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiResult, ErrorBody};
use crate::params::{chat_id, message_id, workspace_ref};
use crate::{ApiJson, AppState, blocking};

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct ChatListQuery {
    #[serde(default)]
    include_archived: bool,
}

/// The workspace's chats, pinned first, then most recently active.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace}/chats", tag = "chats",
    params(("workspace" = String, Path, description = "id or handle"), ChatListQuery),
    responses((status = 200, body = Vec<Chat>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_chats(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    Query(q): Query<ChatListQuery>,
) -> ApiResult<Json<Vec<Chat>>> {
    let ws = workspace_ref(&ws)?;
    Ok(Json(blocking(&state, move |core| core.chats(&ws, q.include_archived)).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewChatIn {
    #[serde(default)]
    title: String,
    model: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/workspaces/{workspace}/chats", tag = "chats", request_body = NewChatIn,
    params(("workspace" = String, Path, description = "id or handle")),
    responses((status = 201, body = Chat), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn create_chat(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    ApiJson(new): ApiJson<NewChatIn>,
) -> ApiResult<(StatusCode, Json<Chat>)> {
    let ws = workspace_ref(&ws)?;
    let chat = blocking(&state, move |core| core.create_chat(&ws, &new.title, new.model.filter(|m| !m.is_empty()))).await?;
    Ok((StatusCode::CREATED, Json(chat)))
}

#[utoipa::path(get, path = "/api/v1/chats/{chat}", tag = "chats", params(("chat" = String, Path)),
    responses((status = 200, body = Chat), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_chat(State(state): State<AppState>, Path(chat): Path<String>) -> ApiResult<Json<Chat>> {
    let id = chat_id(&chat)?;
    Ok(Json(blocking(&state, move |core| core.chat(id)).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChatFields {
    title: Option<String>,
    pinned: Option<bool>,
    archived: Option<bool>,
    /// An empty string clears it (the workspace's default model answers).
    model: Option<String>,
}

#[utoipa::path(patch, path = "/api/v1/chats/{chat}", tag = "chats", request_body = ChatFields, params(("chat" = String, Path)),
    responses((status = 200, body = Chat), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn update_chat(
    State(state): State<AppState>,
    Path(chat): Path<String>,
    ApiJson(f): ApiJson<ChatFields>,
) -> ApiResult<Json<Chat>> {
    let id = chat_id(&chat)?;
    let patch =
        ChatPatch { title: f.title, pinned: f.pinned, archived: f.archived, model: f.model.map(|m| Some(m).filter(|m| !m.is_empty())) };
    Ok(Json(blocking(&state, move |core| core.update_chat(id, &patch)).await?))
}

#[utoipa::path(delete, path = "/api/v1/chats/{chat}", tag = "chats", params(("chat" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_chat(State(state): State<AppState>, Path(chat): Path<String>) -> ApiResult<StatusCode> {
    let id = chat_id(&chat)?;
    blocking(&state, move |core| core.delete_chat(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The chat along the branch on screen, root first.
#[utoipa::path(get, path = "/api/v1/chats/{chat}/messages", tag = "messages", params(("chat" = String, Path)),
    responses((status = 200, body = Thread), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn thread(State(state): State<AppState>, Path(chat): Path<String>) -> ApiResult<Json<Thread>> {
    let id = chat_id(&chat)?;
    Ok(Json(blocking(&state, move |core| core.thread(id)).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BranchIn {
    message_id: String,
}

/// Shows the branch that goes through a message (the `<`/`>` switcher).
#[utoipa::path(post, path = "/api/v1/chats/{chat}/branch", tag = "messages", request_body = BranchIn, params(("chat" = String, Path)),
    responses((status = 200, body = Thread), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn switch_branch(
    State(state): State<AppState>,
    Path(chat): Path<String>,
    ApiJson(b): ApiJson<BranchIn>,
) -> ApiResult<Json<Thread>> {
    let id = chat_id(&chat)?;
    let message = message_id(&b.message_id)?;
    Ok(Json(blocking(&state, move |core| core.switch_branch(id, message)).await?))
}
