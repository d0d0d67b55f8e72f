//! The inference thread: it owns the llama.cpp backend, the loaded model and its contexts.
//!
//! The thread alternates between two states. Idle, no model is loaded and it blocks on the
//! request channel. Serving, a model and a generation context are loaded and every loop turn
//! is one decode step:
//!
//! 1. take new requests without blocking (blocking up to the keep-alive when nothing runs);
//! 2. give waiting requests a free slot (one llama.cpp sequence each), preferring the slot
//!    whose cached tokens share the longest prefix with the new prompt, and drop only the
//!    part of that slot's KV cache that differs;
//! 3. build one batch: the last sampled token of every generating request, then prompt chunks
//!    of the requests still reading their prompt, up to the batch size;
//! 4. decode, then sample a token for every request that produced logits, stream its text and
//!    finish it on end-of-generation, a stop string, `max_tokens`, a full context or
//!    cancellation (checked before every step, so a cancel takes effect within one step).
//!
//! A request for another model waits until the current model's requests are done; then the
//! thread unloads and loads the other. After `keep_alive` without requests it unloads.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hearth_llm::{
    CancellationToken, ChatEvent, ChatMessage, EmbedInput, Embeddings, FinishReason, LlmError, SamplingParams, Timings, Usage,
};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;

use crate::config::{EngineConfig, EngineStatus, ModelSpec};
use crate::grammar::{Constraint, Gbnf};
use crate::sampler::Sampler;
use crate::template;
use crate::text::TextStream;
use crate::tools::{CallParser, OPEN};

pub(crate) enum Command {
    Chat(Box<ChatJob>),
    Embed(EmbedJob),
    Load(LoadJob),
    Status(Sender<EngineStatus>),
    Unload,
}

/// What a request asks the model to continue.
pub(crate) enum Prompt {
    /// A conversation, formatted with the model's chat template.
    Chat(Vec<ChatMessage>),
    /// Raw text, as is (the legacy completions API).
    Raw(String),
}

pub(crate) struct ChatJob {
    pub(crate) spec: ModelSpec,
    pub(crate) prompt: Prompt,
    pub(crate) params: SamplingParams,
    /// The grammar the whole reply follows (`params.format`, or a required tool call),
    /// converted before the job reached this thread.
    pub(crate) grammar: Option<Gbnf>,
    /// The grammar a tool call follows once the model begins one (`<tool_call>`).
    pub(crate) lazy_grammar: Option<Gbnf>,
    /// Whether the reply is read for tool calls.
    pub(crate) parse_calls: bool,
    pub(crate) cancel: CancellationToken,
    pub(crate) events: Sender<Result<ChatEvent, LlmError>>,
    /// Answered once the request is accepted (or refused) by the worker.
    pub(crate) ack: SyncSender<Result<(), LlmError>>,
    pub(crate) received: Instant,
}

pub(crate) struct EmbedJob {
    pub(crate) spec: ModelSpec,
    pub(crate) inputs: Vec<EmbedInput>,
    pub(crate) reply: Sender<Result<Embeddings, LlmError>>,
}

pub(crate) struct LoadJob {
    pub(crate) spec: ModelSpec,
    pub(crate) reply: Sender<Result<(), LlmError>>,
}

impl Command {
    fn spec(&self) -> Option<&ModelSpec> {
        match self {
            Command::Chat(j) => Some(&j.spec),
            Command::Embed(j) => Some(&j.spec),
            Command::Load(j) => Some(&j.spec),
            Command::Status(_) | Command::Unload => None,
        }
    }

    fn fail(self, error: LlmError) {
        match self {
            Command::Chat(j) => {
                let _ = j.ack.send(Err(error));
            }
            Command::Embed(j) => {
                let _ = j.reply.send(Err(error));
            }
            Command::Load(j) => {
                let _ = j.reply.send(Err(error));
            }
            Command::Status(reply) => {
                let _ = reply.send(EngineStatus::default());
            }
            Command::Unload => {}
        }
    }
}

/// llama.cpp's backend may be initialized once per process; every engine shares it.
fn backend() -> Result<&'static LlamaBackend, LlmError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            #[cfg(feature = "portable")]
            load_cpu_variants()?;
            let mut backend = LlamaBackend::init().map_err(|e| e.to_string())?;
            // llama.cpp logs every load in detail to stderr; Hearth reports through tracing.
            backend.void_logs();
            Ok(backend)
        })
        .as_ref()
        .map_err(|e| LlmError::Engine(format!("llama.cpp did not start: {e}")))
}

