//! Remote providers over HTTP: a [`Remote`] is one configured provider, a [`ChatModel`] like
//! the local engine.
//!
//! The wire formats are pure functions ([`sse`], `openai`, `anthropic`); this module drives
//! them. Requests run on a small tokio runtime of their own ([`HttpRuntime`]), so the blocking
//! [`ChatModel`] interface works from the CLI and from the server's blocking threads alike.
//!
//! What a call does, in order:
//! - the provider's [`Breaker`] may hold it back (after repeated outages);
//! - connect (`connect` timeout), then wait for the answer's headers (`first_byte`);
//! - a 401/403 is a refused key, a 429 is a rate limit (its `Retry-After` honoured), a 5xx an
//!   outage; HTML or a wrong content type is a bad answer (usually a wrong base URL);
//! - the body streams as server-sent events, each gap at most `idle` long;
//! - transient failures are retried with backoff ([`RetryPolicy`]) only while nothing of the
//!   reply has been passed on: once a token has streamed, a failure ends the reply.
//!
//! [`ChatModel::chat`] returns once the answer's headers are in, so a refusal becomes the
//! caller's error (an HTTP status) rather than a failed stream. Cancelling (or dropping the
//! stream) drops the connection. Error texts from providers pass through [`redact`] so that a
//! provider echoing the key back never puts it in a message. A redirect to another scheme,
//! host or port is not followed (the key header would go with it): it fails the call.

mod anthropic;
mod openai;
mod policy;
mod presets;
pub mod sse;

use std::future::Future;
use std::sync::Arc;
use std::sync::mpsc::{Sender, SyncSender};
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use hearth_types::Role;
use hearth_types::Secret;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, LOCATION, RETRY_AFTER};
use serde_json::{Value, json};

pub use policy::{Admit, Breaker, RetryPolicy};
pub use presets::{PRESETS, Preset, Protocol, check_base_url, preset_of, same_origin};

use crate::{
    CancellationToken, ChatEvent, ChatModel, ChatRequest, ChatStream, EmbedInput, Embeddings, FinishReason, LlmError, RemoteFailure,
};

/// A provider's wire format turned into Hearth's events, one server-sent event at a time.
pub(crate) trait ProtocolStream: Send {
    fn event(&mut self, event: sse::SseEvent) -> Result<Vec<ChatEvent>, RemoteFailure>;
    /// The body ended: the last events, or why the reply is incomplete.
    fn end(&mut self) -> Result<Vec<ChatEvent>, RemoteFailure>;
}

pub(crate) fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

/// How long each wait may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// From sending the request to the answer's headers.
    pub first_byte: Duration,
    /// Between two pieces of a streamed answer.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { connect: Duration::from_secs(10), first_byte: Duration::from_secs(60), idle: Duration::from_secs(60) }
    }
}

/// One provider as a caller configured it.
#[derive(Clone, Debug)]
pub struct RemoteConfig {
    /// The provider's name in Hearth, for messages.
    pub name: String,
    pub protocol: Protocol,
    /// The API root, checked with [`check_base_url`].
    pub base_url: String,
    /// Extra headers sent with every request (OpenRouter's `HTTP-Referer`, a gateway's).
    pub headers: Vec<(String, String)>,
    pub key: Option<Secret>,
    pub needs_key: bool,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
}

/// The runtime remote calls run on: one worker thread, started by the first client built
/// over it (most commands never call a provider). The entry point makes one and hands it to
/// Core (`hearth_core::Services`). Dropping it anywhere is safe (it shuts down in the
/// background rather than blocking).
#[derive(Debug, Default)]
pub struct HttpRuntime(std::sync::OnceLock<Result<tokio::runtime::Runtime, String>>);

