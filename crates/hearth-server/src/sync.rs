//! `/api/v1/sync`: where sync with the user's Supabase project stands, a round on demand, and
//! a stream of status changes for the UI. Connecting and signing in stay with the CLI and the
//! app's settings (a password never travels through this API).

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::WatchStream;

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};

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
        (status = 502, description = "the sync server failed or refused", body = ErrorBody),
        (status = 503, description = "the sync server cannot be reached", body = ErrorBody)))]
pub(crate) async fn now(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let engine = engine(&state)?;
    let round = engine.sync_now(&mut |_| {}).await.map_err(sync_error)?;
    let status = engine.status().await.map_err(sync_error)?;
    Ok(Json(json!({ "round": round, "status": status })))
}

/// Server-sent `status` events: the current status at once, then each change.
#[utoipa::path(get, path = "/api/v1/sync/events", tag = "sync",
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
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}
