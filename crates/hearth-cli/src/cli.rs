//! The command line: clap definitions, global options, and dispatch to the commands.
//!
//! Commands end in a [`Failure`] (`failure.rs`), whose exit code `report` returns.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::failure::{CmdResult, EXIT_CODES, Failure};
use crate::output::Output;
use crate::{commands, doctor, knowledge, models, providers, serve, sync};

#[derive(Debug, Parser)]
#[command(name = "hearth", version, about = "Hearth: a local-first AI assistant.", after_help = EXIT_CODES)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Where Hearth keeps its database, backups and logs [default: the platform data directory]
    #[arg(long, global = true, env = "HEARTH_DATA_DIR", value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Print machine-readable JSON instead of text
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Log level or filter (error, warn, info, debug, trace, or a RUST_LOG-style filter)
    #[arg(long, global = true, value_name = "LEVEL")]
    pub(crate) log_level: Option<String>,
    /// The default model's file [default: <data dir>/models/SmolLM2-135M-Instruct.Q4_1.gguf]
    #[arg(long, global = true, env = "HEARTH_DEFAULT_MODEL", value_name = "PATH")]
    pub(crate) default_model: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Report versions, the data directory, the database's health and which real parts are present
    Doctor(doctor::DoctorArgs),
    /// Create, list, change and delete workspaces
    #[command(subcommand, visible_alias = "ws")]
    Workspaces(commands::WorkspacesCommand),
    /// Create, list, show, change and delete chats
    #[command(subcommand)]
    Chats(commands::ChatsCommand),
    /// Add, edit and delete messages in a chat
    #[command(subcommand)]
    Messages(commands::MessagesCommand),
    /// Search all messages (best matches first)
    Search(commands::SearchArgs),
    /// Manage local GGUF models
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Ask a model and stream its reply; the exchange is saved as a chat (works offline)
    Chat(models::ChatArgs),
    /// Remote model providers (OpenAI, Anthropic, Groq, ...) and their keys
    #[command(subcommand)]
    Providers(providers::ProvidersCommand),
    /// Model calls (local and remote) per day, provider and model, with their cost
    Usage(providers::UsageArgs),
    /// Sync with your own Supabase project: connect, login, now, logout, status
    #[command(subcommand)]
    Sync(sync::SyncCommand),
    /// The server side of sync: print it for the SQL editor, or apply it to a database
    #[command(subcommand)]
    Supabase(sync::SupabaseCommand),
    /// Run the HTTP API (OpenAI-compatible /v1 and the app API) on loopback
    Serve(serve::ServeArgs),
    /// The HTTP API's bearer token
    #[command(subcommand)]
    Token(serve::TokenCommand),
    /// Workflows: list, import, export, validate and run them (offline with local models)
    #[command(subcommand, visible_alias = "wf")]
    Workflow(crate::workflows::WorkflowCommand),
    /// A workspace's knowledge: add files and folders, list, remove, search
    #[command(subcommand, visible_alias = "kb")]
    Knowledge(knowledge::KnowledgeCommand),
    /// Background jobs (such as adding knowledge): list, show, cancel
    #[command(subcommand)]
    Jobs(knowledge::JobsCommand),
    /// MCP: Hearth as a server for other agents (`serve`), and the servers Hearth uses (add,
    /// list, rm, tools, call)
    #[command(subcommand)]
    Mcp(crate::mcp::McpCommand),
}

pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    let data_dir = match data_dir(&cli.global) {
        Ok(d) => d,
        Err(e) => return report(&Output::new(cli.global.json), Failure::Other(e)),
    };
    // Logging failures (an unwritable log folder) must not stop the command itself.
    let _guard = hearth_host::logging::init(&data_dir.join("logs"), cli.global.log_level.as_deref());
    let out = Output::new(cli.global.json);
    let default_model = cli.global.default_model.clone().unwrap_or_else(|| hearth_host::default_model_file(&data_dir));
    match run(cli.command, &data_dir, &default_model, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => report(&out, f),
    }
}

fn run(command: Command, data_dir: &Path, default_model: &Path, out: &Output) -> CmdResult {
    let open = || hearth_host::open_core(data_dir);
    match command {
        Command::Doctor(args) => doctor::run(&args, data_dir, default_model, out),
        Command::Models(cmd) => models::models(cmd, &open()?, default_model, out),
        Command::Chat(args) => {
            let core = open()?;
            // Replies search the workspace's knowledge: with the embedding model when it is installed.
            hearth_host::use_embedder_if_present(&core, data_dir, None);
            models::chat(args, Arc::new(core), default_model, out)
        }
        Command::Workspaces(cmd) => commands::workspaces(cmd, &open()?, out),
        Command::Chats(cmd) => commands::chats(cmd, &open()?, out),
        Command::Messages(cmd) => commands::messages(cmd, &open()?, out),
        Command::Search(args) => commands::search(args, &open()?, out),
        Command::Providers(cmd) => providers::run(cmd, &Arc::new(open()?), out),
        Command::Usage(args) => providers::usage(args, &open()?, out),
        Command::Sync(cmd) => sync::run(cmd, &open()?, out),
        Command::Supabase(cmd) => sync::supabase(cmd, out),
        Command::Serve(args) => serve::serve(args, Arc::new(open()?), data_dir, default_model),
        Command::Token(cmd) => serve::token(cmd, &open()?, data_dir, out),
        Command::Workflow(cmd) => crate::workflows::run(cmd, Arc::new(open()?), default_model, out),
        Command::Knowledge(cmd) => knowledge::knowledge(cmd, &Arc::new(open()?), data_dir, out),
        Command::Jobs(cmd) => knowledge::jobs(cmd, &open()?, out),
        Command::Mcp(cmd) => crate::mcp::run(cmd, Arc::new(open()?), data_dir, default_model, out),
    }
}

fn report(out: &Output, failure: Failure) -> ExitCode {
    let code = failure.exit_code();
    match &failure {
        Failure::Core(e) => {
            tracing::debug!(code = e.code().as_str(), "command failed");
            out.error(e.code().as_str(), e.field(), &e.to_string());
        }
        Failure::Interrupted => out.error("interrupted", None, "interrupted; what was done is saved, marked cancelled"),
        Failure::Failed(why) => out.error("failed", None, why),
        Failure::Unavailable(why) => out.error("unavailable", None, why),
        Failure::Unusable(e) => out.error("corrupt", None, &format!("{e:#}")),
        Failure::Other(e) => out.error("internal", None, &format!("{e:#}")),
    }
    ExitCode::from(code)
}

/// `--data-dir`, then `HEARTH_DATA_DIR` (both through clap), then the platform's data folder.
fn data_dir(global: &Global) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &global.data_dir {
        return Ok(dir.clone());
    }
    hearth_host::default_data_dir()
        .ok_or_else(|| anyhow::anyhow!("cannot find a home folder for Hearth's data; pass --data-dir or set HEARTH_DATA_DIR"))
}
