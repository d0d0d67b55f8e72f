//! `/api/v1/sync`: where sync with the user's Supabase project stands, a round on demand, a
//! stream of status changes for the UI, and connecting, signing in and out from the UI.
//!
//! A sign-in's password passes through here on its way to the project's auth server (it
//! travels only over loopback, behind the token, as a provider key does) and is kept nowhere:
//! not in SQLite, not in logs; only the session's tokens go to the keychain.

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::WatchStream;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::{ApiJson, AppState};

fn engine(state: &AppState) -> ApiResult<std::sync::Arc<hearth_core::SyncEngine>> {
    Ok(state.core.sync()?)
}

fn sync_error(e: hearth_core::SyncError) -> ApiError {
    hearth_core::Error::from(e).into()
}

/// Pending changes (count, oldest), refused transactions with reasons, last push and pull,
/// last error, the pull cursor, whether signed in, and what the background loop is doing.
#[utoipa::path(get, path = "/api/v1/sync", tag = "sync",
    responses((status = 200, description = "the sync status", body = Object), (status = 401, body = ErrorBody)))]
pub(crate) async fn status(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let status = engine(&state)?.status().await.map_err(sync_error)?;
    Ok(Json(serde_json::to_value(status).map_err(ApiError::internal)?))
}

/// Runs a round now (push, then pull until caught up) and answers when it is done.
#[utoipa::path(post, path = "/api/v1/sync/now", tag = "sync",
    responses((status = 200, description = "what the round did, and the status after it", body = Object),
        (status = 400, description = "not connected or not signed in", body = ErrorBody),
        (status = 429, description = "too many requests in flight", body = ErrorBody),
        (status = 502, description = "the sync server failed or refused", body = ErrorBody),
        (status = 503, description = "the sync server cannot be reached", body = ErrorBody)))]
pub(crate) async fn now(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let _slot = state.room.take()?;
    let engine = engine(&state)?;
    let round = engine.sync_now(&mut |_| {}).await.map_err(sync_error)?;
    let status = engine.status().await.map_err(sync_error)?;
    Ok(Json(json!({ "round": round, "status": status })))
}

/// Server-sent `status` events: the current status at once, then each change.
#[utoipa::path(get, path = "/api/v1/sync/events", tag = "sync", operation_id = "sync_events",
    responses((status = 200, description = "text/event-stream of `status` events"), (status = 401, body = ErrorBody)))]
pub(crate) async fn events(State(state): State<AppState>) -> ApiResult<Response> {
    let engine = engine(&state)?;
    let first = engine.status().await.map_err(sync_error)?;
    let first = tokio_stream::once(Some(first));
    let changes = WatchStream::from_changes(engine.watch());
    let stream = first
        .chain(changes)
        .filter_map(|s| s)
        .map(|s| Ok::<_, Infallible>(Event::default().event("status").data(serde_json::to_string(&s).unwrap_or_else(|_| "{}".into()))));
    // The stream never ends by itself; it ends when the server stops.
    let stream = futures_util::StreamExt::take_until(stream, state.closing.clone().cancelled_owned());
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

/// Which project to sync with: a Supabase project (`url` and `anon_key`), or a PostgREST
/// server and its auth server given apart (`rest_url`, optional `auth_url` and `anon_key`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConnectIn {
    url: Option<String>,
    anon_key: Option<String>,
    rest_url: Option<String>,
    auth_url: Option<String>,
}

/// Connects this device to a project. The same project again keeps the session and cursor;
/// another project starts over there and queues every local row for it.
#[utoipa::path(post, path = "/api/v1/sync/connect", tag = "sync", request_body = ConnectIn,
    responses((status = 200, description = "the sync status", body = Object), (status = 400, body = ErrorBody)))]
pub(crate) async fn connect(State(state): State<AppState>, ApiJson(input): ApiJson<ConnectIn>) -> ApiResult<Json<Value>> {
    let blank = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let (url, rest_url) = (blank(&input.url), blank(&input.rest_url));
    let (anon_key, auth_url) = (blank(&input.anon_key), blank(&input.auth_url));
    let endpoints = match (url, rest_url) {
        (Some(url), None) => {
            let key = anon_key.ok_or_else(|| ApiError::invalid("anon_key", "a Supabase project needs its anon key"))?;
            hearth_core::SyncEndpoints::supabase(&url, &key)
        }
        (None, Some(rest)) => hearth_core::SyncEndpoints::explicit(&rest, auth_url.as_deref(), anon_key.as_deref()),
        _ => return Err(ApiError::invalid("url", "give either a Supabase project's `url` (with `anon_key`) or a `rest_url`")),
    }
    .map_err(sync_error)?;
    let engine = engine(&state)?;
    engine.connect(&endpoints).await.map_err(sync_error)?;
    engine.kick();
    status_of(&engine).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginIn {
    email: String,
    password: String,
    /// Needed only when this device synced for another account before: `keep` leaves the data
    /// here on this device only, `push` sends it to the new account. Without it such a sign-in
    /// is refused with 409 (field `local_data`).
    #[serde(default)]
    local_data: Option<LocalDataIn>,
}

/// What becomes of this device's data when a different account signs in.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum LocalDataIn {
    Keep,
    Push,
}

impl From<LocalDataIn> for hearth_core::SyncLocalData {
    fn from(l: LocalDataIn) -> Self {
        match l {
            LocalDataIn::Keep => Self::Keep,
            LocalDataIn::Push => Self::Push,
        }
    }
}

impl std::fmt::Debug for LoginIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginIn").field("email", &self.email).finish_non_exhaustive()
    }
}

/// Signs in to the connected project with email and password (GoTrue's password grant); the
/// session goes to the keychain and the background loop syncs at once.
#[utoipa::path(post, path = "/api/v1/sync/login", tag = "sync", request_body = LoginIn,
    responses((status = 200, description = "the sync status", body = Object),
        (status = 400, description = "not connected", body = ErrorBody),
        (status = 409, description = "this device syncs for another account: say what becomes of its data (`local_data`)", body = ErrorBody),
        (status = 502, description = "the project refused the email and password (its reason is the message), or failed", body = ErrorBody), (status = 503, description = "the auth server cannot be reached", body = ErrorBody)))]
pub(crate) async fn login(State(state): State<AppState>, ApiJson(input): ApiJson<LoginIn>) -> ApiResult<Json<Value>> {
    let engine = engine(&state)?;
    engine.sign_in(input.email.trim(), &input.password, input.local_data.map(Into::into)).await.map_err(sync_error)?;
    engine.kick();
    status_of(&engine).await
}

/// Signs out: the refresh token is revoked and the session leaves the keychain. Local data
/// and pending changes stay.
#[utoipa::path(post, path = "/api/v1/sync/logout", tag = "sync",
    responses((status = 200, description = "the sync status", body = Object), (status = 400, body = ErrorBody)))]
pub(crate) async fn logout(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let engine = engine(&state)?;
    engine.sign_out().await.map_err(sync_error)?;
    status_of(&engine).await
}

async fn status_of(engine: &hearth_core::SyncEngine) -> ApiResult<Json<Value>> {
    let status = engine.status().await.map_err(sync_error)?;
    Ok(Json(serde_json::to_value(status).map_err(ApiError::internal)?))
}
