//! Workflows and their runs under `/api/v1` (docs/workflows.md): CRUD, validate, import,
//! export, starting runs, reading them, following their events (SSE, resumable) and
//! cancelling them. Runs belong to [`hearth_core::workflow::WorkflowRuns`], not to the request
//! that started them.

pub(crate) mod as_model;

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use hearth_core::workflow::RunSource;
use hearth_types::{Edge, Graph, NewWorkflow, Node, Run, RunDetail, RunId, Workflow, WorkflowId, WorkflowPatch};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio_stream::StreamExt as _;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult, ErrorBody, ProblemOut};
use crate::{ApiJson, AppState, blocking};

fn workflow_id(s: &str) -> ApiResult<WorkflowId> {
    Ok(WorkflowId::parse_field(s, "workflow_id")?)
}

fn run_id(s: &str) -> ApiResult<RunId> {
    Ok(RunId::parse_field(s, "run_id")?)
}

/// A workflow's fields; on create, `name` is required and the rest default to empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkflowIn {
    name: Option<String>,
    description: Option<String>,
    nodes: Option<Vec<Node>>,
    edges: Option<Vec<Edge>>,
}

impl WorkflowIn {
    /// The graph, when nodes or edges are given (a missing half is taken from `current`).
    fn graph(&mut self, current: Option<&Graph>) -> Option<Graph> {
        if self.nodes.is_none() && self.edges.is_none() {
            return None;
        }
        let fallback = current.cloned().unwrap_or_default();
        Some(Graph { nodes: self.nodes.take().unwrap_or(fallback.nodes), edges: self.edges.take().unwrap_or(fallback.edges) })
    }
}

#[utoipa::path(get, path = "/api/v1/workflows", operation_id = "list_workflows", tag = "workflows", responses((status = 200, body = Vec<Workflow>)))]
pub(crate) async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<Workflow>>> {
    Ok(Json(blocking(&state, |core| core.workflows()).await?))
}

/// Stores a workflow. A draft with problems is stored too: validation runs before a run.
#[utoipa::path(post, path = "/api/v1/workflows", operation_id = "create_workflow", tag = "workflows", request_body = WorkflowIn,
    responses((status = 201, body = Workflow)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    ApiJson(mut fields): ApiJson<WorkflowIn>,
) -> ApiResult<(StatusCode, Json<Workflow>)> {
    let name = fields.name.clone().ok_or_else(|| ApiError::invalid("name", "is required"))?;
    let new =
        NewWorkflow { name, description: fields.description.clone().unwrap_or_default(), graph: fields.graph(None).unwrap_or_default() };
    Ok((StatusCode::CREATED, Json(blocking(&state, move |core| core.create_workflow(&new)).await?)))
}