/// A portable build (the package) carries llama.cpp's CPU kernels as one module per CPU
/// generation (ggml's `GGML_CPU_ALL_VARIANTS`); ggml scores each against the CPU it runs on
/// and loads the best, so one package uses AVX2 or AVX-512 where they exist. Installed, the
/// modules sit in `<prefix>/lib/hearth` beside `<prefix>/bin/hearth`; in a build folder, where
/// the build put them.
#[cfg(feature = "portable")]
fn load_cpu_variants() -> Result<(), String> {
    let installed = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.parent()?.join("lib").join("hearth")));
    match installed.filter(|dir| dir.is_dir()) {
        Some(dir) => llama_cpp_2::llama_backend::load_backends_from_path(&dir),
        None => llama_cpp_2::llama_backend::load_backends(),
    }
    let devices = llama_cpp_2::list_llama_ggml_backend_devices();
    match devices.iter().find(|d| d.backend == "CPU") {
        Some(cpu) => {
            tracing::info!(device = %cpu.description, "llama.cpp CPU kernels loaded");
            Ok(())
        }
        None => Err("no CPU kernels were found next to the program (lib/hearth/libggml-cpu-*.so): the installation is incomplete".into()),
    }
}

/// How long an idle model stays loaded, shared between the engine handle (which changes it)
/// and the worker (which reads it whenever it decides).
#[derive(Debug)]
pub(crate) struct KeepAlive(AtomicU64);

impl KeepAlive {
    pub(crate) fn new(d: Duration) -> Self {
        Self(AtomicU64::new(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)))
    }
    pub(crate) fn set(&self, d: Duration) {
        self.0.store(u64::try_from(d.as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
    /// At most a year: "keep it loaded" without an instant that overflows.
    fn get(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::Relaxed).min(365 * 24 * 3600 * 1000))
    }
}

pub(crate) fn run(config: EngineConfig, keep_alive: Arc<KeepAlive>, inbox: Receiver<Command>) {
    let backend = match backend() {
        Ok(b) => b,
        Err(e) => {
            for command in inbox {
                command.fail(e.clone());
            }
            return;
        }
    };
    let mut next: Option<Command> = None;
    loop {
        let command = match next.take() {
            Some(c) => c,
            None => match inbox.recv() {
                Ok(c) => c,
                Err(_) => return,
            },
        };
        let Some(spec) = command.spec().cloned() else {
            if let Command::Status(reply) = command {
                let _ = reply.send(EngineStatus::default());
            }
            continue;
        };
        let started = Instant::now();
        let model = match load(backend, &spec) {
            Ok(m) => m,
            Err(e) => {
                command.fail(e);
                continue;
            }
        };
        let load_ms = started.elapsed().as_secs_f64() * 1e3;
        tracing::info!(model = %spec.name, load_ms, "loaded model");
        // A bug while serving must not take the engine down: the requests in flight lose
        // their streams (their callers see the stream end early) and the next request
        // starts from a clean load.
        let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            serve(backend, &config, &keep_alive, &spec, &model, load_ms, command, &inbox)
        }));
        match served {
            Ok(End::Idle | End::Unload) => tracing::info!(model = %spec.name, "unloaded model"),
            Ok(End::Closed) => return,
            Ok(End::Switch(c)) => next = Some(*c),
            Err(_) => tracing::error!(model = %spec.name, "the inference loop panicked; the model was unloaded"),
        }
    }
}

/// MemAvailable from /proc/meminfo, where there is one.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

fn load(backend: &LlamaBackend, spec: &ModelSpec) -> Result<LlamaModel, LlmError> {
    let info = crate::gguf::inspect(&spec.path).map_err(|e| match e {
        crate::GgufError::UnsupportedArchitecture(a) => LlmError::Unsupported(format!("architecture {a:?}")),
        other => LlmError::Load { model: spec.name.clone(), reason: other.to_string() },
    })?;
    let size = std::fs::metadata(&spec.path).map(|m| m.len()).unwrap_or(0);
    if let Some(available) = available_memory()
        && size > available
    {
        return Err(LlmError::OutOfMemory {
            model: spec.name.clone(),
            detail: format!("the weights take {} and {} is available", gib(size), gib(available)),
        });
    }
    tracing::debug!(model = %spec.name, architecture = %info.architecture, "loading model");
    LlamaModel::load_from_file(backend, &spec.path, &LlamaModelParams::default())
        .map_err(|e| LlmError::Load { model: spec.name.clone(), reason: format!("llama.cpp refused the file ({e})") })
}