impl HttpRuntime {
    /// A runtime that starts on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts the runtime unless it runs already; [`Remote::new`] calls it, so a runtime that
    /// cannot start (no threads left) fails building the client, not a call.
    pub fn start(&self) -> Result<(), LlmError> {
        let started = self.0.get_or_init(|| {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).thread_name("hearth-http").enable_all().build();
            rt.map_err(|e| e.to_string())
        });
        started.as_ref().map(|_| ()).map_err(|e| LlmError::Engine(format!("could not start the HTTP runtime: {e}")))
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        match self.0.get() {
            Some(Ok(rt)) => rt.handle(),
            _ => unreachable!("a Remote starts its runtime in Remote::new"),
        }
    }

    /// Runs `future` on the runtime and waits for it. Call from a thread that may block.
    pub fn block_on<T: Send + 'static>(&self, future: impl Future<Output = T> + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle().spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv().expect("the runtime runs its tasks to the end")
    }
}

impl Drop for HttpRuntime {
    fn drop(&mut self) {
        if let Some(Ok(rt)) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// A remote provider.
#[derive(Clone, Debug)]
pub struct Remote {
    inner: Arc<Inner>,
    runtime: Arc<HttpRuntime>,
}

#[derive(Debug)]
struct Inner {
    config: RemoteConfig,
    http: reqwest::Client,
    headers: HeaderMap,
    breaker: Arc<Breaker>,
}

impl Remote {
    /// A provider client. `breaker` is shared by every client of the same provider, so its
    /// health survives a client being rebuilt (a new key, a changed URL).
    pub fn new(config: RemoteConfig, runtime: Arc<HttpRuntime>, breaker: Arc<Breaker>) -> Result<Self, LlmError> {
        runtime.start()?;
        let invalid = |field, reason: String| LlmError::Invalid { field, reason };
        check_base_url(&config.base_url).map_err(|e| invalid("base_url", e))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid("headers", format!("{name:?} is not a header name")))?;
            let value =
                HeaderValue::from_str(value).map_err(|_| invalid("headers", format!("the value of {name} is not a header value")))?;
            headers.insert(name, value);
        }
        if let Some(key) = &config.key {
            let mut insert = |name: &'static str, value: String| -> Result<(), LlmError> {
                let mut value =
                    HeaderValue::from_str(&value).map_err(|_| invalid("key", "the key has characters a header cannot carry".into()))?;
                value.set_sensitive(true);
                headers.insert(name, value);
                Ok(())
            };
            match config.protocol {
                Protocol::OpenAi => insert("authorization", format!("Bearer {}", key.expose()))?,
                Protocol::Anthropic => insert("x-api-key", key.expose().to_owned())?,
            }
        }
        if config.protocol == Protocol::Anthropic {
            headers.insert("anthropic-version", HeaderValue::from_static(anthropic::VERSION));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeouts.connect)
            .user_agent(concat!("hearth/", env!("CARGO_PKG_VERSION")))
            .redirect(same_origin_redirects())
            .build()
            .map_err(|e| LlmError::Engine(format!("could not set up the HTTP client: {e}")))?;
        Ok(Self { inner: Arc::new(Inner { config, http, headers, breaker }), runtime })
    }

    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    /// The provider's models, by the ids its API takes.
    pub fn list_models(&self) -> Result<Vec<String>, LlmError> {
        let inner = self.inner.clone();
        self.runtime.block_on(async move {
            let body = inner.get_json("/models").await.map_err(|f| inner.error(f))?;
            openai::model_ids(&body).map_err(|f| inner.error(f))
        })
    }

    fn check_key(&self) -> Result<(), LlmError> {
        if self.inner.config.needs_key && self.inner.config.key.is_none() {
            return Err(self.inner.error(RemoteFailure::NoKey));
        }
        Ok(())
    }
}

