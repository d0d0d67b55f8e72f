//! The engine's public handle: the request channel and [`ChatModel`].
//!
//! [`LlamaEngine`] validates a request, resolves the model name to a file, hands the request
//! to the worker thread and waits for the worker to accept it (model loaded, prompt
//! tokenized and known to fit), so those errors come back from `chat` itself. Dropping the
//! engine closes the channel; the worker finishes and is joined.

use std::sync::Arc;
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hearth_llm::{
    CancellationToken, ChatModel, ChatRequest, ChatStream, CompletionRequest, EmbedInput, Embeddings, LlmError, ModelHost, SamplingParams,
};

use crate::config::{EngineConfig, EngineStatus, Resolver};
use crate::grammar::Gbnf;
use crate::tools::Plan;
use crate::worker::{self, ChatJob, Command, EmbedJob, LoadJob, Prompt};

/// The local inference engine. See the crate docs.
pub struct LlamaEngine {
    commands: Sender<Command>,
    keep_alive: Arc<worker::KeepAlive>,
    worker: Option<JoinHandle<()>>,
    resolve: Resolver,
}

impl std::fmt::Debug for LlamaEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlamaEngine").finish_non_exhaustive()
    }
}

impl LlamaEngine {
    pub fn new(config: EngineConfig, resolve: Resolver) -> Self {
        let (commands, inbox) = mpsc::channel();
        let keep_alive = Arc::new(worker::KeepAlive::new(config.keep_alive));
        let shared = keep_alive.clone();
        let worker = std::thread::Builder::new()
            .name("hearth-llama".into())
            .spawn(move || worker::run(config, shared, inbox))
            .expect("spawning the inference thread");
        Self { commands, keep_alive, worker: Some(worker), resolve }
    }

    /// Changes how long an idle model stays loaded, from now on: a model already idle for
    /// longer than the new time unloads at once.
    pub fn set_keep_alive(&self, keep_alive: Duration) {
        self.keep_alive.set(keep_alive);
        // Any command wakes the worker's wait, which then reads the new time.
        let (reply, _) = mpsc::channel();
        let _ = self.commands.send(Command::Status(reply));
    }

    pub fn status(&self) -> EngineStatus {
        let (reply, answer) = mpsc::channel();
        if self.commands.send(Command::Status(reply)).is_err() {
            return EngineStatus::default();
        }
        answer.recv().unwrap_or_default()
    }

    /// Unloads the model once the requests in flight are done.
    pub fn unload(&self) {
        let _ = self.commands.send(Command::Unload);
    }

    /// Hands a generation request to the worker and waits until it is accepted.
    /// `tools`: a chat's tool plan, whose messages are already in `prompt`.
    fn start(
        &self,
        model: &str,
        prompt: Prompt,
        params: SamplingParams,
        tools: Option<Plan>,
        cancel: CancellationToken,
    ) -> Result<ChatStream, LlmError> {
        params.validate()?;
        let spec = (self.resolve)(model)?;
        let tools = tools.unwrap_or(Plan { messages: Vec::new(), eager: None, lazy: None, parse: false });
        let tool_grammar = |text| Gbnf { text, field: "tools" };
        let grammar = match tools.eager {
            Some(text) => Some(tool_grammar(text)),
            None => params.format.as_ref().map(crate::grammar::gbnf).transpose()?,
        };
        let (ack, accepted) = mpsc::sync_channel(1);
        let (events, stream) = mpsc::channel();
        let job = ChatJob {
            spec,
            prompt,
            params,
            grammar,
            lazy_grammar: tools.lazy.map(tool_grammar),
            parse_calls: tools.parse,
            cancel: cancel.clone(),
            events,
            ack,
            received: Instant::now(),
        };
        self.send(Command::Chat(Box::new(job)))?;
        match accepted.recv() {
            Ok(Ok(())) => Ok(ChatStream::new(stream, cancel)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(LlmError::Engine("the inference thread stopped before taking the request".into())),
        }
    }

    fn send(&self, command: Command) -> Result<(), LlmError> {
        self.commands.send(command).map_err(|_| LlmError::Engine("the inference thread has stopped".into()))
    }
}

impl Drop for LlamaEngine {
    fn drop(&mut self) {
        // Closing the channel ends the worker's loop; requests in flight see their streams end.
        let (closed, _) = mpsc::channel();
        self.commands = closed;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl ChatModel for LlamaEngine {
    fn chat(&self, request: ChatRequest, cancel: CancellationToken) -> Result<ChatStream, LlmError> {
        if request.messages.is_empty() {
            return Err(LlmError::Invalid { field: "messages", reason: "must hold at least one message".into() });
        }
        let mut plan = crate::tools::plan(&request)?;
        let messages = std::mem::take(&mut plan.messages);
        self.start(&request.model, Prompt::Chat(messages), request.params, Some(plan), cancel)
    }

    fn complete(&self, request: CompletionRequest, cancel: CancellationToken) -> Result<ChatStream, LlmError> {
        if request.prompt.is_empty() {
            return Err(LlmError::Invalid { field: "prompt", reason: "must not be empty".into() });
        }
        self.start(&request.model, Prompt::Raw(request.prompt), request.params, None, cancel)
    }

    fn embed(&self, model: &str, inputs: &[EmbedInput]) -> Result<Embeddings, LlmError> {
        if inputs.is_empty() {
            return Ok(Embeddings::default());
        }
        let spec = (self.resolve)(model)?;
        let (reply, answer) = mpsc::channel();
        self.send(Command::Embed(EmbedJob { spec, inputs: inputs.to_vec(), reply }))?;
        answer.recv().map_err(|_| LlmError::Engine("the inference thread stopped before answering".into()))?
    }
}

impl ModelHost for LlamaEngine {
    fn load(&self, model: &str) -> Result<(), LlmError> {
        let spec = (self.resolve)(model)?;
        let (reply, answer) = mpsc::channel();
        self.send(Command::Load(LoadJob { spec, reply }))?;
        answer.recv().map_err(|_| LlmError::Engine("the inference thread stopped before answering".into()))?
    }

    fn unload(&self) {
        LlamaEngine::unload(self);
    }

    fn loaded(&self) -> Option<String> {
        self.status().loaded
    }

    fn set_keep_alive(&self, keep_alive: Duration) {
        LlamaEngine::set_keep_alive(self, keep_alive);
    }
}