enum End {
    Idle,
    Unload,
    Closed,
    Switch(Box<Command>),
}

/// How the generation context is laid out for a model.
struct Geometry {
    per_slot: u32,
    slots: u32,
    threads: i32,
}

impl Geometry {
    /// Total tokens across slots; `None` when it does not fit llama.cpp's 32-bit context.
    fn total(&self) -> Option<u32> {
        self.per_slot.checked_mul(self.slots).filter(|&t| t <= i32::MAX as u32)
    }

    fn new(model: &LlamaModel, config: &EngineConfig) -> Self {
        let slots = config.slots.max(1);
        let trained = model.n_ctx_train().max(512);
        let per_slot = config.context_per_slot.unwrap_or_else(|| {
            // Keys and values in f16, per layer and KV head. The head sizes come from the
            // metadata: n_embd / n_head is wrong for models like Gemma 3 (640 / 4 vs 256).
            let arch = model.meta_val_str("general.architecture").unwrap_or_default();
            let fallback = u64::from(model.n_embd().max(1) as u32) / u64::from(model.n_head().max(1));
            let head = |key: &str| model.meta_val_str(&format!("{arch}.attention.{key}")).ok().and_then(|v| v.parse::<u64>().ok());
            let key_and_value = head("key_length").unwrap_or(fallback) + head("value_length").unwrap_or(fallback);
            let per_token = 2 * u64::from(model.n_layer()) * u64::from(model.n_head_kv().max(1)) * key_and_value;
            // Leave most memory to everything else: a quarter of what is free, at most 1 GiB.
            let budget = available_memory().map_or(1 << 30, |m| (m / 4).min(1 << 30));
            let fits = (budget / per_token.max(1) / u64::from(slots)) as u32;
            (fits.min(trained) / 256 * 256).max(512)
        });
        let threads =
            config.threads.map(|t| t as i32).unwrap_or_else(|| std::thread::available_parallelism().map_or(4, |n| n.get() as i32));
        Self { per_slot, slots, threads }
    }
}

/// A tool call's grammar, waiting for the reply to write `<tool_call>`.
struct Lazy {
    gbnf: Gbnf,
    /// The end of the reply so far, long enough to hold all but the last character of the
    /// marker (which may come split over tokens).
    tail: String,
}

impl Lazy {
    /// Adds a token's text; once the marker is complete, returns what followed it.
    fn watch(&mut self, piece: &[u8]) -> Option<String> {
        self.tail.push_str(&String::from_utf8_lossy(piece));
        if let Some(at) = self.tail.find(OPEN) {
            return Some(self.tail[at + OPEN.len()..].to_owned());
        }
        let keep = self.tail.char_indices().rev().take(OPEN.len() - 1).last().map_or(0, |(i, _)| i);
        self.tail.drain(..keep);
        None
    }
}

/// One request being served.
struct Active {
    job: ChatJob,
    prompt: Vec<LlamaToken>,
    /// How many prompt tokens are in the KV cache (cached or decoded).
    prompt_done: usize,
    cached_prompt: usize,
    sampler: Sampler,
    /// The grammar a structured reply follows.
    constraint: Option<Constraint>,
    /// A grammar waiting for the model to begin a tool call.
    lazy: Option<Lazy>,
    text: TextStream,
    /// Reads tool calls out of the text, when tools were offered.
    calls: Option<CallParser>,
    /// The last sampled token, which the next step decodes.
    pending: Option<LlamaToken>,
    generated: u32,
    load_ms: Option<f64>,
    started: Instant,
    prompt_started: Instant,
    first_token: Option<Instant>,
    prompt_finished: Option<Instant>,
}

/// A llama.cpp sequence and the tokens its KV cache holds.
struct Slot {
    seq: i32,
    cached: Vec<LlamaToken>,
    active: Option<Active>,
    last_used: Instant,
}

struct Waiting {
    job: ChatJob,
    prompt: Vec<LlamaToken>,
    constraint: Option<Constraint>,
    load_ms: Option<f64>,
}

fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

struct Server<'m> {
    model: &'m LlamaModel,
    spec: &'m ModelSpec,
    architecture: String,
    config: &'m EngineConfig,
    geometry: Geometry,
    slots: Vec<Slot>,
    waiting: VecDeque<Waiting>,
    batch: LlamaBatch<'static>,
    /// Most tokens one step may decode; the context's `n_batch` is set to the same number.
    capacity: usize,
}