impl ChatModel for Remote {
    fn chat(&self, request: ChatRequest, cancel: CancellationToken) -> Result<ChatStream, LlmError> {
        request.params.validate()?;
        self.check_key()?;
        let (path, body, parser): (_, _, Box<dyn ProtocolStream>) = match self.inner.config.protocol {
            Protocol::OpenAi => ("/chat/completions", openai::chat_body(&request, &request.model), Box::<openai::OpenAiStream>::default()),
            Protocol::Anthropic => {
                ("/messages", anthropic::chat_body(&request, &request.model)?, Box::<anthropic::AnthropicStream>::default())
            }
        };
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let (events_tx, events_rx) = std::sync::mpsc::channel();
        let outlet = Outlet { ready: Some(ready_tx), events: events_tx, first_token: None, started: Instant::now() };
        let inner = self.inner.clone();
        let token = cancel.clone();
        self.runtime.handle().spawn(async move { inner.drive(path, body, parser, token, outlet).await });
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(ChatStream::new(events_rx, cancel)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(LlmError::Engine("the request task ended without an answer".into())),
        }
    }

    fn embed(&self, model: &str, inputs: &[EmbedInput]) -> Result<Embeddings, LlmError> {
        if self.inner.config.protocol != Protocol::OpenAi {
            return Err(LlmError::Unsupported(format!("{} has no embeddings API", self.name())));
        }
        self.check_key()?;
        let input: Vec<Value> = inputs
            .iter()
            .map(|i| match i {
                EmbedInput::Text(t) => json!(t),
                EmbedInput::Tokens(t) => json!(t),
            })
            .collect();
        let body = json!({ "model": model, "input": input, "encoding_format": "float" });
        let inner = self.inner.clone();
        let count = inputs.len();
        self.runtime.block_on(async move {
            let answer = inner.post_json("/embeddings", &body).await.map_err(|f| inner.error(f))?;
            embeddings(&answer, count).map_err(|f| inner.error(f))
        })
    }
}

/// Follows redirects within the provider's origin only (up to reqwest's usual ten). reqwest
/// drops `authorization` on a redirect to another host, but not `x-api-key` or a custom
/// header, so a redirect elsewhere is not followed at all: the 3xx comes back to
/// [`Inner::send`], which fails the call and says where it pointed.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let from = attempt.previous().last().map(reqwest::Url::origin);
        if from.is_some_and(|from| from == attempt.url().origin()) {
            reqwest::redirect::Policy::default().redirect(attempt)
        } else {
            attempt.stop()
        }
    })
}

/// Reads `{"data": [{"index", "embedding"}], "usage": {"prompt_tokens"}}` in input order,
/// normalizing each vector (Hearth's embeddings are unit length, whoever made them).
fn embeddings(answer: &Value, count: usize) -> Result<Embeddings, RemoteFailure> {
    let bad = |what: &str| RemoteFailure::BadResponse(format!("{what}: {}", sse::excerpt(&answer.to_string())));
    let data = answer.get("data").and_then(Value::as_array).ok_or_else(|| bad("an embeddings answer without data"))?;
    let mut vectors = vec![Vec::new(); count];
    for (i, item) in data.iter().enumerate() {
        let index = item.get("index").and_then(Value::as_u64).map_or(i, |n| n as usize);
        let values = item.get("embedding").and_then(Value::as_array).ok_or_else(|| bad("an embedding that is not a list"))?;
        let mut v: Vec<f32> =
            values.iter().map(|x| x.as_f64().map(|f| f as f32)).collect::<Option<_>>().ok_or_else(|| bad("a non-number"))?;
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
        *vectors.get_mut(index).ok_or_else(|| bad("an embedding index out of range"))? = v;
    }
    if vectors.iter().any(Vec::is_empty) {
        return Err(bad("fewer embeddings than inputs"));
    }
    let prompt_tokens = answer.pointer("/usage/prompt_tokens").and_then(Value::as_u64).unwrap_or(0) as u32;
    Ok(Embeddings { vectors, prompt_tokens })
}

/// Where a call's outcome goes: `ready` once (the answer began, or the call failed before it
/// did), then events.
struct Outlet {
    ready: Option<SyncSender<Result<(), LlmError>>>,
    events: Sender<Result<ChatEvent, LlmError>>,
    first_token: Option<Instant>,
    started: Instant,
}

