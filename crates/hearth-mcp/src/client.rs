//! Hearth as an MCP client: reaching a server the user attached ([`McpLaunch`]), listing its
//! tools and calling them, each step with a time limit.
//!
//! A stdio server is a child process (killed when the connection is dropped); what it writes
//! on stderr is kept (the last lines), so a server that fails to start says why. Whatever a
//! server does (never answers its handshake, exits, writes malformed JSON-RPC, answers a call
//! with megabytes) ends as a [`ClientError`] or a capped [`ToolOutcome`], never a hang.

use std::collections::{HashMap, VecDeque};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth_core::{McpLaunch, McpTransport};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use serde_json::{Map, Value};
use tokio::io::AsyncBufReadExt as _;

/// How long a server may take to answer its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a tool call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The most text of a tool's answer that is kept; the rest is cut, and the answer says so.
pub const MAX_RESULT_BYTES: usize = 256 * 1024;
/// How many of a stdio server's last stderr lines are kept for error messages, and how much
/// of each.
const STDERR_LINES: usize = 20;
const STDERR_LINE_BYTES: usize = 512;
/// The environment variables of Hearth's own that a stdio server gets (besides its own).
const PASSED_ENV: &[&str] =
    &["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TERM", "SHELL", "XDG_RUNTIME_DIR"];

/// Why a server could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("MCP server {server:?}: {command:?} could not be started ({reason})")]
    Spawn { server: String, command: String, reason: String },
    #[error("MCP server {server:?} did not complete its handshake: {reason}{stderr}")]
    Handshake { server: String, reason: String, stderr: String },
    #[error("MCP server {server:?} did not answer {what} within {} s{stderr}", limit.as_secs())]
    Timeout { server: String, what: &'static str, limit: Duration, stderr: String },
    #[error("MCP server {server:?} failed {what}: {reason}{stderr}")]
    Failed { server: String, what: &'static str, reason: String, stderr: String },
    /// The server exited, or the connection to it dropped: this session is over.
    #[error("MCP server {server:?} stopped during {what}: {reason}{stderr}")]
    Gone { server: String, what: &'static str, reason: String, stderr: String },
}

/// A tool a server offers.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ToolInfo {
    pub name: String,
    pub description: String,
    /// The JSON Schema of its arguments.
    pub input_schema: Value,
    /// The server says it changes nothing (a hint: it never lowers the approval asked).
    pub read_only: bool,
}

/// A tool's answer: its text parts joined (capped at [`MAX_RESULT_BYTES`]), and whether the
/// server marked it as an error.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ToolOutcome {
    pub is_error: bool,
    pub text: String,
    /// The answer was longer than the cap and was cut.
    pub truncated: bool,
}