#[allow(clippy::too_many_arguments)]
fn serve(
    backend: &LlamaBackend,
    config: &EngineConfig,
    keep_alive: &KeepAlive,
    spec: &ModelSpec,
    model: &LlamaModel,
    load_ms: f64,
    first: Command,
    inbox: &Receiver<Command>,
) -> End {
    let geometry = Geometry::new(model, config);
    // A step holds one token per generating request plus prompt chunks: never less than the slots.
    let batch_size = config.batch_size.max(geometry.slots);
    let Some(total) = geometry.total() else {
        first.fail(LlmError::OutOfMemory {
            model: spec.name.clone(),
            detail: format!(
                "a context of {} tokens x {} requests is beyond any memory; lower the context length",
                geometry.per_slot, geometry.slots
            ),
        });
        return End::Idle;
    };
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(total))
        .with_n_batch(batch_size)
        .with_n_ubatch(batch_size)
        .with_n_seq_max(geometry.slots)
        .with_n_threads(geometry.threads)
        .with_n_threads_batch(geometry.threads)
        // Sliding-window layers (Gemma 3) otherwise keep only the window, and a cached
        // prefix could not be reused.
        .with_swa_full(true)
        // One cache stream per sequence, so a request's keys always start at cell 0 of its
        // own stream. With one shared (unified) stream a request landed at whatever cells were
        // free, the attention sums then ran over its keys in other SIMD lanes, and the same
        // greedy request gave a different text in another slot (seen with JSON grammars, where
        // near-ties decide). Throughput measured the same either way.
        .with_kv_unified(false);
    let mut ctx = match model.new_context(backend, params) {
        Ok(c) => c,
        Err(e) => {
            first.fail(LlmError::OutOfMemory {
                model: spec.name.clone(),
                detail: format!(
                    "could not allocate a context of {} tokens x {} requests ({e}); lower the context length",
                    geometry.per_slot, geometry.slots
                ),
            });
            return End::Idle;
        }
    };
    let architecture = model.meta_val_str("general.architecture").unwrap_or_default();
    let mut server = Server {
        model,
        spec,
        architecture,
        config,
        slots: (0..geometry.slots).map(|i| Slot { seq: i as i32, cached: Vec::new(), active: None, last_used: Instant::now() }).collect(),
        geometry,
        waiting: VecDeque::new(),
        batch: LlamaBatch::new(batch_size as usize, 1),
        capacity: batch_size as usize,
    };
    let mut embed_ctx: Option<LlamaContext<'_>> = None;
    let mut deferred: Option<Command> = None;
    let mut unload = false;
    let mut pending_load_ms = Some(load_ms);
    let mut incoming = Some(first);
    // The model unloads `keep_alive` after its last real work (read each time: the setting
    // can change while it waits, and any command wakes the wait).
    let mut last_work = Instant::now();

    loop {
        if let Some(command) = incoming.take() {
            if matches!(command, Command::Chat(_) | Command::Embed(_) | Command::Load(_)) {
                last_work = Instant::now();
            }
            match command {
                Command::Chat(job) if &job.spec == spec => server.admit(*job, pending_load_ms.take()),
                Command::Embed(job) if &job.spec == spec => {
                    let result = embed(backend, model, &mut embed_ctx, &server.geometry, &job.inputs);
                    let _ = job.reply.send(result);
                }
                Command::Load(job) if &job.spec == spec => {
                    // The caller of an explicit load times it itself; the next request did not wait for it.
                    pending_load_ms = None;
                    let _ = job.reply.send(Ok(()));
                }
                Command::Status(reply) => {
                    let _ = reply.send(server.status());
                }
                Command::Unload => unload = true,
                other => {
                    if deferred.is_none() {
                        deferred = Some(other);
                    } else {
                        // One model switch at a time; the client may retry.
                        other.fail(LlmError::Engine("another model is being loaded; try again".into()));
                    }
                }
            }
            // Take everything that arrived before deciding what to decode.
            if let Ok(more) = inbox.try_recv() {
                incoming = Some(more);
                continue;
            }
        }
        if !server.busy() {
            if let Some(next) = deferred.take() {
                return End::Switch(Box::new(next));
            }
            if unload {
                return End::Unload;
            }
            let unload_at = last_work + keep_alive.get();
            match inbox.recv_timeout(unload_at.saturating_duration_since(Instant::now())) {
                Ok(command) => incoming = Some(command),
                Err(RecvTimeoutError::Timeout) => return End::Idle,
                Err(RecvTimeoutError::Disconnected) => return End::Closed,
            }
            continue;
        }
        server.step(&mut ctx);
        last_work = Instant::now();
        match inbox.try_recv() {
            Ok(command) => incoming = Some(command),
            Err(std::sync::mpsc::TryRecvError::Empty) => {}
            // The engine is gone; finish what runs, then stop.
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                while server.busy() {
                    server.step(&mut ctx);
                }
                return End::Closed;
            }
        }
    }
}

