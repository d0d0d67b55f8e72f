//! `hearth serve` and `hearth token show`: the HTTP API on loopback and its bearer token.
//!
//! The token is `HEARTH_API_TOKEN` when set; otherwise it is made at first start (32 random
//! bytes, hex) and kept in the OS keychain, one per data directory; never in SQLite (see
//! `api_token` for the one exception, a keychain that forgets at reboot).

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use hearth_core::Core;
use hearth_server::{Api, ServerConfig};
use hearth_types::ModelSource;

use crate::cli::{CmdResult, Failure};
use crate::models::{ensure_default_model, local_engine};
use crate::output::Output;

/// Where the token is kept when the keychain forgets at reboot (and where versions before the
/// keychain kept it; it moves into the keychain when found).
const TOKEN_FILE: &str = "api-token";

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on; anything but loopback needs --allow-remote
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on (0 picks a free one)
    #[arg(long, env = "HEARTH_PORT", default_value_t = 7337)]
    port: u16,
    /// Allow listening on a non-loopback address (other machines can then reach the API)
    #[arg(long)]
    allow_remote: bool,
    /// Another host name requests may be addressed to (repeatable)
    #[arg(long = "allowed-host", value_name = "NAME")]
    allowed_hosts: Vec<String>,
    /// A web origin allowed to call the API from a browser (repeatable)
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
    /// Requests the local engine decodes together
    #[arg(long, default_value_t = 4)]
    slots: u32,
    /// Context length per request [default: what the model and memory allow]
    #[arg(long, value_name = "TOKENS")]
    context: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Print the API token (made now if there is none yet)
    Show,
}

pub(crate) fn token(cmd: TokenCommand, core: &Core, data_dir: &Path, out: &Output) -> CmdResult {
    match cmd {
        TokenCommand::Show => {
            let token = api_token(core, data_dir)?;
            out.show(&serde_json::json!({ "token": token }), || token.clone());
        }
    }
    Ok(())
}

/// `HEARTH_API_TOKEN`, else the keychain's token for this data directory, else a new one
/// kept there. A token file left by an earlier version moves into the keychain.
///
/// The kernel keyutils store (Linux without a Secret Service) forgets at reboot, and where no
/// persistent keyring is reachable, between processes: a token that changed under the user's
/// scripts would be worse than a file only they can read, so there it stays in
/// `<data dir>/api-token` (0600), and `hearth doctor` says so. Provider keys never do.
fn api_token(core: &Core, data_dir: &Path) -> Result<String, Failure> {
    if let Ok(t) = std::env::var("HEARTH_API_TOKEN")
        && !t.trim().is_empty()
    {
        return Ok(t.trim().to_owned());
    }
    let secrets = core.secrets().map_err(with_hint)?;
    let file = data_dir.join(TOKEN_FILE);
    if !keeps_across_reboots(secrets.backend()) {
        return Ok(file_token(&file)?);
    }
    let entry = token_entry(data_dir)?;
    let stored = || -> Result<Option<String>, Failure> {
        let found = secrets.get(&entry).map_err(|e| with_hint(e.into()))?;
        Ok(found.map(|s| s.expose().to_owned()))
    };
    if let Some(token) = stored()? {
        return Ok(token);
    }
    let token = match std::fs::read_to_string(&file) {
        Ok(t) if !t.trim().is_empty() => t.trim().to_owned(),
        _ => format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()),
    };
    secrets.set(&entry, &hearth_core::Secret::new(token.clone())).map_err(|e| with_hint(e.into()))?;
    // Two first starts racing both write: whichever landed last is the token, for both.
    let kept = stored()?.unwrap_or(token);
    if file.exists() {
        std::fs::remove_file(&file).with_context(|| format!("removing {} after moving it into the keychain", file.display()))?;
        tracing::info!("moved the API token from its file into the keychain");
    }
    Ok(kept)
}

