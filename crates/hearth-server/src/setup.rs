//! `/api/v1/models/fetch`: the first run's way to a model. The UI polls the status, starts
//! (or resumes) the download of the default model and can cancel it; the download itself,
//! its hash checks and its partial files are `hearth_llm::download`'s.
//!
//! A server built without a fetcher (`Api::with_model_fetch` not called, as in tests that
//! bring their own models) answers 404 `not_found` on these routes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hearth_core::ErrorCode;
use hearth_llm::download::{FetchState, FetchStatus, ModelFetch};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ErrorBody;
use crate::{ApiError, ApiResult, AppState, blocking};

/// The model the fetch brings.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CatalogModelOut {
    /// Its registry name once fetched.
    name: String,
    title: String,
    /// Its file name in the models folder.
    file: String,
    /// The size of the download (the archive it is published in).
    download_bytes: u64,
    /// The size of the model file.
    size_bytes: u64,
    /// Where it is downloaded from.
    source: String,
}

/// Where the default model's download stands.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FetchStatusOut {
    model: CatalogModelOut,
    /// `idle`, `downloading`, `verifying` (hash checks and unpacking), `done`, `failed` or `cancelled`.
    state: String,
    /// Bytes downloaded so far, also of a partial download kept for resuming.
    received_bytes: u64,
    total_bytes: u64,
    bytes_per_second: Option<f64>,
    eta_seconds: Option<u64>,
    /// Why the last attempt failed.
    error: Option<String>,
    /// Whether the default model is registered and its file is in place.
    present: bool,
}

fn fetcher(state: &AppState) -> ApiResult<ModelFetch> {
    state.model_fetch.clone().ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "this server does not download models"))
}

async fn status_out(state: &AppState, fetch: &ModelFetch, status: FetchStatus) -> ApiResult<FetchStatusOut> {
    let name = fetch.model().name.to_owned();
    let dest = fetch.dest().to_owned();
    let present = blocking(state, move |core| match core.model(&name) {
        Ok(m) => Ok(m.path.is_file() || dest.is_file()),
        Err(e) if e.code() == ErrorCode::NotFound => Ok(false),
        Err(e) => Err(e),
    })
    .await?;
    let model = fetch.model();
    Ok(FetchStatusOut {
        model: CatalogModelOut {
            name: model.name.into(),
            title: model.title.into(),
            file: model.file.into(),
            download_bytes: model.archive_bytes,
            size_bytes: model.bytes,
            source: hearth_llm::fetch::redact_url(fetch.url()),
        },
        state: match status.state {
            FetchState::Idle => "idle",
            FetchState::Downloading => "downloading",
            FetchState::Verifying => "verifying",
            FetchState::Done => "done",
            FetchState::Failed => "failed",
            FetchState::Cancelled => "cancelled",
        }
        .into(),
        received_bytes: status.received_bytes,
        total_bytes: status.total_bytes,
        bytes_per_second: status.bytes_per_second,
        eta_seconds: status.eta_seconds,
        error: status.error,
        present,
    })
}

/// Where the download of the default model stands, and whether the model is there.
#[utoipa::path(get, path = "/api/v1/models/fetch", tag = "models", operation_id = "model_fetch_status",
    responses((status = 200, body = FetchStatusOut), (status = 404, body = ErrorBody)))]
pub(crate) async fn status(State(state): State<AppState>) -> ApiResult<Json<FetchStatusOut>> {
    let fetch = fetcher(&state)?;
    let status = fetch.status();
    Ok(Json(status_out(&state, &fetch, status).await?))
}

/// Starts the download of the default model, or resumes a partial one; a download already
/// running goes on. The model is registered once its hash is checked.
#[utoipa::path(post, path = "/api/v1/models/fetch", tag = "models", operation_id = "model_fetch_start",
    responses((status = 202, body = FetchStatusOut), (status = 404, body = ErrorBody)))]
pub(crate) async fn start(State(state): State<AppState>) -> ApiResult<(StatusCode, Json<FetchStatusOut>)> {
    let fetch = fetcher(&state)?;
    let status = fetch.start();
    Ok((StatusCode::ACCEPTED, Json(status_out(&state, &fetch, status).await?)))
}

/// Stops the download; what came so far is kept for the next start.
#[utoipa::path(post, path = "/api/v1/models/fetch/cancel", tag = "models", operation_id = "model_fetch_cancel",
    responses((status = 200, body = FetchStatusOut), (status = 404, body = ErrorBody)))]
pub(crate) async fn cancel(State(state): State<AppState>) -> ApiResult<Json<FetchStatusOut>> {
    let fetch = fetcher(&state)?;
    let status = fetch.cancel();
    Ok(Json(status_out(&state, &fetch, status).await?))
}
