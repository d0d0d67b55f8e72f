//! `hearth mcp`: Hearth's MCP server for agents that start it themselves (Claude Desktop,
//! editors, coding agents): `hearth mcp serve` speaks MCP on stdin and stdout until the agent
//! closes it. The same tools are on `/mcp` of a running `hearth serve` (see docs/api.md).

use std::path::Path;
use std::sync::Arc;

use clap::Subcommand;
use hearth_core::Core;
use hearth_llama::EngineConfig;

use crate::failure::{CmdResult, Failure};

#[derive(Debug, Subcommand)]
pub(crate) enum McpCommand {
    /// Serve Hearth's tools over MCP on stdin and stdout (logs go to stderr); read-only unless
    /// the setting mcp.allow_writes is true
    Serve,
}

pub(crate) fn run(command: McpCommand, core: Arc<Core>, data_dir: &Path, default_model: &Path) -> CmdResult {
    match command {
        McpCommand::Serve => serve(core, data_dir, default_model),
    }
}

fn serve(core: Arc<Core>, data_dir: &Path, default_model: &Path) -> CmdResult {
    crate::models::ensure_default_model(&core, default_model)?;
    hearth_host::use_embedder_if_present(&core, data_dir, None);
    let engine = hearth_host::local_engine(core.clone(), EngineConfig { slots: 1, ..EngineConfig::default() });
    let models = hearth_host::model_router(core.clone(), Arc::new(engine));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(anyhow::anyhow!("could not start the runtime: {e}")))?;
    runtime.block_on(async {
        let workflows = hearth_host::workflow_runs(core.clone(), models.clone());
        let context = hearth_mcp::Context { core, models, workflows: workflows.clone() };
        let served = hearth_mcp::serve_stdio(context).await;
        // Runs the session started end with it (each records how it ended).
        workflows.shutdown().await;
        served.map_err(|e| Failure::Failed(e.to_string()))
    })
}