/// A chat prompt's tokens: the template's markup with its control markers parsed, message
/// contents as plain text (see `template.rs`), the model's BOS before the first piece.
///
/// Pieces are tokenized one by one, so no token spans a boundary between markup and content.
/// Templates put a newline or a control token there, where the tokenizers Hearth serves (BPE
/// pre-tokenizers, SentencePiece without a space prefix) split anyway, so ordinary messages
/// get the tokens the joined text would (checked on both test models). The exceptions: a
/// content that starts with spaces (BPE joins a newline and a space; here they stay apart),
/// and a SentencePiece model that adds a space prefix (it would add one to each content).
fn tokenize(vocab: &llama_cpp_2::vocab::LlamaVocab<'_>, pieces: &[template::Piece]) -> Vec<LlamaToken> {
    let mut tokens = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let (text, special) = match piece {
            template::Piece::Markup(t) => (t, true),
            template::Piece::Content(t) => (t, false),
        };
        if !text.is_empty() || i == 0 {
            vocab.tokenize_into(text.as_bytes(), &mut tokens, i == 0, special);
        }
    }
    tokens
}

impl Server<'_> {
    fn busy(&self) -> bool {
        !self.waiting.is_empty() || self.slots.iter().any(|s| s.active.is_some())
    }

    fn status(&self) -> EngineStatus {
        EngineStatus {
            loaded: Some(self.spec.name.clone()),
            context_per_slot: self.geometry.per_slot,
            slots: self.geometry.slots,
            active_requests: (self.slots.iter().filter(|s| s.active.is_some()).count() + self.waiting.len()) as u32,
        }
    }

    /// Formats and tokenizes the prompt, refuses it if it cannot fit, else queues it.
    fn admit(&mut self, job: ChatJob, load_ms: Option<f64>) {
        let prompt = match &job.prompt {
            Prompt::Chat(messages) => tokenize(&self.model.vocab(), &template::pieces(self.model, &self.architecture, messages)),
            // Raw prompts are written whole by the caller, control markers included (editors
            // send fill-in-the-middle markers), so markers are parsed, as llama-server does.
            Prompt::Raw(text) => self.model.vocab().tokenize(text.as_bytes(), true, true),
        };
        // The prompt plus at least one generated token must fit in a slot's context.
        if prompt.is_empty() || prompt.len() as u64 + 1 > u64::from(self.geometry.per_slot) {
            let _ = job.ack.send(Err(LlmError::ContextOverflow { prompt_tokens: prompt.len() as u32, context: self.geometry.per_slot }));
            return;
        }
        let constraint = match job.grammar.as_ref().map(|g| Constraint::new(self.model, g)).transpose() {
            Ok(c) => c,
            Err(e) => {
                let _ = job.ack.send(Err(e));
                return;
            }
        };
        // A tool call's grammar starts only when the model begins a call; it is checked now, so
        // a grammar llama.cpp refuses is the request's error, not a call left unconstrained.
        if let Some(Err(e)) = job.lazy_grammar.as_ref().map(|g| Constraint::new(self.model, g)) {
            let _ = job.ack.send(Err(e));
            return;
        }
        if job.ack.send(Ok(())).is_ok() {
            self.waiting.push_back(Waiting { job, prompt, constraint, load_ms });
        }
    }

    /// Moves waiting requests into free slots. A request reuses the slot whose cache it
    /// shares most of, but only when that keeps at least half of the slot's cache; otherwise
    /// it takes an empty slot or the least recently used one, so one unrelated request cannot
    /// wipe out a long conversation's cache for the sake of a few shared template tokens.
    fn assign(&mut self, ctx: &mut LlamaContext<'_>) {
        // Requests cancelled (or abandoned) while they waited leave without costing anything.
        self.waiting.retain(|w| {
            let gone = w.job.cancel.is_cancelled();
            if gone {
                let _ = w.job.events.send(Ok(ChatEvent::Finished {
                    reason: FinishReason::Cancelled,
                    usage: Usage { prompt_tokens: w.prompt.len() as u32, ..Usage::default() },
                    timings: Timings::default(),
                }));
            }
            !gone
        });
        while let Some(w) = self.waiting.front() {
            let free = || self.slots.iter().enumerate().filter(|(_, s)| s.active.is_none());
            let shared = |s: &Slot| if self.config.prefix_cache { common_prefix(&s.cached, &w.prompt) } else { 0 };
            let reuse =
                free().map(|(i, s)| (i, shared(s))).filter(|&(i, n)| n > 0 && n * 2 >= self.slots[i].cached.len()).max_by_key(|&(_, n)| n);
            let fallback = || free().min_by_key(|(_, s)| (!s.cached.is_empty(), s.last_used)).map(|(i, s)| (i, shared(s)));
            let Some((index, shared)) = reuse.or_else(fallback) else { break };
            let w = self.waiting.pop_front().expect("front exists");
            let slot = &mut self.slots[index];
            // At least the last prompt token is decoded again: its logits start the reply.
            let mut keep = shared.min(w.prompt.len() - 1);
            let removed = ctx.clear_kv_cache_seq(Some(slot.seq as u32), Some(keep as u32), None).unwrap_or(false);
            if !removed {
                let _ = ctx.clear_kv_cache_seq(Some(slot.seq as u32), None, None);
                keep = 0;
            }
            slot.cached.truncate(keep);
            slot.last_used = Instant::now();
            let mut sampler = Sampler::new(&w.job.params);
            let window = w.job.params.repeat_last_n as usize;
            for &t in &w.prompt[w.prompt.len().saturating_sub(window)..] {
                sampler.accept(t.0);
            }
            let text = TextStream::new(&w.job.params.stop);
            let lazy = w.job.lazy_grammar.clone().map(|gbnf| Lazy { gbnf, tail: String::new() });
            let calls = w.job.parse_calls.then(CallParser::new);
            let now = Instant::now();
            tracing::debug!(seq = slot.seq, prompt = w.prompt.len(), cached = keep, "request started");
            slot.active = Some(Active {
                started: w.job.received,
                job: w.job,
                prompt: w.prompt,
                prompt_done: keep,
                cached_prompt: keep,
                sampler,
                constraint: w.constraint,
                lazy,
                calls,
                text,
                pending: None,
                generated: 0,
                load_ms: w.load_ms,
                prompt_started: now,
                first_token: None,
                prompt_finished: None,
            });
        }
    }

    /// One decode step for every active request.
    fn step(&mut self, ctx: &mut LlamaContext<'_>) {
        // Cancelled or abandoned requests end before any more work is spent on them.
        for slot in &mut self.slots {
            if slot.active.as_ref().is_some_and(|a| a.job.cancel.is_cancelled()) {
                finish(slot, FinishReason::Cancelled);
            }
        }
        self.assign(ctx);

        // (slot index, batch index of its logits, tokens added)
        let mut entries: Vec<(usize, Option<i32>, Vec<LlamaToken>)> = Vec::new();
        self.batch.clear();
        // Generating requests first: one token each keeps every reply moving.
        for (i, slot) in self.slots.iter().enumerate() {
            if let Some(a) = &slot.active
                && let Some(token) = a.pending
            {
                let at = self.batch.n_tokens();
                let pos = slot.cached.len() as i32;
                if self.batch.add(token, pos, &[slot.seq], true).is_ok() {
                    entries.push((i, Some(at), vec![token]));
                }
            }
        }
        // Then prompt chunks, as many as fit.
        for (i, slot) in self.slots.iter().enumerate() {
            let Some(a) = &slot.active else { continue };
            if a.pending.is_some() || a.prompt_done >= a.prompt.len() {
                continue;
            }
            let room = self.capacity.saturating_sub(self.batch.n_tokens() as usize);
            if room == 0 {
                break;
            }
            let chunk = &a.prompt[a.prompt_done..(a.prompt_done + room).min(a.prompt.len())];
            let last_of_prompt = a.prompt_done + chunk.len() == a.prompt.len();
            let mut logits_at = None;
            for (k, &token) in chunk.iter().enumerate() {
                let wants_logits = last_of_prompt && k + 1 == chunk.len();
                if wants_logits {
                    logits_at = Some(self.batch.n_tokens());
                }
                let pos = (slot.cached.len() + k) as i32;
                let _ = self.batch.add(token, pos, &[slot.seq], wants_logits);
            }
            entries.push((i, logits_at, chunk.to_vec()));
        }
        if entries.is_empty() {
            return;
        }
        if let Err(e) = ctx.decode(&mut self.batch) {
            tracing::error!(error = %e, "decode failed");
            for (i, _, _) in &entries {
                let slot = &mut self.slots[*i];
                if let Some(a) = slot.active.take() {
                    let _ = a.job.events.send(Err(LlmError::Engine(format!("decoding failed: {e}"))));
                }
                let _ = ctx.clear_kv_cache_seq(Some(slot.seq as u32), None, None);
                slot.cached.clear();
            }
            return;
        }

        let vocab = self.model.vocab();
        for (i, logits_at, tokens) in entries {
            let per_slot = self.geometry.per_slot as usize;
            let slot = &mut self.slots[i];
            slot.cached.extend_from_slice(&tokens);
            let Some(a) = slot.active.as_mut() else { continue };
            if a.pending.take().is_none() {
                a.prompt_done += tokens.len();
            }
            let Some(at) = logits_at else { continue };
            let logits = ctx.get_logits_ith(at);
            let sampled = match a.constraint.as_mut() {
                Some(c) => c.sample(&mut a.sampler, logits),
                None => Ok(a.sampler.sample(logits)),
            };
            let token = match sampled {
                Ok(t) => LlamaToken(t),
                Err(e) => {
                    let _ = a.job.events.send(Err(e));
                    slot.active = None;
                    continue;
                }
            };
            a.sampler.accept(token.0);
            let now = Instant::now();
            if a.first_token.is_none() {
                a.first_token = Some(now);
                a.prompt_finished = Some(now);
            }
            if vocab.is_eog(token) && !a.job.params.ignore_eos {
                finish(slot, FinishReason::Stop);
                continue;
            }
            a.generated += 1;
            let piece = vocab.token_to_piece(token, false, None);
            if let Some(mut lazy) = a.lazy.take() {
                match lazy.watch(&piece) {
                    // The model began a tool call: from here on the call's grammar holds.
                    Some(after) => match Constraint::new(self.model, &lazy.gbnf)
                        .and_then(|mut c| c.accept(&vocab.tokenize(after.as_bytes(), false, false)).map(|()| c))
                    {
                        Ok(c) => a.constraint = Some(c),
                        // What came after the marker in the same token already breaks the
                        // grammar: the call is read as written (and given back as text if it
                        // is none).
                        Err(e) => tracing::debug!(error = %e, "a tool call began outside its grammar"),
                    },
                    None => a.lazy = Some(lazy),
                }
            }
            let step = a.text.push(&piece);
            let events = match a.calls.as_mut() {
                Some(parser) => parser.push(&step.emit),
                None if step.emit.is_empty() => Vec::new(),
                None => vec![ChatEvent::Delta(step.emit)],
            };
            if events.into_iter().any(|e| a.job.events.send(Ok(e)).is_err()) {
                // Nobody is listening any more.
                finish(slot, FinishReason::Cancelled);
                continue;
            }
            if step.stopped {
                finish(slot, FinishReason::Stop);
            } else if a.generated >= a.job.params.max_tokens || slot.cached.len() + 1 >= per_slot {
                finish(slot, FinishReason::Length);
            } else {
                a.pending = Some(token);
            }
        }
    }
}

