//! The router: one [`ChatModel`] over the local engine and every configured provider.
//!
//! A model name routes by its prefix: `NAME/model` goes to provider `NAME` (`NAME/` alone to
//! its default model), `local/model` or a bare name to the local engine. A request's
//! [`fallbacks`](hearth_llm::ChatRequest::fallbacks) are tried in order when a model fails
//! before answering; each move is announced with a [`ChatEvent::Fallback`] (which model, and
//! why) ahead of the reply. Once any of a reply has streamed, nothing moves on.
//!
//! Every call, local or remote, whatever its outcome, is logged through
//! [`Core::record_call`] before its last event reaches the caller.

use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Instant;

use hearth_llm::remote::Remote;
use hearth_llm::{
    CancellationToken, ChatEvent, ChatModel, ChatRequest, ChatStream, CompletionRequest, EmbedInput, Embeddings, FinishReason, LlmError,
    ModelHost,
};
use hearth_types::{CallOutcome, NewCall};

use crate::{Core, Result};

/// Where a model name leads.
#[derive(Clone, Debug)]
pub enum Target {
    Local { model: String },
    Remote { provider: String, model: String, client: Remote },
}

impl Target {
    /// The provider's name (`local` for the engine), as calls and replies record it.
    pub fn provider(&self) -> &str {
        match self {
            Target::Local { .. } => "local",
            Target::Remote { provider, .. } => provider,
        }
    }

    /// The model's own name at its provider.
    pub fn model(&self) -> &str {
        match self {
            Target::Local { model } | Target::Remote { model, .. } => model,
        }
    }
}

/// A model a client may ask for, as `/v1/models` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelEntry {
    /// The name to request it by.
    pub id: String,
    /// `hearth` for local models, else the provider's name.
    pub owned_by: String,
    /// When a local model was registered (Unix seconds); 0 for a provider's models.
    pub created: i64,
}

/// The provider part of a model name (`local` when there is none).
pub(crate) fn provider_of(model: &str) -> &str {
    model.split_once('/').map_or("local", |(p, _)| p)
}

/// Routes model calls (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct ModelRouter {
    core: Arc<Core>,
    local: Arc<dyn ModelHost>,
}

impl std::fmt::Debug for ModelRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelRouter").finish_non_exhaustive()
    }
}

impl ModelRouter {
    pub fn new(core: Arc<Core>, local: Arc<dyn ModelHost>) -> Self {
        Self { core, local }
    }

    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// Where `model` leads. An unknown provider is an unknown model.
    pub fn resolve(&self, model: &str) -> Result<Target> {
        let Some((provider, name)) = model.split_once('/') else {
            return Ok(Target::Local { model: model.to_owned() });
        };
        if provider == "local" {
            return Ok(Target::Local { model: name.to_owned() });
        }
        let record = match self.core.store.read(|r| r.provider(provider)) {
            Ok(p) => p,
            Err(hearth_store::Error::NotFound { .. }) => return Err(LlmError::ModelNotFound(model.to_owned()).into()),
            Err(e) => return Err(e.into()),
        };
        let name = match (name.trim(), &record.default_model) {
            ("", Some(default)) => default.clone(),
            ("", None) => {
                return Err(hearth_types::ValidationError::new(
                    "model",
                    format!("provider {provider} has no default model; name one: {provider}/MODEL"),
                )
                .into());
            }
            (name, _) => name.to_owned(),
        };
        Ok(Target::Remote { provider: provider.to_owned(), model: name, client: self.core.remote(provider)? })
    }

    /// Checks that `model` can be asked: a registered local model, or a provider's model.
    pub fn check(&self, model: &str) -> Result<()> {
        if let Target::Local { model } = self.resolve(model)? {
            self.core.model(&model)?;
        }
        Ok(())
    }

    /// Local models, then each enabled provider's listed models (as last fetched).
    pub fn models(&self) -> Result<Vec<ModelEntry>> {
        let mut out: Vec<ModelEntry> = self
            .core
            .models()?
            .into_iter()
            .map(|m| ModelEntry { created: m.created_at.as_second(), id: m.name, owned_by: "hearth".into() })
            .collect();
        for p in self.core.store.read(|r| r.providers())?.into_iter().filter(|p| p.enabled) {
            let mut ids = p.models.clone();
            if let Some(default) = &p.default_model
                && !ids.contains(default)
            {
                ids.insert(0, default.clone());
            }
            out.extend(ids.into_iter().map(|m| ModelEntry { id: format!("{}/{m}", p.name), owned_by: p.name.clone(), created: 0 }));
        }
        Ok(out)
    }

