//! `hearth serve` and `hearth token show`: the app (API, UI, sync loop; `hearth-host`) on
//! loopback (or, with `--allow-remote` and TLS, another address), and its bearer token.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use hearth_core::Core;
use hearth_host::{Host, Options, TlsFiles};

use crate::failure::{CmdResult, Failure};
use crate::output::Output;

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on; anything but loopback needs --allow-remote
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on (0 picks a free one)
    #[arg(long, env = "HEARTH_PORT", default_value_t = 7337)]
    port: u16,
    /// Allow listening on a non-loopback address (other machines can then reach the API);
    /// needs --tls-cert and --tls-key, since the token must not cross the network in clear
    #[arg(long)]
    allow_remote: bool,
    /// Serve HTTPS with this PEM certificate chain (the server's certificate first)
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
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
    /// Also print the app's address with the token in it, to open in a browser
    #[arg(long)]
    app_link: bool,
    /// Where the app downloads the default model from when asked (a mirror of the published
    /// file; its hash is checked either way) [default: PyPI]
    #[arg(long, env = "HEARTH_MODEL_URL", hide_env_values = true, value_name = "URL")]
    model_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Print the API token (made now if there is none yet)
    Show,
}

pub(crate) fn token(cmd: TokenCommand, core: &Core, data_dir: &Path, out: &Output) -> CmdResult {
    match cmd {
        TokenCommand::Show => {
            let token = hearth_host::api_token(core, data_dir).map_err(host_failure)?;
            out.show(&serde_json::json!({ "token": token }), || token.clone());
        }
    }
    Ok(())
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
        eprintln!("hearth: WARNING: listening on {}: other machines can reach this API (over TLS, with the token)", args.host);
    }
    let options = Options {
        host: args.host,
        port: args.port,
        any_port_if_taken: false,
        allowed_hosts: args.allowed_hosts,
        cors_origins: args.cors_origins,
        engine: hearth_llama::EngineConfig { slots: args.slots, context_per_slot: args.context, ..Default::default() },
        model_url: args.model_url.unwrap_or_else(|| hearth_types::DEFAULT_MODEL.url.to_owned()),
        tls: args.tls_cert.zip(args.tls_key).map(|(cert, key)| TlsFiles { cert, key }),
    };
    let app = Host::new(core, data_dir, default_model, options).map_err(host_failure)?;
    let (app_link, token, scheme) = (args.app_link, app.token().to_owned(), app.scheme());

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = app.bind().await.map_err(host_failure)?;
        let local = listener.local_addr().context("reading the bound address")?;
        tracing::info!(%local, "serving the API");
        // Scripts and tests wait for this line; it is printed only once connections are accepted.
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "hearth: listening on {scheme}://{local}").context("writing to stdout")?;
        if app_link {
            // The page takes the token from the address once and removes it (as Jupyter does).
            writeln!(stdout, "hearth: open the app at {scheme}://{local}/?token={token}").context("writing to stdout")?;
        }
        stdout.flush().context("writing to stdout")?;
        drop(stdout);
        app.serve(listener, shutdown_signal()).await.map_err(host_failure)
    })
}

/// The host's errors as the CLI reports them: Core's with their exit codes, the rest as is.
pub(crate) fn host_failure(e: hearth_host::Error) -> Failure {
    match e {
        hearth_host::Error::Core(e) => Failure::Core(e),
        other => Failure::Other(anyhow::Error::new(other)),
    }
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