/// Ends a slot's request: flushes held-back text and sends the final event. The slot keeps
/// its cached tokens for the next request that shares them.
fn finish(slot: &mut Slot, mut reason: FinishReason) {
    let Some(mut a) = slot.active.take() else { return };
    // Text held back as a possible stop string, or an unfinished character, is final now
    // (the stream itself drops everything after a stop string).
    let rest = a.text.finish();
    match a.calls.as_mut() {
        Some(parser) => {
            for event in parser.push(&rest).into_iter().chain(parser.finish()) {
                let _ = a.job.events.send(Ok(event));
            }
            if parser.made_calls() && reason == FinishReason::Stop {
                reason = FinishReason::ToolCalls;
            }
        }
        None if rest.is_empty() => {}
        None => {
            let _ = a.job.events.send(Ok(ChatEvent::Delta(rest)));
        }
    }
    let now = Instant::now();
    let first = a.first_token.unwrap_or(now);
    let prompt_secs = a.prompt_finished.unwrap_or(now).duration_since(a.prompt_started).as_secs_f64();
    let uncached = a.prompt.len().saturating_sub(a.cached_prompt) as f64;
    let decode_secs = now.duration_since(first).as_secs_f64();
    let timings = Timings {
        load_ms: a.load_ms,
        time_to_first_token_ms: first.duration_since(a.started).as_secs_f64() * 1e3,
        prompt_tokens_per_second: if prompt_secs > 0.0 { uncached / prompt_secs } else { 0.0 },
        tokens_per_second: if decode_secs > 0.0 { f64::from(a.generated.saturating_sub(1)) / decode_secs } else { 0.0 },
        total_ms: now.duration_since(a.started).as_secs_f64() * 1e3,
    };
    let usage =
        Usage { prompt_tokens: a.prompt.len() as u32, completion_tokens: a.generated, cached_prompt_tokens: a.cached_prompt as u32 };
    tracing::debug!(seq = slot.seq, reason = reason.as_str(), tokens = a.generated, "request finished");
    let _ = a.job.events.send(Ok(ChatEvent::Finished { reason, usage, timings }));
}

