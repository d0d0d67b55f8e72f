//! MCP both ways. Hearth as an MCP server: the user's chats, knowledge, workflows and local
//! models offered as tools to other agents (editors, Claude Desktop, coding agents), over
//! stdio (`hearth mcp serve`) or Streamable HTTP (`/mcp` on the API, behind its token). And
//! Hearth as an MCP client ([`client`]): reaching the servers the user attached (Core keeps
//! their list and secrets) to list and call their tools; [`Hub`] keeps them running while the
//! app runs. And the tools a chat's replies call ([`Toolbox`], Core's `ToolHost`): Hearth's
//! own, which are the same use cases its MCP server offers, and the attached servers'.
//!
//! The protocol is `rmcp`'s (the official Rust SDK); this crate only says what the tools
//! are (`tools.rs`) and how each transport is set up. What the tools do is Core's: each call
//! is one Core use case on a blocking thread, answered as JSON text, and a failure (an
//! unknown chat, a bad workspace) is a tool result marked as an error that says why, so the
//! agent can correct itself; only a malformed call is a protocol error.
//!
//! Read-only by default. Tools that change things (running a workflow, which may call the
//! network) are offered only when the user turns on [`WRITES_SETTING`]; a session reads it
//! when it starts.

pub mod client;
mod hub;
mod toolbox;
mod tools;

use std::sync::Arc;

use hearth_core::workflow::WorkflowRuns;
use hearth_core::{Core, ModelRouter};
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

pub use hearth_core::MCP_WRITES_SETTING as WRITES_SETTING;
pub use hub::Hub;
pub use toolbox::{FETCH_SETTING, Toolbox};
pub use tools::HearthMcp;

/// What the tools reach: Core, every model (the router) and this process's workflow runs.
#[derive(Clone)]
pub struct Context {
    pub core: Arc<Core>,
    pub models: Arc<ModelRouter>,
    pub workflows: Arc<WorkflowRuns>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

/// Why the stdio server stopped early.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the MCP client's handshake failed: {0}")]
    Handshake(String),
    #[error("the MCP session ended with an error: {0}")]
    Session(String),
}

/// Serves one MCP session on stdin and stdout until the client closes it. Nothing else may
/// write to stdout meanwhile (logs go to stderr).
pub async fn serve_stdio(context: Context) -> Result<(), Error> {
    let server = HearthMcp::new(context);
    let running = server.serve(rmcp::transport::stdio()).await.map_err(|e| Error::Handshake(e.to_string()))?;
    running.waiting().await.map_err(|e| Error::Session(e.to_string()))?;
    Ok(())
}

/// The Streamable HTTP endpoint, for the API to mount at `/mcp` behind its token and Host
/// checks. `allowed_hosts` are the names besides loopback the API answers to (rmcp checks
/// Host again); sessions end when `closing` is cancelled.
pub fn http_service(
    context: Context,
    allowed_hosts: &[String],
    closing: CancellationToken,
) -> StreamableHttpService<HearthMcp, LocalSessionManager> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"].into_iter().map(String::from).collect();
    hosts.extend(allowed_hosts.iter().cloned());
    let config = StreamableHttpServerConfig::default().with_allowed_hosts(hosts).with_cancellation_token(closing);
    StreamableHttpService::new(move || Ok(HearthMcp::new(context.clone())), Arc::new(LocalSessionManager::default()), config)
}