#[utoipa::path(get, path = "/api/v1/workflows/{workflow}", operation_id = "get_workflow", tag = "workflows", params(("workflow" = String, Path)),
    responses((status = 200, body = Workflow), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(State(state): State<AppState>, Path(workflow): Path<String>) -> ApiResult<Json<Workflow>> {
    let id = workflow_id(&workflow)?;
    Ok(Json(blocking(&state, move |core| core.workflow(id)).await?))
}

/// Changes any of `name`, `description`, `nodes`, `edges`.
#[utoipa::path(patch, path = "/api/v1/workflows/{workflow}", operation_id = "update_workflow", tag = "workflows", params(("workflow" = String, Path)),
    request_body = WorkflowIn, responses((status = 200, body = Workflow), (status = 404, body = ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(workflow): Path<String>,
    ApiJson(mut fields): ApiJson<WorkflowIn>,
) -> ApiResult<Json<Workflow>> {
    let id = workflow_id(&workflow)?;
    Ok(Json(
        blocking(&state, move |core| {
            let current = core.workflow(id)?;
            let patch = WorkflowPatch {
                name: fields.name.take(),
                description: fields.description.take(),
                graph: fields.graph(Some(&current.graph)),
            };
            core.update_workflow(id, &patch)
        })
        .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/workflows/{workflow}", operation_id = "delete_workflow", tag = "workflows", params(("workflow" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(State(state): State<AppState>, Path(workflow): Path<String>) -> ApiResult<StatusCode> {
    let id = workflow_id(&workflow)?;
    blocking(&state, move |core| core.delete_workflow(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A definition to check.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct GraphIn {
    #[serde(default)]
    nodes: Vec<Node>,
    #[serde(default)]
    edges: Vec<Edge>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Validation {
    valid: bool,
    problems: Vec<ProblemOut>,
}

/// Every problem of a definition (`valid` when there is none).
#[utoipa::path(post, path = "/api/v1/workflows/validate", operation_id = "validate_workflow", tag = "workflows", request_body = GraphIn,
    responses((status = 200, body = Validation)))]
pub(crate) async fn validate(State(state): State<AppState>, ApiJson(graph): ApiJson<GraphIn>) -> ApiResult<Json<Validation>> {
    let graph = Graph { nodes: graph.nodes, edges: graph.edges };
    let problems = state.core.validate_workflow(&graph);
    Ok(Json(Validation { valid: problems.is_empty(), problems: problems.iter().map(ProblemOut::from).collect() }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct ImportQuery {
    /// A name instead of the file's own.
    name: Option<String>,
}

/// Imports a definition: the canonical format, a React Flow export or the simple format.
/// One with problems is refused with all of them (`error.problems`).
#[utoipa::path(post, path = "/api/v1/workflows/import", operation_id = "import_workflow", tag = "workflows", params(ImportQuery), request_body = Object,
    responses((status = 201, body = Workflow), (status = 400, body = ErrorBody)))]
pub(crate) async fn import(
    State(state): State<AppState>,
    Query(query): Query<ImportQuery>,
    ApiJson(definition): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<Workflow>)> {
    let name = query.name.filter(|n| !n.trim().is_empty());
    let created = blocking(&state, move |core| core.import_workflow(&definition, name.as_deref())).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The canonical definition, as a file.
#[utoipa::path(get, path = "/api/v1/workflows/{workflow}/export", operation_id = "export_workflow", tag = "workflows", params(("workflow" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub(crate) async fn export(State(state): State<AppState>, Path(workflow): Path<String>) -> ApiResult<Response> {
    let id = workflow_id(&workflow)?;
    let workflow = blocking(&state, move |core| core.workflow(id)).await?;
    let file: String = workflow.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    let disposition = format!("attachment; filename=\"{}.json\"", if file.is_empty() { "workflow" } else { &file });
    Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(hearth_core::workflow::export(&workflow))).into_response())
}

/// A run to start.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunIn {
    /// The start node's inputs, by name.
    #[serde(default)]
    #[schema(value_type = Object)]
    inputs: Map<String, Value>,
    /// Answer when the run has finished (200 with its node records) instead of at once (202).
    #[serde(default)]
    wait: bool,
}

/// Starts a run. It goes on in the background (follow `/api/v1/runs/{id}/events`) unless
/// `wait` is set.
#[utoipa::path(post, path = "/api/v1/workflows/{workflow}/runs", operation_id = "start_run", tag = "workflows", params(("workflow" = String, Path)),
    request_body = RunIn,
    responses((status = 202, body = Run), (status = 200, body = RunDetail, description = "with `wait`: the finished run"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn start_run(
    State(state): State<AppState>,
    Path(workflow): Path<String>,
    ApiJson(body): ApiJson<RunIn>,
) -> ApiResult<Response> {
    let id = workflow_id(&workflow)?;
    let runs = state.workflows.clone();
    let inputs = body.inputs;
    // Start reads and writes the database: a blocking thread, inside the runtime (it spawns).
    let handle = tokio::runtime::Handle::current();
    let run = tokio::task::spawn_blocking(move || {
        let _enter = handle.enter();
        runs.start(RunSource::Stored(id), &inputs)
    })
    .await
    .map_err(ApiError::internal)??;
    if body.wait {
        let detail = state.workflows.wait(run.id).await?;
        return Ok(Json(detail).into_response());
    }
    Ok((StatusCode::ACCEPTED, Json(run)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct RunsQuery {
    /// At most this many (default 50).
    limit: Option<u32>,
}

/// A workflow's runs, newest first.
#[utoipa::path(get, path = "/api/v1/workflows/{workflow}/runs", operation_id = "list_runs", tag = "workflows", params(("workflow" = String, Path), RunsQuery),
    responses((status = 200, body = Vec<Run>), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_runs(
    State(state): State<AppState>,
    Path(workflow): Path<String>,
    Query(q): Query<RunsQuery>,
) -> ApiResult<Json<Vec<Run>>> {
    let id = workflow_id(&workflow)?;
    let runs = state.workflows.clone();
    Ok(Json(tokio::task::spawn_blocking(move || runs.runs(Some(id), q.limit.unwrap_or(50))).await.map_err(ApiError::internal)??))
}

/// A run with its node records.
#[utoipa::path(get, path = "/api/v1/runs/{run}", operation_id = "get_run", tag = "workflows", params(("run" = String, Path)),
    responses((status = 200, body = RunDetail), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_run(State(state): State<AppState>, Path(run): Path<String>) -> ApiResult<Json<RunDetail>> {
    let id = run_id(&run)?;
    let runs = state.workflows.clone();
    Ok(Json(tokio::task::spawn_blocking(move || runs.run(id)).await.map_err(ApiError::internal)??))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct EventsQuery {
    /// Only events after this seq (the `Last-Event-ID` header wins when both are given).
    after: Option<u64>,
}

/// The run's events as server-sent events (`id:` the seq, `event:` the type, `data:` the
/// event); what happened after `Last-Event-ID` first, then live; ends after `run_finished`.
#[utoipa::path(get, path = "/api/v1/runs/{run}/events", operation_id = "run_events", tag = "workflows", params(("run" = String, Path), EventsQuery),
    responses((status = 200, content((crate::SseEvent = "text/event-stream"))), (status = 404, body = ErrorBody)))]
pub(crate) async fn events(
    State(state): State<AppState>,
    Path(run): Path<String>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = run_id(&run)?;
    let after = match headers.get("last-event-id") {
        None => q.after.unwrap_or(0),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| ApiError::invalid("Last-Event-ID", "must be an event id (a number)"))?,
    };
    let runs = state.workflows.clone();
    let stream = tokio::task::spawn_blocking(move || runs.events(id, after)).await.map_err(ApiError::internal)??;
    let stream = stream.map(|e| {
        let data = serde_json::to_string(&e).expect("events are plain JSON");
        Ok::<_, Infallible>(Event::default().id(e.seq.to_string()).event(e.kind.name()).data(data))
    });
    // A server shutting down ends open streams; a client resumes with Last-Event-ID.
    let stream = futures_util::StreamExt::take_until(stream, state.closing.clone().cancelled_owned());
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

/// Stops a running run; it ends `cancelled`. A finished run is left as it is.
#[utoipa::path(post, path = "/api/v1/runs/{run}/cancel", operation_id = "cancel_run", tag = "workflows", params(("run" = String, Path)),
    responses((status = 202, description = "cancelling"), (status = 404, body = ErrorBody)))]
pub(crate) async fn cancel(State(state): State<AppState>, Path(run): Path<String>) -> ApiResult<StatusCode> {
    let id = run_id(&run)?;
    let runs = state.workflows.clone();
    tokio::task::spawn_blocking(move || runs.cancel(id)).await.map_err(ApiError::internal)??;
    Ok(StatusCode::ACCEPTED)
}

/// A secret http nodes can put in a header as `{{secret:NAME}}`: its name and the one origin
/// it is sent to, never its value.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SecretOut {
    name: String,
    origin: String,
}

impl From<hearth_core::workflow::WorkflowSecret> for SecretOut {
    fn from(s: hearth_core::workflow::WorkflowSecret) -> Self {
        Self { name: s.name, origin: s.origin }
    }
}

/// The workflow secrets set on this device.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SecretList {
    secrets: Vec<SecretOut>,
}

/// A secret's value and the origin (a URL: its scheme, host and port) it may be sent to. The
/// value goes to the OS keychain and is never answered back.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecretIn {
    value: String,
    origin: String,
}

impl std::fmt::Debug for SecretIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretIn").field("origin", &self.origin).finish_non_exhaustive()
    }
}

/// The workflow secrets set on this device: names and origins, never values.
#[utoipa::path(get, path = "/api/v1/secrets", operation_id = "list_secrets", tag = "workflows",
    responses((status = 200, body = SecretList), (status = 503, description = "the keychain cannot be used", body = ErrorBody)))]
pub(crate) async fn list_secrets(State(state): State<AppState>) -> ApiResult<Json<SecretList>> {
    let all = blocking(&state, |core| core.workflow_secrets()).await?;
    Ok(Json(SecretList { secrets: all.into_iter().map(SecretOut::from).collect() }))
}

/// Sets a workflow secret for one origin: the value goes to the OS keychain; headers of
/// requests to that origin name it `{{secret:NAME}}`.
#[utoipa::path(put, path = "/api/v1/secrets/{name}", operation_id = "set_secret", tag = "workflows", params(("name" = String, Path)),
    request_body = SecretIn,
    responses((status = 200, body = SecretOut), (status = 400, body = ErrorBody), (status = 503, description = "the keychain cannot be used", body = ErrorBody)))]
pub(crate) async fn set_secret(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(input): ApiJson<SecretIn>,
) -> ApiResult<Json<SecretOut>> {
    let secret = hearth_core::Secret::new(input.value);
    let origin = input.origin;
    Ok(Json(blocking(&state, move |core| core.set_workflow_secret(&name, &origin, &secret)).await?.into()))
}

/// Removes a workflow secret.
#[utoipa::path(delete, path = "/api/v1/secrets/{name}", operation_id = "delete_secret", tag = "workflows", params(("name" = String, Path)),
    responses((status = 204, description = "removed"), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_secret(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<StatusCode> {
    blocking(&state, move |core| core.delete_workflow_secret(&name)).await?;
    Ok(StatusCode::NO_CONTENT)
}