/// Mean-pooled, L2-normalized embeddings, from a context of their own (created on first use).
fn embed<'m>(
    backend: &LlamaBackend,
    model: &'m LlamaModel,
    ctx: &mut Option<LlamaContext<'m>>,
    geometry: &Geometry,
    inputs: &[EmbedInput],
) -> Result<Embeddings, LlmError> {
    const SEQS: u32 = 8;
    const CONTEXT: u32 = 2048;
    if ctx.is_none() {
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(CONTEXT * SEQS))
            .with_n_batch(CONTEXT)
            .with_n_ubatch(CONTEXT)
            .with_n_seq_max(SEQS)
            .with_n_threads(geometry.threads)
            .with_n_threads_batch(geometry.threads)
            .with_embeddings(true)
            .with_pooling_type(LlamaPoolingType::Mean);
        *ctx = Some(
            model.new_context(backend, params).map_err(|e| LlmError::OutOfMemory { model: "embeddings".into(), detail: e.to_string() })?,
        );
    }
    let ctx = ctx.as_mut().expect("created above");
    let vocab = model.vocab();
    let n_vocab = vocab.n_tokens().max(0) as u32;
    let mut tokenized: Vec<Vec<LlamaToken>> = Vec::with_capacity(inputs.len());
    for input in inputs {
        tokenized.push(match input {
            EmbedInput::Text(t) => vocab.tokenize(t.as_bytes(), true, false),
            // llama.cpp aborts the process on a token id outside the vocabulary.
            EmbedInput::Tokens(ids) if ids.is_empty() => {
                return Err(LlmError::Invalid { field: "input", reason: "a token list must not be empty".into() });
            }
            EmbedInput::Tokens(ids) => match ids.iter().find(|&&id| id >= n_vocab) {
                Some(bad) => {
                    return Err(LlmError::Invalid {
                        field: "input",
                        reason: format!("token {bad} is outside the model's vocabulary of {n_vocab}"),
                    });
                }
                None => ids.iter().map(|&id| LlamaToken(id as i32)).collect(),
            },
        });
    }
    // An encoder (BERT) has position embeddings for its training length only: a longer input
    // would read past them, so it is refused like any prompt over the context.
    let limit = match model.n_ctx_train() {
        0 => CONTEXT,
        trained => CONTEXT.min(trained),
    };
    if let Some(long) = tokenized.iter().find(|t| t.len() > limit as usize) {
        return Err(LlmError::ContextOverflow { prompt_tokens: long.len() as u32, context: limit });
    }
    let mut out = Vec::with_capacity(inputs.len());
    let mut batch = LlamaBatch::new(CONTEXT as usize, 1);
    let mut group: Vec<usize> = Vec::new();
    let mut flush = |group: &mut Vec<usize>, batch: &mut LlamaBatch<'_>, out: &mut Vec<Vec<f32>>| -> Result<(), LlmError> {
        if group.is_empty() {
            return Ok(());
        }
        ctx.clear_kv_cache();
        ctx.decode(batch).map_err(|e| LlmError::Engine(format!("embedding failed: {e}")))?;
        for seq in 0..group.len() {
            let v =
                ctx.embeddings_seq_ith(seq as i32).map_err(|_| LlmError::Unsupported("this model gives no pooled embeddings".into()))?;
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
            out.push(v.iter().map(|x| x / norm).collect());
        }
        group.clear();
        batch.clear();
        Ok(())
    };
    for (i, tokens) in tokenized.iter().enumerate() {
        if group.len() == SEQS as usize || batch.n_tokens() as usize + tokens.len() > CONTEXT as usize {
            flush(&mut group, &mut batch, &mut out)?;
        }
        let seq = group.len() as i32;
        for (pos, &t) in tokens.iter().enumerate() {
            batch.add(t, pos as i32, &[seq], true).map_err(|e| LlmError::Engine(e.to_string()))?;
        }
        group.push(i);
    }
    flush(&mut group, &mut batch, &mut out)?;
    let prompt_tokens = tokenized.iter().map(Vec::len).sum::<usize>() as u32;
    Ok(Embeddings { vectors: out, prompt_tokens })
}
