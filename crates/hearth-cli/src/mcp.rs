//! `hearth mcp`: MCP both ways. `serve` is Hearth's own MCP server for agents that start it
//! themselves (Claude Desktop, editors, coding agents): MCP on stdin and stdout until the
//! agent closes it; the same tools are on `/mcp` of a running `hearth serve` (docs/api.md).
//! `add`, `list`, `rm`, `tools` and `call` manage the MCP servers Hearth itself uses:
//! `tools` and `call` reach the server now and report what it answers, or why it did not.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use hearth_core::{Core, McpTransport, NewMcpServer, WorkspaceRef};
use hearth_mcp::client;

use crate::failure::{CmdResult, Failure};
use crate::output::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum McpCommand {
    /// Serve Hearth's tools over MCP on stdin and stdout (logs go to stderr); read-only unless
    /// the setting mcp.allow_writes is true
    Serve,
    /// Attach an MCP server (or replace the one of that name): `hearth mcp add NAME -- COMMAND
    /// [ARGS...]` for a program Hearth starts, `--url URL` for one it reaches over HTTP
    Add(AddArgs),
    /// List the attached MCP servers (secret values are never shown)
    #[command(visible_alias = "ls")]
    List,
    /// Detach an MCP server and forget its secrets
    Rm { name: String },
    /// Reach a server now and list its tools
    Tools {
        name: String,
        /// Seconds to wait for each answer
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Reach a server now and call one of its tools with JSON arguments
    Call {
        name: String,
        tool: String,
        /// The arguments, a JSON object
        #[arg(default_value = "{}")]
        arguments: String,
        /// Seconds to wait for each answer
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
}

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    name: String,
    /// A Streamable HTTP server's URL (https://, or http:// on this machine)
    #[arg(long, conflicts_with = "command")]
    url: Option<String>,
    /// An environment variable for a stdio server, NAME=VALUE (repeatable)
    #[arg(long = "env", value_name = "NAME=VALUE")]
    env: Vec<String>,
    /// A request header for an HTTP server, NAME=VALUE (repeatable)
    #[arg(long = "header", value_name = "NAME=VALUE")]
    headers: Vec<String>,
    /// A secret environment variable (stdio) or header (HTTP): its value is read from a prompt
    /// or standard input, one line per secret, and kept in the OS keychain (repeatable)
    #[arg(long = "secret", value_name = "NAME")]
    secrets: Vec<String>,
    /// Only this workspace's chats use it (a handle or id)
    #[arg(long)]
    workspace: Option<String>,
    /// Attach it turned off
    #[arg(long)]
    disabled: bool,
    /// The command that starts a stdio server, and its arguments (after `--`)
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

pub(crate) fn run(command: McpCommand, core: Arc<Core>, data_dir: &Path, default_model: &Path, out: &Output) -> CmdResult {
    match command {
        McpCommand::Serve => serve(core, data_dir, default_model),
        McpCommand::Add(args) => add(args, &core, out),
        McpCommand::List => {
            let servers = core.mcp_servers()?;
            out.show(&servers, || {
                if servers.is_empty() {
                    return "no MCP servers (hearth mcp add NAME -- COMMAND ...)".into();
                }
                let lines: Vec<String> = servers
                    .iter()
                    .map(|s| {
                        let target = match &s.transport {
                            McpTransport::Stdio { command, args, .. } => format!("{command} {}", args.join(" ")).trim_end().to_owned(),
                            McpTransport::Http { url, .. } => url.clone(),
                        };
                        let state = if s.enabled { "" } else { " (off)" };
                        format!("{}{state}\t{target}", s.name)
                    })
                    .collect();
                lines.join("\n")
            });
            Ok(())
        }
        McpCommand::Rm { name } => {
            core.remove_mcp_server(&name)?;
            out.show(&serde_json::json!({ "removed": name }), || format!("removed {name}"));
            Ok(())
        }
        McpCommand::Tools { name, timeout } => {
            let launch = core.mcp_launch(&name)?;
            let limit = Duration::from_secs(timeout.max(1));
            let tools = on_runtime(async move {
                let connection = client::connect(&launch, limit).await?;
                let tools = connection.tools(limit).await;
                connection.close().await;
                tools
            })?;
            out.show(&tools, || tools.iter().map(|t| format!("{}\t{}", t.name, t.description)).collect::<Vec<_>>().join("\n"));
            Ok(())
        }
        McpCommand::Call { name, tool, arguments, timeout } => {
            let arguments: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&arguments)
                .map_err(|e| hearth_types::ValidationError::new("arguments", format!("not a JSON object: {e}")))?;
            let launch = core.mcp_launch(&name)?;
            let limit = Duration::from_secs(timeout.max(1));
            let outcome = on_runtime(async move {
                let connection = client::connect(&launch, limit).await?;
                let outcome = connection.call(&tool, arguments, limit).await;
                connection.close().await;
                outcome
            })?;
            out.show(&outcome, || outcome.text.clone());
            if outcome.is_error {
                return Err(Failure::Failed(format!("the tool answered with an error: {}", outcome.text)));
            }
            Ok(())
        }
    }
}

fn pairs(items: &[String], what: &'static str) -> Result<BTreeMap<String, String>, Failure> {
    items
        .iter()
        .map(|item| match item.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(hearth_types::ValidationError::new(what, format!("{item:?} is not NAME=VALUE")).into()),
        })
        .collect()
}

fn add(args: AddArgs, core: &Core, out: &Output) -> CmdResult {
    let transport = match (&args.url, args.command.split_first()) {
        (Some(url), None) => McpTransport::Http { url: url.clone(), headers: pairs(&args.headers, "header")? },
        (None, Some((command, rest))) => {
            McpTransport::Stdio { command: command.clone(), args: rest.to_vec(), env: pairs(&args.env, "env")? }
        }
        _ => {
            return Err(hearth_types::ValidationError::new("command", "give the command after `--`, or --url for an HTTP server").into());
        }
    };
    let mut secrets = BTreeMap::new();
    for key in &args.secrets {
        let value = crate::prompt::read_hidden(&format!("{key}: "))?;
        secrets.insert(key.clone(), hearth_secrets::Secret::new(value));
    }
    let workspace = args.workspace.as_deref().map(str::parse::<WorkspaceRef>).transpose()?;
    let server = core.put_mcp_server(NewMcpServer { name: args.name, transport, workspace, enabled: !args.disabled, secrets })?;
    out.show(&server, || format!("attached {}", server.name));
    Ok(())
}

/// Runs `work` on a runtime of its own and reports a client error as the command's failure.
fn on_runtime<T>(work: impl std::future::Future<Output = Result<T, client::ClientError>>) -> Result<T, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(anyhow::anyhow!("could not start the runtime: {e}")))?;
    runtime.block_on(work).map_err(|e| Failure::Unavailable(e.to_string()))
}

fn serve(core: Arc<Core>, data_dir: &Path, default_model: &Path) -> CmdResult {
    crate::models::ensure_default_model(&core, default_model)?;
    hearth_host::use_embedder_if_present(&core, data_dir, None);
    let models = crate::models::one_request_models(&core);
    let runtime = crate::models::runs_runtime()?;
    runtime.block_on(async {
        let workflows = hearth_host::workflow_runs(core.clone(), models.clone());
        let context = hearth_mcp::Context { core, models, workflows: workflows.clone() };
        let served = hearth_mcp::serve_stdio(context).await;
        // Runs the session started end with it (each records how it ended).
        workflows.shutdown().await;
        served.map_err(|e| Failure::Failed(e.to_string()))
    })
}
