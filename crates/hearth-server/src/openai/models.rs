//! `GET /v1/models` and `GET /v1/models/{model}`: the local models and each provider's, in
//! OpenAI's list format.

use axum::Json;
use axum::extract::{Path, State};
use hearth_llm::LlmError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiResult, ErrorBody};
use crate::{AppState, blocking};

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