/// Whether a keychain backend keeps secrets across reboots (keyutils does not).
pub(crate) fn keeps_across_reboots(backend: &str) -> bool {
    backend != "keyutils"
}

/// The keychain entry of this data directory's API token (each data directory, each
/// `hearth serve`, has its own).
fn token_entry(data_dir: &Path) -> Result<String, Failure> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let dir = data_dir.canonicalize().with_context(|| format!("resolving {}", data_dir.display()))?;
    Ok(format!("api-token:{}", dir.display()))
}

/// A keychain failure, with what to do about it.
fn with_hint(e: hearth_core::Error) -> Failure {
    Failure::Other(anyhow::anyhow!("{e}; the API token lives in the OS keychain (or set HEARTH_API_TOKEN)"))
}

/// The token in its file, made now if there is none.
fn file_token(path: &Path) -> anyhow::Result<String> {
    let read = || match std::fs::read_to_string(path) {
        Ok(t) if !t.trim().is_empty() => Ok(Some(t.trim().to_owned())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading the API token from {}", path.display())),
    };
    if let Some(token) = read()? {
        return Ok(token);
    }
    let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    match create_private(path, &token) {
        Ok(()) => Ok(token),
        // Another process (the desktop app, `hearth token show`) made one first: use that.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read()?.context("the API token file is empty"),
        Err(e) => Err(e).with_context(|| format!("storing the API token in {}", path.display())),
    }
}

/// Creates a file only its owner can read, complete or not at all, and never over an
/// existing one: written under a unique name, then linked into place (which fails if the
/// name exists).
fn create_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("{}.tmp", uuid::Uuid::new_v4().simple()));
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    let written = file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    written
}

pub(crate) fn serve(args: ServeArgs, core: Arc<Core>, data_dir: &Path, default_model: &Path) -> CmdResult {
    if !args.host.is_loopback() && !args.allow_remote {
        return Err(Failure::Core(
            hearth_types::ValidationError::new(
                "host",
                format!("{} is not a loopback address; pass --allow-remote to listen on it", args.host),
            )
            .into(),
        ));
    }
    if !args.host.is_loopback() {
        eprintln!("hearth: WARNING: listening on {}: other machines can reach this API (it still needs the token)", args.host);
    }
    ensure_default_model(&core, default_model)?;
    let token = api_token(&core, data_dir)?;
    let config = ServerConfig { allowed_hosts: args.allowed_hosts, cors_origins: args.cors_origins, ..ServerConfig::new(token) };
    let engine_config = hearth_llama::EngineConfig { slots: args.slots.max(1), context_per_slot: args.context, ..Default::default() };
    let engine = Arc::new(local_engine(core.clone(), engine_config));
    let describe: hearth_server::Describe = Arc::new(|path: &Path, name: Option<&str>| {
        hearth_llama::describe(path, name, ModelSource::Import).map_err(|e| hearth_types::ValidationError::new("path", e.to_string()))
    });
    // Sync runs beside the API while it serves (idle, with no requests, until connected).
    let sync = core.sync().map_err(|e| tracing::warn!(error = %e, "sync cannot start")).ok();
    let api = Api::new(core, engine, describe, config);

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(async move {
        let addr = SocketAddr::new(args.host, args.port);
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
        let local = listener.local_addr()?;
        tracing::info!(%local, "serving the API");
        // Scripts and tests wait for this line; it is printed only once connections are accepted.
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "hearth: listening on http://{local}")?;
        stdout.flush()?;
        drop(stdout);
        let (stop_sync, stopped) = tokio::sync::watch::channel(false);
        let sync_loop = sync.map(|engine| tokio::spawn(engine.run(stopped)));
        hearth_server::serve(listener, api, shutdown_signal(), Duration::from_secs(10)).await?;
        let _ = stop_sync.send(true);
        if let Some(task) = sync_loop {
            let _ = task.await;
        }
        tracing::info!("stopped");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("installing the SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
