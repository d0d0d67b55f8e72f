//! Hearth's embedded HTTP API: OpenAI-compatible `/v1`, the app's own `/api/v1`, `/health`,
//! `/metrics`, `/openapi.json` and `/docs`, for other programs and for Hearth's own UI, which
//! it also serves at `/` (`ui.rs`).
//!
//! The pieces are injected: [`Api::new`] takes Core, the model host and the server's
//! settings; [`Api::router`] is a plain function of them (tests drive it without a socket);
//! [`serve`] takes a bound listener and a shutdown future (the binary picks the port and the
//! signals). Every route but `/health` and the UI's pages needs the bearer token, and requests for other hosts
//! are refused (see `security`). Handlers run Core calls on blocking threads, since SQLite
//! and the model are synchronous.
//!
//! [`serve`] speaks plain HTTP, or HTTPS with a [`Tls`] (`tls.rs`) for a server that other
//! machines reach.
//!
//! Left out here: picking ports, reading environment variables and files (certificates
//! included), storing the token (the CLI does those).

mod chats;
mod docs;
mod error;
mod jobs;
mod knowledge;
mod limits;
mod mcp_servers;
mod messages;
mod metrics;
mod models;
mod openai;
mod params;
mod providers;
mod replies;
mod security;
mod settings;
mod setup;
mod sync;
mod tls;
mod ui;
mod workflows;
mod workspaces;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hearth_core::Core;
use hearth_types::{NewModel, ValidationError};
use serde::de::DeserializeOwned;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, ApiResult};
pub use security::check_cors_origin;
pub use tls::{HANDSHAKE_TIMEOUT, Tls, TlsError};

/// Reads a model file's header into a registration (the CLI hands in `hearth_llama::describe`).
pub type Describe = Arc<dyn Fn(&Path, Option<&str>) -> Result<NewModel, ValidationError> + Send + Sync>;

/// How the server guards itself.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The bearer token every route but `/health` and the UI's pages requires.
    pub token: String,
    /// Host names accepted besides the loopback ones.
    pub allowed_hosts: Vec<String>,
    /// Origins allowed by CORS besides the desktop app's.
    pub cors_origins: Vec<String>,
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// Most model requests in flight at once, for `/v1` and for app replies each; past it,
    /// clients get 429 with `Retry-After` rather than an unbounded queue.
    pub max_in_flight: usize,
    /// Most connections open at once; one more is closed as soon as it is accepted, so a
    /// client that opens and holds many cannot use up the process's file descriptors.
    pub max_connections: usize,
    /// How long a write to a client may wait: a response or stream whose client stops reading
    /// ends after this, instead of holding its connection and its reply's resources for good.
    pub write_timeout: Duration,
}

impl ServerConfig {
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            allowed_hosts: Vec::new(),
            cors_origins: Vec::new(),
            body_limit: 16 << 20,
            max_in_flight: 64,
            max_connections: 512,
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// What every handler reaches.
#[derive(Clone)]
pub(crate) struct AppState {
    core: Arc<Core>,
    /// Every model: the local engine and the providers, behind one router.
    models: Arc<hearth_core::ModelRouter>,
    describe: Describe,
    config: Arc<ServerConfig>,
    metrics: Arc<metrics::Metrics>,
    replies: Arc<replies::Replies>,
    /// Places for the `/v1` model requests and other heavy work (`limits.rs`).
    room: Arc<limits::Room>,
    /// Workflow runs going on in this process.
    workflows: Arc<hearth_core::workflow::WorkflowRuns>,
    /// The default model's download, for a first run without it (`setup.rs`).
    model_fetch: Option<hearth_llm::download::ModelFetch>,
    /// Cancelled when the server shuts down: endless streams (sync status) end with it, so a
    /// graceful stop does not wait out the grace period for them.
    closing: tokio_util::sync::CancellationToken,
}

/// The API: its state and the work it owns (background replies, open streams).
#[derive(Clone)]
pub struct Api {
    state: AppState,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").finish_non_exhaustive()
    }
}

impl Api {
    /// The API over parts assembled elsewhere (`hearth-host`): Core, every model behind one
    /// router, and the workflow runs of this process. The server builds none of them.
    pub fn new(
        core: Arc<Core>,
        models: Arc<hearth_core::ModelRouter>,
        workflows: Arc<hearth_core::workflow::WorkflowRuns>,
        describe: Describe,
        config: ServerConfig,
    ) -> Self {
        let limit = config.max_in_flight;
        let closing = tokio_util::sync::CancellationToken::new();
        let state = AppState {
            workflows,
            models,
            core,
            describe,
            config: Arc::new(config),
            metrics: Arc::new(metrics::Metrics::new()),
            replies: Arc::new(replies::Replies::new(limits::Room::new(limit, closing.clone()))),
            room: Arc::new(limits::Room::new(limit, closing.clone())),
            closing,
            model_fetch: None,
        };
        Self { state }
    }

    /// Serves `/api/v1/models/fetch` with this download of the default model.
    pub fn with_model_fetch(mut self, fetch: hearth_llm::download::ModelFetch) -> Self {
        self.state.model_fetch = Some(fetch);
        self
    }

