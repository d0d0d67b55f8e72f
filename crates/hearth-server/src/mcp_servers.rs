//! The MCP servers Hearth uses, under `/api/v1/mcp/servers`: list, attach (or replace, by
//! name), detach, and reach one now to list its tools. Secret environment variables and
//! headers go to the keychain (Core); no answer ever holds their values.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hearth_core::{McpServer, McpTransport, NewMcpServer, WorkspaceRef};
use hearth_mcp::client::{self, ToolInfo};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::{ApiJson, AppState, blocking};

/// A server to attach.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct McpServerIn {
    /// `stdio` (a program Hearth starts) or `http` (Streamable HTTP).
    transport: String,
    /// stdio: the program.
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    /// stdio: environment variables besides Hearth's own.
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// http: the URL (https://, or http:// on this machine).
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Secret environment variables (stdio) or headers (http): kept in the OS keychain and
    /// never returned; answers list their names.
    #[serde(default)]
    secrets: BTreeMap<String, String>,
    /// Only this workspace's chats use it (a handle or id).
    workspace: Option<String>,
    #[serde(default = "enabled")]
    enabled: bool,
}

fn enabled() -> bool {
    true
}

/// An attached server.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct McpServerOut {
    name: String,
    /// `stdio` or `http`.
    transport: &'static str,
    command: Option<String>,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    url: Option<String>,
    headers: BTreeMap<String, String>,
    /// The names of its secret environment variables or headers.
    secrets: Vec<String>,
    workspace_id: Option<String>,
    enabled: bool,
    /// How it is doing while the app runs: `starting`, `ready` (with `tools`), `failed`
    /// (with `error` and `attempts`; tried again after a pause) or `disabled`. Absent where no
    /// server is run (a bare API without the app's tools).
    #[schema(value_type = Option<Object>)]
    health: Option<Value>,
}

impl From<McpServer> for McpServerOut {
    fn from(s: McpServer) -> Self {
        let (transport, command, args, env, url, headers) = match s.transport {
            McpTransport::Stdio { command, args, env } => ("stdio", Some(command), args, env, None, BTreeMap::new()),
            McpTransport::Http { url, headers } => ("http", None, Vec::new(), BTreeMap::new(), Some(url), headers),
        };
        Self {
            name: s.name,
            transport,
            command,
            args,
            env,
            url,
            headers,
            secrets: s.secrets,
            workspace_id: s.workspace_id.map(|w| w.to_string()),
            enabled: s.enabled,
            health: None,
        }
    }
}

/// A tool a server offers.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct McpToolOut {
    name: String,
    description: String,
    /// The JSON Schema of its arguments.
    #[schema(value_type = Object)]
    input_schema: Value,
    /// The server says the tool changes nothing (a hint only).
    read_only: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct McpToolsOut {
    tools: Vec<McpToolOut>,
}

#[utoipa::path(get, path = "/api/v1/mcp/servers", tag = "mcp", operation_id = "list_mcp_servers", responses((status = 200, body = Vec<McpServerOut>)))]
pub(crate) async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<McpServerOut>>> {
    let (servers, health) = blocking(&state, |core| Ok((core.mcp_servers()?, core.tool_host().map(|h| h.health())))).await?;
    let out = servers
        .into_iter()
        .map(|s| {
            let of = |h: &Vec<(String, hearth_core::ServerHealth)>| {
                // Listed but not seen yet by the task that runs servers: it is on its way.
                let found = h.iter().find(|(n, _)| *n == s.name).map(|(_, h)| h.clone()).unwrap_or(hearth_core::ServerHealth::Starting);
                serde_json::to_value(found).unwrap_or(Value::Null)
            };
            let health = health.as_ref().map(of);
            McpServerOut { health, ..McpServerOut::from(s) }
        })
        .collect();
    Ok(Json(out))
}

/// Attaches a server under `name`, or replaces the one of that name.
#[utoipa::path(put, path = "/api/v1/mcp/servers/{name}", tag = "mcp", operation_id = "put_mcp_server", request_body = McpServerIn, params(("name" = String, Path)),
    responses((status = 200, body = McpServerOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub(crate) async fn put(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(s): ApiJson<McpServerIn>,
) -> ApiResult<Json<McpServerOut>> {
    let transport = match s.transport.as_str() {
        "stdio" => McpTransport::Stdio {
            command: s.command.ok_or_else(|| ApiError::invalid("command", "a stdio server needs the command that starts it"))?,
            args: s.args,
            env: s.env,
        },
        "http" => {
            McpTransport::Http { url: s.url.ok_or_else(|| ApiError::invalid("url", "an http server needs its URL"))?, headers: s.headers }
        }
        other => return Err(ApiError::invalid("transport", format!("{other:?} is not stdio or http"))),
    };
    let workspace =
        s.workspace.as_deref().map(str::parse::<WorkspaceRef>).transpose().map_err(|e| ApiError::invalid("workspace", e.reason))?;
    let secrets = s.secrets.into_iter().map(|(k, v)| (k, hearth_types::Secret::new(v))).collect();
    let server = blocking(&state, move |core| {
        let server = core.put_mcp_server(NewMcpServer { name, transport, workspace, enabled: s.enabled, secrets })?;
        if let Some(host) = core.tool_host() {
            host.changed();
        }
        Ok(server)
    })
    .await?;
    Ok(Json(server.into()))
}

/// What a PATCH changes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct McpServerPatch {
    enabled: bool,
}

/// Turns a server on or off, keeping everything else (its secrets too; a PUT replaces them).
#[utoipa::path(patch, path = "/api/v1/mcp/servers/{name}", tag = "mcp", operation_id = "patch_mcp_server", request_body = McpServerPatch,
    params(("name" = String, Path)), responses((status = 200, body = McpServerOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn patch(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(p): ApiJson<McpServerPatch>,
) -> ApiResult<Json<McpServerOut>> {
    let server = blocking(&state, move |core| {
        let server = core.set_mcp_server_enabled(&name, p.enabled)?;
        if let Some(host) = core.tool_host() {
            host.changed();
        }
        Ok(server)
    })
    .await?;
    Ok(Json(server.into()))
}

#[utoipa::path(delete, path = "/api/v1/mcp/servers/{name}", tag = "mcp", operation_id = "remove_mcp_server", params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn remove(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<StatusCode> {
    blocking(&state, move |core| {
        core.remove_mcp_server(&name)?;
        if let Some(host) = core.tool_host() {
            host.changed();
        }
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reaches the server now (starting it, for stdio) and lists its tools. A server that cannot
/// be started or reached, or does not answer within 30 s, is a 502 `upstream` saying why.
#[utoipa::path(get, path = "/api/v1/mcp/servers/{name}/tools", tag = "mcp", operation_id = "list_mcp_server_tools", params(("name" = String, Path)),
    responses((status = 200, body = McpToolsOut), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub(crate) async fn tools(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<McpToolsOut>> {
    let launch = blocking(&state, move |core| core.mcp_launch(&name)).await?;
    let limit = Duration::from_secs(30);
    let listed: Result<Vec<ToolInfo>, client::ClientError> = async {
        let connection = client::connect(&launch, limit).await?;
        let tools = connection.tools(limit).await;
        connection.close().await;
        tools
    }
    .await;
    let tools = listed.map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "upstream", e.to_string()))?;
    let tools = tools
        .into_iter()
        .map(|t| McpToolOut { name: t.name, description: t.description, input_schema: t.input_schema, read_only: t.read_only })
        .collect();
    Ok(Json(McpToolsOut { tools }))
}