impl Outlet {
    fn ready(&mut self) {
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(Ok(()));
        }
    }

    /// Whether any of the reply has been passed on (after which nothing is retried).
    fn emitted(&self) -> bool {
        self.first_token.is_some()
    }

    /// Passes an event on; `false` when nobody listens any more.
    fn send(&mut self, mut event: ChatEvent) -> bool {
        self.ready();
        match &mut event {
            ChatEvent::Delta(_) | ChatEvent::ToolCall { .. } => {
                self.first_token.get_or_insert_with(Instant::now);
            }
            ChatEvent::Finished { usage, timings, .. } => {
                let now = Instant::now();
                let first = self.first_token.unwrap_or(now);
                timings.time_to_first_token_ms = (first - self.started).as_secs_f64() * 1e3;
                timings.total_ms = (now - self.started).as_secs_f64() * 1e3;
                let generating = (now - first).as_secs_f64();
                if generating > 0.0 && usage.completion_tokens > 1 {
                    timings.tokens_per_second = f64::from(usage.completion_tokens - 1) / generating;
                }
            }
            ChatEvent::Fallback { .. } => {}
        }
        self.events.send(Ok(event)).is_ok()
    }

    fn fail(mut self, error: LlmError) {
        match self.ready.take() {
            Some(ready) => {
                let _ = ready.send(Err(error));
            }
            None => {
                let _ = self.events.send(Err(error));
            }
        }
    }

    fn cancelled(mut self) {
        let _ = self.send(ChatEvent::Finished {
            reason: FinishReason::Cancelled,
            usage: crate::Usage::default(),
            timings: crate::Timings::default(),
        });
    }
}

/// How one attempt ended, when it did not finish the reply.
enum Stop {
    Cancelled,
    Failed(RemoteFailure),
}

impl From<RemoteFailure> for Stop {
    fn from(f: RemoteFailure) -> Self {
        Stop::Failed(f)
    }
}