    /// Starts one model: resolve, then call.
    fn start(&self, name: &str, request: &ChatRequest, cancel: &CancellationToken) -> Result<(Target, ChatStream)> {
        let target = self.resolve(name)?;
        let request = ChatRequest { model: target.model().to_owned(), fallbacks: Vec::new(), ..request.clone() };
        let stream = match &target {
            Target::Local { .. } => self.local.chat(request, cancel.clone())?,
            Target::Remote { client, .. } => client.chat(request, cancel.clone())?,
        };
        Ok((target, stream))
    }

    fn record(&self, provider: &str, model: &str, started: Instant, outcome: Outcome) {
        let duration_ms = started.elapsed().as_millis() as u64;
        let call = match outcome {
            Outcome::Finished { reason, usage, ttft_ms } => NewCall {
                provider: provider.to_owned(),
                model: model.to_owned(),
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
                time_to_first_token_ms: ttft_ms,
                duration_ms,
                outcome: if reason == FinishReason::Cancelled { CallOutcome::Cancelled } else { CallOutcome::Ok },
                error: None,
            },
            Outcome::Failed(error) => NewCall {
                provider: provider.to_owned(),
                model: model.to_owned(),
                prompt_tokens: 0,
                completion_tokens: 0,
                time_to_first_token_ms: None,
                duration_ms,
                outcome: CallOutcome::Error,
                error: Some(error),
            },
        };
        if let Err(e) = self.core.record_call(&call) {
            tracing::warn!(error = %e, "could not log a model call");
        }
    }
}

enum Outcome {
    Finished { reason: FinishReason, usage: hearth_llm::Usage, ttft_ms: Option<u64> },
    Failed(String),
}

impl ChatModel for ModelRouter {
    fn chat(&self, request: ChatRequest, cancel: CancellationToken) -> Result<ChatStream, LlmError> {
        let names: Vec<String> = std::iter::once(request.model.clone()).chain(request.fallbacks.iter().cloned()).collect();
        let mut moves: Vec<ChatEvent> = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let next = names.get(i + 1).filter(|_| !cancel.is_cancelled());
            let started = Instant::now();
            let failure = match self.start(name, &request, &cancel) {
                Ok((target, mut stream)) => {
                    // With somewhere to go, wait for the first event: a provider that fails
                    // before its first token still lets the next model answer.
                    let first = match next {
                        Some(_) => stream.next(),
                        None => None,
                    };
                    match (first, next) {
                        (Some(Err(e)), Some(_)) if e.falls_back() => {
                            // The failed stream shares the caller's token: dropping it as is
                            // would cancel the next model too.
                            stream.release();
                            self.record(target.provider(), target.model(), started, Outcome::Failed(e.to_string()));
                            e
                        }
                        (first, _) => return Ok(self.watch(target, stream, first, moves, started, cancel)),
                    }
                }
                Err(e) => {
                    let e = core_error(e);
                    let (provider, model) = name.split_once('/').unwrap_or(("local", name));
                    self.record(provider, model, started, Outcome::Failed(e.to_string()));
                    if next.is_none() || !e.falls_back() {
                        return Err(e);
                    }
                    e
                }
            };
            let Some(to) = next else { return Err(failure) };
            tracing::warn!(from = %name, to = %to, error = %failure, "falling back");
            moves.push(ChatEvent::Fallback { from: name.clone(), to: to.clone(), reason: failure.to_string() });
        }
        Err(LlmError::Engine("no model to try".into()))
    }

    fn embed(&self, model: &str, inputs: &[EmbedInput]) -> Result<Embeddings, LlmError> {
        let target = self.resolve(model).map_err(core_error)?;
        let started = Instant::now();
        let result = match &target {
            // Knowledge's embedding model answers to its own name (it runs on an engine of
            // its own, not the chat engine).
            Target::Local { model } => match self.core.embedder() {
                Some(e) if e.name == *model => e.model.embed(model, inputs),
                _ => self.local.embed(model, inputs),
            },
            Target::Remote { client, model, .. } => client.embed(model, inputs),
        };
        let outcome = match &result {
            Ok(e) => Outcome::Finished {
                reason: FinishReason::Stop,
                usage: hearth_llm::Usage { prompt_tokens: e.prompt_tokens, ..Default::default() },
                ttft_ms: None,
            },
            Err(e) => Outcome::Failed(e.to_string()),
        };
        self.record(target.provider(), target.model(), started, outcome);
        result
    }

    fn complete(&self, request: CompletionRequest, cancel: CancellationToken) -> Result<ChatStream, LlmError> {
        let target = self.resolve(&request.model).map_err(core_error)?;
        let started = Instant::now();
        let result = match &target {
            Target::Local { model } => self.local.complete(CompletionRequest { model: model.clone(), ..request }, cancel.clone()),
            Target::Remote { provider, .. } => Err(LlmError::Unsupported(format!("{provider}: raw completions are for local models"))),
        };
        match result {
            Ok(stream) => Ok(self.watch(target, stream, None, Vec::new(), started, cancel)),
            Err(e) => {
                self.record(target.provider(), target.model(), started, Outcome::Failed(e.to_string()));
                Err(e)
            }
        }
    }
}

