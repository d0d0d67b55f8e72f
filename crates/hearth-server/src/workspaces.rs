//! Workspaces under `/api/v1/workspaces`: list, create, read, change and delete.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hearth_types::{Handle, NewWorkspace, Timezone, Workspace, WorkspacePatch};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::params::workspace_ref;
use crate::{ApiJson, AppState, blocking};

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkspaceFields {
    name: Option<String>,
    handle: Option<String>,
    description: Option<String>,
    tone: Option<String>,
    timezone: Option<String>,
    system_prompt: Option<String>,
    knowledge_base: Option<String>,
    /// An empty string clears it.
    default_model: Option<String>,
    #[schema(value_type = Option<Object>)]
    settings: Option<Map<String, Value>>,
}

impl WorkspaceFields {
    fn patch(self) -> ApiResult<WorkspacePatch> {
        Ok(WorkspacePatch {
            name: self.name,
            handle: self.handle.as_deref().map(Handle::parse).transpose()?,
            description: self.description,
            tone: self.tone,
            timezone: self.timezone.as_deref().map(Timezone::parse).transpose()?,
            system_prompt: self.system_prompt,
            knowledge_base: self.knowledge_base,
            default_model: self.default_model.map(|m| Some(m).filter(|m| !m.is_empty())),
            settings: self.settings,
        })
    }
}

#[utoipa::path(get, path = "/api/v1/workspaces", tag = "workspaces",
    responses((status = 200, body = Vec<Workspace>), (status = 401, body = ErrorBody)))]
pub(crate) async fn list_workspaces(State(state): State<AppState>) -> ApiResult<Json<Vec<Workspace>>> {
    Ok(Json(blocking(&state, |core| core.workspaces()).await?))
}

/// Creates a workspace; `name` and `handle` are required.
#[utoipa::path(post, path = "/api/v1/workspaces", tag = "workspaces", request_body = WorkspaceFields,
    responses((status = 201, body = Workspace), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn create_workspace(
    State(state): State<AppState>,
    ApiJson(fields): ApiJson<WorkspaceFields>,
) -> ApiResult<(StatusCode, Json<Workspace>)> {
    let name = fields.name.clone().ok_or_else(|| ApiError::invalid("name", "is required"))?;
    let handle = fields.handle.clone().ok_or_else(|| ApiError::invalid("handle", "is required"))?;
    let new = NewWorkspace::new(&name, Handle::parse(&handle)?)?.with_fields(fields.patch()?);
    let ws = blocking(&state, move |core| core.create_workspace(&new)).await?;
    Ok((StatusCode::CREATED, Json(ws)))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{workspace}", tag = "workspaces",
    params(("workspace" = String, Path, description = "id or handle")),
    responses((status = 200, body = Workspace), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_workspace(State(state): State<AppState>, Path(ws): Path<String>) -> ApiResult<Json<Workspace>> {
    let ws = workspace_ref(&ws)?;
    Ok(Json(blocking(&state, move |core| core.workspace(&ws)).await?))
}

#[utoipa::path(patch, path = "/api/v1/workspaces/{workspace}", tag = "workspaces", request_body = WorkspaceFields,
    params(("workspace" = String, Path, description = "id or handle")),
    responses((status = 200, body = Workspace), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn update_workspace(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    ApiJson(fields): ApiJson<WorkspaceFields>,
) -> ApiResult<Json<Workspace>> {
    let ws = workspace_ref(&ws)?;
    let patch = fields.patch()?;
    Ok(Json(blocking(&state, move |core| core.update_workspace(&ws, &patch)).await?))
}

/// Deletes a workspace and its chats.
#[utoipa::path(delete, path = "/api/v1/workspaces/{workspace}", tag = "workspaces",
    params(("workspace" = String, Path, description = "id or handle")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_workspace(State(state): State<AppState>, Path(ws): Path<String>) -> ApiResult<StatusCode> {
    let ws = workspace_ref(&ws)?;
    blocking(&state, move |core| core.delete_workspace(&ws)).await?;
    Ok(StatusCode::NO_CONTENT)
}