/// Resolves when `cancel` is set (polled: the token is a plain flag).
async fn cancelled(cancel: &CancellationToken) {
    while !cancel.is_cancelled() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Inner {
    fn error(&self, failure: RemoteFailure) -> LlmError {
        LlmError::remote(self.config.name.clone(), failure)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url)
    }

    /// Runs a chat call to its end: retries, the breaker, cancellation.
    async fn drive(&self, path: &str, body: Value, mut parser: Box<dyn ProtocolStream>, cancel: CancellationToken, mut out: Outlet) {
        let body = serde_json::to_vec(&body).expect("JSON values serialize");
        let mut retry = 0;
        loop {
            if let Admit::No(retry_in) = self.breaker.admit(Instant::now()) {
                return out.fail(self.error(RemoteFailure::CircuitOpen { retry_in }));
            }
            let failure = match self.attempt(path, &body, parser.as_mut(), &cancel, &mut out).await {
                Ok(()) => return self.breaker.success(),
                Err(Stop::Cancelled) => return out.cancelled(),
                Err(Stop::Failed(f)) => f,
            };
            if !failure.is_outage() {
                self.breaker.success(); // it answered: up, whatever it thought of the request
            }
            let delay = match (out.emitted() || !failure.is_transient(), failure.retry_after()) {
                (true, _) => None,
                (false, asked) => self.config.retry.delay(retry, asked, fastrand::f64()),
            };
            let Some(delay) = delay else {
                // The breaker counts failed calls, not attempts: one call's retries are one outage.
                if failure.is_outage() {
                    self.breaker.failure(Instant::now());
                }
                tracing::warn!(provider = %self.config.name, error = %failure, "remote call failed");
                return out.fail(self.error(failure));
            };
            retry += 1;
            tracing::info!(provider = %self.config.name, retry, delay_ms = delay.as_millis() as u64, error = %failure, "retrying");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = cancelled(&cancel) => return out.cancelled(),
            }
            // A retry starts the reply afresh.
            parser = match self.config.protocol {
                Protocol::OpenAi => Box::<openai::OpenAiStream>::default(),
                Protocol::Anthropic => Box::<anthropic::AnthropicStream>::default(),
            };
        }
    }

    /// One HTTP exchange; `Ok` when the reply finished (or nobody listens any more).
    async fn attempt(
        &self,
        path: &str,
        body: &[u8],
        parser: &mut dyn ProtocolStream,
        cancel: &CancellationToken,
        out: &mut Outlet,
    ) -> Result<(), Stop> {
        let request =
            self.http.post(self.url(path)).headers(self.headers.clone()).header(CONTENT_TYPE, "application/json").body(body.to_vec());
        let response = tokio::select! {
            r = self.send(request) => r?,
            _ = cancelled(cancel) => return Err(Stop::Cancelled),
        };
        let kind = content_type(response.headers());
        if kind.starts_with("application/json") {
            // A server that ignored `stream: true`: the whole answer at once.
            let answer = self.read_json(response).await?;
            for event in openai::completion_events(&answer)? {
                if !out.send(event) {
                    break;
                }
            }
            return Ok(());
        }
        if !kind.starts_with("text/event-stream") {
            return Err(unexpected_content(&kind).into());
        }
        out.ready();
        let mut decoder = sse::SseDecoder::new();
        let mut body = response.bytes_stream();
        loop {
            let piece = tokio::select! {
                p = tokio::time::timeout(self.config.timeouts.idle, body.next()) => p,
                _ = cancelled(cancel) => return Err(Stop::Cancelled),
            };
            let events = match piece {
                Err(_) => {
                    return Err(RemoteFailure::Timeout { phase: "the next part of the reply", after: self.config.timeouts.idle }.into());
                }
                Ok(Some(Err(e))) => return Err(RemoteFailure::Interrupted(self.redact(&e.to_string())).into()),
                Ok(Some(Ok(bytes))) => {
                    let mut events = Vec::new();
                    for event in decoder.feed(&bytes).map_err(RemoteFailure::BadResponse)? {
                        events.extend(parser.event(event).map_err(|f| self.redact_failure(f))?);
                    }
                    events
                }
                Ok(None) if decoder.has_partial() => {
                    return Err(RemoteFailure::Interrupted("the stream ended in the middle of an event".into()).into());
                }
                Ok(None) => parser.end()?,
            };
            let finished = events.iter().any(|e| matches!(e, ChatEvent::Finished { .. }));
            for event in events {
                if !out.send(event) {
                    return Ok(()); // the caller is gone; dropping the body closes the connection
                }
            }
            if finished {
                return Ok(());
            }
        }
    }

    /// Sends a request and waits for a successful answer's headers.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, RemoteFailure> {
        let first_byte = self.config.timeouts.first_byte;
        let response = match tokio::time::timeout(first_byte, request.send()).await {
            Err(_) => return Err(RemoteFailure::Timeout { phase: "the answer", after: first_byte }),
            Ok(Err(e)) if e.is_timeout() => {
                return Err(RemoteFailure::Timeout { phase: "the connection", after: self.config.timeouts.connect });
            }
            Ok(Err(e)) => return Err(RemoteFailure::Unreachable(self.redact(&error_chain(&e)))),
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if status.is_redirection() {
            // Only a redirect to another origin gets here (see `same_origin_redirects`).
            let to = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("(no Location)");
            return Err(RemoteFailure::Redirected { status: status.as_u16(), to: self.redact(&sse::excerpt(to)) });
        }
        let retry_after = retry_after(response.headers());
        let text = self.read_text(response).await.unwrap_or_default();
        let message = self.redact(&error_message(&text));
        let code = status.as_u16();
        Err(match code {
            401 | 403 => RemoteFailure::KeyRefused { status: code },
            429 => RemoteFailure::RateLimited { retry_after },
            500..=599 => RemoteFailure::Server { status: code, message },
            _ => RemoteFailure::Rejected { status: code, message },
        })
    }

    async fn get_json(&self, path: &str) -> Result<Value, RemoteFailure> {
        let response = self.send(self.http.get(self.url(path)).headers(self.headers.clone())).await?;
        self.read_json(response).await
    }

    async fn post_json(&self, path: &str, body: &Value) -> Result<Value, RemoteFailure> {
        let request =
            self.http.post(self.url(path)).headers(self.headers.clone()).header(CONTENT_TYPE, "application/json").body(body.to_string());
        let response = self.send(request).await?;
        self.read_json(response).await
    }

    async fn read_json(&self, response: reqwest::Response) -> Result<Value, RemoteFailure> {
        let kind = content_type(response.headers());
        let text = self.read_text(response).await?;
        serde_json::from_str(&text).map_err(|_| match kind.starts_with("text/html") {
            true => unexpected_content(&kind),
            false => RemoteFailure::BadResponse(format!("an answer that is not JSON: {}", sse::excerpt(&self.redact(&text)))),
        })
    }

    /// A whole body, at most 16 MiB, each piece within the idle timeout.
    async fn read_text(&self, response: reqwest::Response) -> Result<String, RemoteFailure> {
        const LIMIT: usize = 16 << 20;
        let mut bytes = Vec::new();
        let mut body = response.bytes_stream();
        loop {
            match tokio::time::timeout(self.config.timeouts.idle, body.next()).await {
                Err(_) => return Err(RemoteFailure::Timeout { phase: "the rest of the answer", after: self.config.timeouts.idle }),
                Ok(Some(Err(e))) => return Err(RemoteFailure::Interrupted(self.redact(&e.to_string()))),
                Ok(Some(Ok(piece))) if bytes.len() + piece.len() > LIMIT => {
                    return Err(RemoteFailure::BadResponse("an answer over 16 MiB".into()));
                }
                Ok(Some(Ok(piece))) => bytes.extend_from_slice(&piece),
                Ok(None) => break,
            }
        }
        String::from_utf8(bytes).map_err(|_| RemoteFailure::BadResponse("an answer that is not UTF-8 text".into()))
    }

    fn redact(&self, text: &str) -> String {
        match &self.config.key {
            Some(key) => redact(text, key),
            None => text.to_owned(),
        }
    }

    fn redact_failure(&self, failure: RemoteFailure) -> RemoteFailure {
        match failure {
            RemoteFailure::StreamError(m) => RemoteFailure::StreamError(self.redact(&m)),
            RemoteFailure::BadResponse(m) => RemoteFailure::BadResponse(self.redact(&m)),
            other => other,
        }
    }
}