    /// `/mcp`: Hearth's MCP server over Streamable HTTP (`hearth-mcp`), behind the same
    /// token and Host checks as every route, and an Origin check of its own.
    fn mcp(&self) -> Router<AppState> {
        let state = &self.state;
        let context = hearth_mcp::Context { core: state.core.clone(), models: state.models.clone(), workflows: state.workflows.clone() };
        let service = hearth_mcp::http_service(context, &state.config.allowed_hosts, state.closing.clone());
        Router::new().nest_service("/mcp", service).layer(axum::middleware::from_fn_with_state(state.clone(), security::check_origin))
    }

    /// Every route with its guards.
    pub fn router(&self) -> Router {
        let state = self.state.clone();
        let request_id = HeaderName::from_static("x-request-id");
        let (documented, _) = documented_routes().split_for_parts();
        documented
            // A model name may hold slashes (`provider/model`): the document names this
            // route `/v1/models/{model}` (docs.rs), which axum would match one segment only.
            .route("/v1/models/{*model}", get(openai::models::get_model))
            .merge(ui::routes())
            .merge(self.mcp())
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(axum::middleware::from_fn(error::json_errors))
            // Layers run bottom-up for a request: the id first, then the Host check, CORS,
            // the token, and metrics around the handler.
            .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
            .layer(axum::middleware::from_fn_with_state(state.clone(), security::require_token))
            .layer(security::cors(&state.config.cors_origins))
            .layer(axum::middleware::from_fn_with_state(state.clone(), security::check_host))
            .layer(DefaultBodyLimit::max(state.config.body_limit))
            .layer(TraceLayer::new_for_http().make_span_with(|r: &Request| {
                let id = r.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                tracing::info_span!("request", method = %r.method(), path = %r.uri().path(), request_id = %id)
            }))
            .layer(PropagateRequestIdLayer::new(request_id.clone()))
            .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
            .with_state(state)
    }

    /// Ends every reply and stream in flight (each saves what it has) and waits for the
    /// replies to be stored.
    pub async fn shutdown(&self) {
        // Every reply, stream and held slot has a child of this token.
        self.state.closing.cancel();
        self.state.replies.shutdown().await;
        self.state.workflows.shutdown().await;
        if let Some(fetch) = &self.state.model_fetch {
            fetch.shutdown().await;
        }
    }
}

/// Serves `api` on `listener` (over TLS when `tls` is given) until `shutdown` resolves, then
/// stops accepting, ends the replies and streams in flight with their final events, and waits
/// (up to `grace`) for open connections to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    api: Api,
    tls: Option<Tls>,
    shutdown: impl std::future::Future<Output = ()> + Send,
    grace: Duration,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let router = api.router();
    let (max_connections, write_timeout) = (api.state.config.max_connections.max(1), api.state.config.write_timeout);
    let connections = Arc::new(tokio::sync::Semaphore::new(max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    // A client that opens a connection and sends no request within this time is dropped.
    builder.timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(10)).keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max_connections, "too many connections open; closing a new one");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_write_timeout(Some(write_timeout));
        let stream = Box::pin(stream);
        let service = TowerToHyperService::new(router.clone());
        // Each connection is watched from here on, so a graceful stop waits for it (a
        // handshake in progress included, which its timeout bounds).
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let served = match tls {
                None => watcher.watch(builder.serve_connection(TokioIo::new(stream), service)).await,
                Some(tls) => match tls.accept(stream).await {
                    Ok(stream) => watcher.watch(builder.serve_connection(TokioIo::new(stream), service)).await,
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                },
            };
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: ending replies and streams");
    // Both at once: open connections are told to finish (idle keep-alive ones close now) while
    // the replies and streams in flight are cancelled and saved, which ends their responses.
    let connections = async {
        if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
            tracing::warn!("connections still open after the grace period; closing them");
        }
    };
    tokio::join!(api.shutdown(), connections);
    Ok(())
}

/// Runs a Core call on a blocking thread (SQLite waits must not stall the async workers).
pub(crate) async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Core) -> hearth_core::Result<T> + Send + 'static,
) -> ApiResult<T> {
    let core = state.core.clone();
    // The request's span (with its request id) follows the call onto the blocking thread.
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(|| f(&core))).await.map_err(ApiError::internal)?.map_err(ApiError::from)
}

/// A JSON body, read whatever its `Content-Type` says (scripts often send none; the token,
/// not the content type, is what keeps other web pages out). Malformed JSON, wrong field
/// types and bodies over the limit are answered in the API's error shape.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                error::too_large()
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid", rejection.body_text())
            }
        })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            // The field at fault, as a path (`messages[0].role`); none for the whole body.
            let path = e.path().to_string();
            let param = (path != ".").then_some(path);
            ApiError { param, ..ApiError::new(StatusCode::BAD_REQUEST, "invalid", format!("invalid JSON body: {}", e.inner())) }
        })?;
        de.end().map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid", format!("invalid JSON body: {e}")))?;
        Ok(Self(value))
    }
}

