//! Local models under `/api/v1/models`: list, import a GGUF file, forget, load, unload and
//! pick the default. (`/v1/models`, every model including the providers', is `openai/models.rs`.)

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hearth_llm::ModelHost;
use hearth_types::LocalModel;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::{ApiJson, AppState, blocking};

#[utoipa::path(get, path = "/api/v1/models", tag = "models",
    responses((status = 200, body = Vec<LocalModel>), (status = 401, body = ErrorBody)))]
pub(crate) async fn list_local_models(State(state): State<AppState>) -> ApiResult<Json<Vec<LocalModel>>> {
    Ok(Json(blocking(&state, |core| core.models()).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportIn {
    /// A GGUF file on this machine (it is not copied).
    path: String,
    name: Option<String>,
}

/// Registers a GGUF file after checking its header.
#[utoipa::path(post, path = "/api/v1/models", tag = "models", request_body = ImportIn,
    responses((status = 201, body = LocalModel), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn import_model(
    State(state): State<AppState>,
    ApiJson(i): ApiJson<ImportIn>,
) -> ApiResult<(StatusCode, Json<LocalModel>)> {
    let describe = state.describe.clone();
    let model = blocking(&state, move |core| {
        let new = describe(std::path::Path::new(&i.path), i.name.as_deref())?;
        core.register_model(&new)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(model)))
}

/// Forgets a model; its file stays on disk.
#[utoipa::path(delete, path = "/api/v1/models/{name}", tag = "models", params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(crate) async fn remove_model(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<StatusCode> {
    blocking(&state, move |core| core.remove_model(&name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Loads a model now rather than on its first request.
#[utoipa::path(post, path = "/api/v1/models/{name}/load", tag = "models", params(("name" = String, Path)),
    responses((status = 200, body = LocalModel), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn load_model(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<LocalModel>> {
    let _slot = state.room.take()?;
    let model = blocking(&state, move |core| core.model(&name)).await?;
    let host = state.models.clone();
    let name = model.name.clone();
    let started = std::time::Instant::now();
    tokio::task::spawn_blocking(move || host.load(&name)).await.map_err(ApiError::internal)??;
    state.metrics.observe_load(started.elapsed());
    Ok(Json(model))
}

/// Unloads the loaded model once its requests are done.
#[utoipa::path(post, path = "/api/v1/models/unload", tag = "models", responses((status = 202, description = "unloading")))]
pub(crate) async fn unload_model(State(state): State<AppState>) -> StatusCode {
    let host = state.models.clone();
    let _ = tokio::task::spawn_blocking(move || host.unload()).await;
    StatusCode::ACCEPTED
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DefaultIn {
    name: String,
}

#[utoipa::path(put, path = "/api/v1/models/default", tag = "models", request_body = DefaultIn,
    responses((status = 200, body = LocalModel), (status = 404, body = ErrorBody)))]
pub(crate) async fn set_default_model(State(state): State<AppState>, ApiJson(d): ApiJson<DefaultIn>) -> ApiResult<Json<LocalModel>> {
    Ok(Json(blocking(&state, move |core| core.set_default_model(&d.name)).await?))
}