/// `text` with every occurrence of the key (and of any long piece of it) replaced.
pub fn redact(text: &str, key: &Secret) -> String {
    let key = key.expose();
    if key.len() < 8 {
        return text.replace(key, "••••");
    }
    // Providers echo keys partly masked ("sk-abc...wxyz"); any 8 characters of the key in a
    // row are treated as the key.
    let mut out = text.to_owned();
    for start in 0..=key.len() - 8 {
        if let Some(piece) = key.get(start..start + 8)
            && out.contains(piece)
        {
            out = out.replace(piece, "••••");
        }
    }
    out
}

fn content_type(headers: &HeaderMap) -> String {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase()
}

fn unexpected_content(kind: &str) -> RemoteFailure {
    if kind.starts_with("text/html") {
        RemoteFailure::BadResponse("an HTML page instead of the API; is the base URL right (it usually ends in /v1)?".into())
    } else {
        RemoteFailure::BadResponse(format!(
            "an answer of type {:?}, not an event stream or JSON",
            if kind.is_empty() { "(none)" } else { kind }
        ))
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// The useful part of an error body: the API's message, or a note on what came instead.
fn error_message(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(v) => match v.get("error") {
            Some(e) => openai::error_text(e),
            None => v.get("message").and_then(Value::as_str).map_or_else(|| sse::excerpt(body), str::to_owned),
        },
        Err(_) if body.trim_start().starts_with('<') => "an HTML page (is the base URL right?)".into(),
        Err(_) if body.trim().is_empty() => "no details".into(),
        Err(_) => sse::excerpt(body),
    }
}

/// An error with its causes ("error sending request: connection refused"): reqwest says what
/// actually went wrong only in the sources.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests;