/// One server-sent event as a client's parser yields it: the document's schema for every
/// `text/event-stream` response (OpenAPI 3.1 describes a stream by one event). `data` is
/// JSON text (or `[DONE]` on `/v1`); `event` names it where the route uses names; `id` is the
/// number to resume after with `Last-Event-ID`.
#[derive(Debug, utoipa::ToSchema)]
#[expect(dead_code, reason = "only its OpenAPI schema is used; the streams are written by axum")]
pub(crate) struct SseEvent {
    pub(crate) data: String,
    pub(crate) event: Option<String>,
    pub(crate) id: Option<String>,
    pub(crate) retry: Option<u64>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    /// Always `ok`.
    status: &'static str,
    version: &'static str,
}

/// Liveness; needs no token (as the UI's pages do not).
#[utoipa::path(get, path = "/health", tag = "server", security(()), responses((status = 200, body = Health)))]
pub(crate) async fn health() -> axum::Json<Health> {
    axum::Json(Health { status: "ok", version: env!("CARGO_PKG_VERSION") })
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "server", responses((status = 200, content((String = "text/plain")))))]
pub(crate) async fn metrics_text(State(state): State<AppState>) -> Response {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render()).into_response()
}

/// Every documented route, each registered from its handler's `#[utoipa::path]` (method and
/// path): the router and the OpenAPI document (`docs.rs`) come from this one list, so a route
/// cannot be served undocumented or documented and not served. Handlers that share a path
/// share a `routes!`. Left out, and routed by hand in [`Api::router`]: `GET /v1/models/{model}`
/// (its name may hold slashes; documented in `docs.rs`) and the UI's pages (not API).
fn documented_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(docs::ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(metrics_text))
        .routes(routes!(docs::openapi_json))
        .routes(routes!(docs::page))
        .routes(routes!(openai::models::list_models))
        .routes(routes!(openai::chat::chat_completions))
        .routes(routes!(openai::completions::completions))
        .routes(routes!(openai::embeddings::embeddings))
        .routes(routes!(workspaces::list_workspaces, workspaces::create_workspace))
        .routes(routes!(workspaces::get_workspace, workspaces::update_workspace, workspaces::delete_workspace))
        .routes(routes!(chats::list_chats, chats::create_chat))
        .routes(routes!(chats::get_chat, chats::update_chat, chats::delete_chat))
        .routes(routes!(chats::thread, messages::send))
        .routes(routes!(chats::switch_branch))
        .routes(routes!(messages::edit_message, messages::delete_message))
        .routes(routes!(messages::answer))
        .routes(routes!(messages::siblings))
        .routes(routes!(messages::events))
        .routes(routes!(messages::cancel))
        .routes(routes!(messages::approve))
        .routes(routes!(sync::status))
        .routes(routes!(sync::now))
        .routes(routes!(sync::events))
        .routes(routes!(sync::connect))
        .routes(routes!(sync::login))
        .routes(routes!(sync::logout))
        .routes(routes!(messages::search))
        .routes(routes!(models::list_local_models, models::import_model))
        .routes(routes!(models::set_default_model))
        .routes(routes!(setup::status, setup::start))
        .routes(routes!(setup::cancel))
        .routes(routes!(models::unload_model))
        .routes(routes!(models::remove_model))
        .routes(routes!(models::load_model))
        .routes(routes!(providers::list, providers::add))
        .routes(routes!(providers::presets))
        .routes(routes!(providers::get, providers::update, providers::remove))
        .routes(routes!(providers::set_key, providers::remove_key))
        .routes(routes!(providers::test))
        .routes(routes!(mcp_servers::list))
        .routes(routes!(mcp_servers::put, mcp_servers::patch, mcp_servers::remove))
        .routes(routes!(mcp_servers::tools))
        .routes(routes!(providers::usage))
        .routes(routes!(providers::prices, providers::set_price))
        .routes(routes!(providers::remove_price))
        .routes(routes!(workflows::list, workflows::create))
        .routes(routes!(workflows::validate))
        .routes(routes!(workflows::import))
        .routes(routes!(workflows::get, workflows::update, workflows::delete))
        .routes(routes!(workflows::export))
        .routes(routes!(workflows::list_runs, workflows::start_run))
        .routes(routes!(workflows::get_run))
        .routes(routes!(workflows::events))
        .routes(routes!(workflows::cancel))
        .routes(routes!(workflows::list_secrets))
        .routes(routes!(workflows::set_secret, workflows::delete_secret))
        .routes(routes!(jobs::list))
        .routes(routes!(jobs::get))
        .routes(routes!(jobs::cancel))
        .routes(routes!(jobs::events))
        .routes(routes!(knowledge::list, knowledge::add))
        .routes(routes!(knowledge::upload))
        .routes(routes!(knowledge::get, knowledge::delete))
        .routes(routes!(knowledge::search))
        .routes(routes!(settings::settings))
        .routes(routes!(settings::put_setting))
}

/// The OpenAPI document of every route (served by `docs.rs`).
fn openapi_document() -> utoipa::openapi::OpenApi {
    documented_routes().into_openapi()
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route (see /docs)")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "invalid", "this route does not take that method (see /docs)")
}