/// An open session with one server.
pub struct Connection {
    name: String,
    service: RunningService<RoleClient, ClientConfig>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Starts (stdio) or reaches (HTTP) a server and completes the handshake within `limit`.
pub async fn connect(launch: &McpLaunch, limit: Duration) -> Result<Connection, ClientError> {
    let name = launch.name.clone();
    let stderr: Arc<Mutex<VecDeque<String>>> = Arc::default();
    let info = ClientConfig::new(ClientCapabilities::default(), Implementation::new("hearth", env!("CARGO_PKG_VERSION")));
    let started = match &launch.transport {
        McpTransport::Stdio { command, args, env } => {
            // Not Hearth's whole environment (it may hold HEARTH_API_TOKEN or provider keys):
            // what a program needs to run, then the server's own variables.
            let mut cmd = tokio::process::Command::new(command);
            cmd.env_clear();
            for key in PASSED_ENV {
                if let Some(value) = std::env::var_os(key) {
                    cmd.env(key, value);
                }
            }
            cmd.args(args).envs(env).kill_on_drop(true);
            let (transport, err) = TokioChildProcess::builder(cmd).stderr(Stdio::piped()).spawn().map_err(|e| ClientError::Spawn {
                server: name.clone(),
                command: command.clone(),
                reason: e.to_string(),
            })?;
            if let Some(err) = err {
                let lines = stderr.clone();
                // Drained to the end, whatever it holds (an undrained pipe would block the server).
                tokio::spawn(async move {
                    let mut reader = tokio::io::BufReader::new(err);
                    let mut line = Vec::new();
                    while reader.read_until(b'\n', &mut line).await.is_ok_and(|n| n > 0) {
                        let mut text = String::from_utf8_lossy(&line).trim_end().to_owned();
                        line.clear();
                        if text.len() > STDERR_LINE_BYTES {
                            let mut cut = STDERR_LINE_BYTES;
                            while !text.is_char_boundary(cut) {
                                cut -= 1;
                            }
                            text.truncate(cut);
                            text.push('…');
                        }
                        let mut kept = lines.lock().expect("the stderr lock is never poisoned");
                        if kept.len() == STDERR_LINES {
                            kept.pop_front();
                        }
                        kept.push_back(text);
                    }
                });
            }
            tokio::time::timeout(limit, info.serve(transport)).await
        }
        McpTransport::Http { url, headers } => {
            let mut custom = HashMap::new();
            for (key, value) in headers {
                let (Ok(key), Ok(value)) = (key.parse(), value.parse()) else {
                    return Err(ClientError::Handshake {
                        server: name,
                        reason: format!("the header {key:?} cannot be sent"),
                        stderr: String::new(),
                    });
                };
                custom.insert(key, value);
            }
            let config = StreamableHttpClientTransportConfig::with_uri(url.as_str()).custom_headers(custom);
            tokio::time::timeout(limit, info.serve(StreamableHttpClientTransport::from_config(config))).await
        }
    };
    let tail = || stderr_tail(&stderr);
    match started {
        Err(_) => Err(ClientError::Timeout { server: name, what: "its handshake", limit, stderr: tail() }),
        Ok(Err(e)) => Err(ClientError::Handshake { server: name, reason: e.to_string(), stderr: tail() }),
        Ok(Ok(service)) => Ok(Connection { name, service, stderr }),
    }
}

/// The kept stderr lines, as a suffix for an error message.
fn stderr_tail(lines: &Mutex<VecDeque<String>>) -> String {
    let lines = lines.lock().expect("the stderr lock is never poisoned");
    if lines.is_empty() { String::new() } else { format!("; it wrote: {}", lines.iter().cloned().collect::<Vec<_>>().join(" | ")) }
}

impl Connection {
    /// The server's tools.
    pub async fn tools(&self, limit: Duration) -> Result<Vec<ToolInfo>, ClientError> {
        let listed = tokio::time::timeout(limit, self.service.list_all_tools()).await;
        let tools = self.settle(listed, "listing its tools", limit)?;
        Ok(tools
            .into_iter()
            .map(|t| ToolInfo {
                name: t.name.into_owned(),
                description: t.description.map(|d| d.into_owned()).unwrap_or_default(),
                input_schema: Value::Object((*t.input_schema).clone()),
                read_only: t.annotations.and_then(|a| a.read_only_hint).unwrap_or(false),
            })
            .collect())
    }

    /// Calls a tool with `arguments`.
    pub async fn call(&self, tool: &str, arguments: Map<String, Value>, limit: Duration) -> Result<ToolOutcome, ClientError> {
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        let answered = tokio::time::timeout(limit, self.service.call_tool(params)).await;
        if let Ok(Err(e @ (rmcp::ServiceError::TransportClosed | rmcp::ServiceError::TransportSend(_)))) = &answered {
            let stderr = stderr_tail(&self.stderr);
            return Err(ClientError::Gone { server: self.name.clone(), what: "the call", reason: e.to_string(), stderr });
        }
        let result = self.settle(answered, "the call", limit)?;
        let mut text = String::new();
        for content in &result.content {
            // Images, audio and resources are described by their JSON (models read text).
            let part = match content.as_text() {
                Some(t) => t.text.clone(),
                None => serde_json::to_string(content).unwrap_or_default(),
            };
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&part);
        }
        if text.is_empty()
            && let Some(structured) = &result.structured_content
        {
            text = structured.to_string();
        }
        let truncated = text.len() > MAX_RESULT_BYTES;
        if truncated {
            let mut cut = MAX_RESULT_BYTES;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        Ok(ToolOutcome { is_error: result.is_error.unwrap_or(false), text, truncated })
    }

    /// Ends the session (a stdio server's process is stopped).
    pub async fn close(self) {
        let _ = self.service.cancel().await;
    }

    fn settle<T, E: std::fmt::Display>(
        &self,
        outcome: Result<Result<T, E>, tokio::time::error::Elapsed>,
        what: &'static str,
        limit: Duration,
    ) -> Result<T, ClientError> {
        let server = self.name.clone();
        match outcome {
            Err(_) => Err(ClientError::Timeout { server, what, limit, stderr: stderr_tail(&self.stderr) }),
            Ok(Err(e)) => Err(ClientError::Failed { server, what, reason: e.to_string(), stderr: stderr_tail(&self.stderr) }),
            Ok(Ok(value)) => Ok(value),
        }
    }
}