impl ModelRouter {
    /// Passes a call's events on (after `moves`, and the `first` event already read) and logs
    /// the call when it ends, before its last event goes out.
    fn watch(
        &self,
        target: Target,
        stream: ChatStream,
        first: Option<Result<ChatEvent, LlmError>>,
        moves: Vec<ChatEvent>,
        started: Instant,
        cancel: CancellationToken,
    ) -> ChatStream {
        let (tx, rx) = std::sync::mpsc::channel();
        let router = self.clone();
        let provider = target.provider().to_owned();
        let model = target.model().to_owned();
        let spawned = std::thread::Builder::new().name("hearth-call".into()).spawn(move || {
            let mut out = Watch { tx, logged: false };
            for m in moves {
                out.send(Ok(m));
            }
            let mut first_token: Option<u64> = None;
            for event in first.into_iter().chain(stream) {
                match &event {
                    Ok(ChatEvent::Delta(_) | ChatEvent::ToolCall { .. }) if first_token.is_none() => {
                        first_token = Some(started.elapsed().as_millis() as u64);
                    }
                    Ok(ChatEvent::Finished { reason, usage, .. }) => {
                        router.record(
                            &provider,
                            &model,
                            started,
                            Outcome::Finished { reason: *reason, usage: *usage, ttft_ms: first_token },
                        );
                        out.logged = true;
                    }
                    Err(e) => {
                        router.record(&provider, &model, started, Outcome::Failed(e.to_string()));
                        out.logged = true;
                    }
                    _ => {}
                }
                if !out.send(event) {
                    break; // the caller is gone; dropping the stream cancels the call
                }
            }
            if !out.logged {
                router.record(&provider, &model, started, Outcome::Failed("the call ended without finishing".into()));
            }
        });
        if let Err(e) = spawned {
            let (tx, rx) = std::sync::mpsc::channel();
            let _ = tx.send(Err(LlmError::Engine(format!("could not start a thread: {e}"))));
            return ChatStream::new(rx, cancel);
        }
        ChatStream::new(rx, cancel)
    }
}

struct Watch {
    tx: Sender<Result<ChatEvent, LlmError>>,
    logged: bool,
}

impl Watch {
    fn send(&mut self, event: Result<ChatEvent, LlmError>) -> bool {
        self.tx.send(event).is_ok()
    }
}

/// A Core error as a model error, for the [`ChatModel`] interface.
fn core_error(e: crate::Error) -> LlmError {
    match e {
        crate::Error::Model(e) => e,
        crate::Error::Invalid(v) => LlmError::Invalid { field: v.field, reason: v.reason },
        other => LlmError::Engine(other.to_string()),
    }
}

impl ModelHost for ModelRouter {
    fn load(&self, model: &str) -> Result<(), LlmError> {
        match self.resolve(model).map_err(core_error)? {
            Target::Local { model } => self.local.load(&model),
            Target::Remote { provider, .. } => {
                Err(LlmError::Unsupported(format!("{provider} runs its models itself; only local models load")))
            }
        }
    }

    fn unload(&self) {
        self.local.unload();
    }

    fn loaded(&self) -> Option<String> {
        self.local.loaded()
    }

    fn set_keep_alive(&self, keep_alive: std::time::Duration) {
        self.local.set_keep_alive(keep_alive);
    }
}
