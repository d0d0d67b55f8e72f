//! Hearth's model interface: one vocabulary for every model, local or remote.
//!
//! A [`ChatModel`] takes a [`ChatRequest`] and answers with a [`ChatStream`] of
//! [`ChatEvent`]s: the reply's text as it is produced, then one `Finished` with the finish
//! reason, token usage and timings. A [`CancellationToken`] stops a reply early; the stream then
//! ends with `FinishReason::Cancelled`. Errors are [`LlmError`] values, each naming what a
//! caller can act on (a bad field, a missing model, a prompt too long for the context).
//!
//! The stream is a plain channel so that a synchronous caller (the CLI) can iterate it and an
//! async one (the HTTP server) can drain it from a blocking task. `hearth-llama` runs GGUF
//! models in-process; [`remote`] speaks to providers over HTTP (OpenAI-compatible APIs and
//! Anthropic's Messages API) and maps their streams onto the same events. [`fetch`] makes
//! plain HTTP requests (workflow `http` nodes) on the same stack.

pub mod download;
mod error;
pub mod fetch;
mod params;
pub mod remote;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
mod tools;

use std::sync::mpsc::Receiver;

use hearth_types::Role;
use serde::{Deserialize, Serialize};

pub use error::{LlmError, RemoteFailure};
pub use params::{ResponseFormat, SamplingParams};
pub use tools::{Tool, ToolCall, ToolCalls, ToolChoice, call_id};

/// One turn of the conversation sent to a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    /// The calls an assistant turn made, after its text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// A `tool` turn's answer is to this call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: content.into(), tool_calls: Vec::new(), tool_call_id: None }
    }

    /// An assistant turn that called tools (its text may be empty).
    pub fn calls(content: impl Into<String>, tool_calls: Vec<ToolCall>) -> Self {
        Self { tool_calls, ..Self::new(Role::Assistant, content) }
    }

    /// A tool's answer to call `id`.
    pub fn tool_result(id: impl Into<String>, content: impl Into<String>) -> Self {
        Self { tool_call_id: Some(id.into()), ..Self::new(Role::Tool, content) }
    }
}

/// A request for a reply from the model named `model`.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub params: SamplingParams,
    /// Functions the model may call.
    pub tools: Vec<Tool>,
    /// Whether and which of `tools` the model may call.
    pub tool_choice: ToolChoice,
    /// Several calls in one turn. `None` leaves it to the model's own default (the local
    /// engine: one call).
    pub parallel_tool_calls: Option<bool>,
    /// Models to try in order when `model` fails before answering. Only a router acts on
    /// it; a single model ignores it.
    pub fallbacks: Vec<String>,
}

impl ChatRequest {
    pub fn new(model: impl Into<String>, messages: Vec<ChatMessage>, params: SamplingParams) -> Self {
        Self {
            model: model.into(),
            messages,
            params,
            tools: Vec::new(),
            tool_choice: ToolChoice::Auto,
            parallel_tool_calls: None,
            fallbacks: Vec::new(),
        }
    }
}

/// A request to continue raw text (no chat template): the legacy completions API, editor
/// autocomplete.
#[derive(Clone, Debug, PartialEq)]
pub struct CompletionRequest {
    pub model: String,
    pub prompt: String,
    pub params: SamplingParams,
}

/// What to embed: text, or token ids of the model's own vocabulary (as the OpenAI API allows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmbedInput {
    Text(String),
    Tokens(Vec<u32>),
}

/// Embeddings of several inputs, in their order, and the tokens they took.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Embeddings {
    /// One pooled, L2-normalized vector per input.
    pub vectors: Vec<Vec<f32>>,
    pub prompt_tokens: u32,
}

hearth_types::text_enum! {
    /// Why a reply ended.
    pub enum FinishReason: "finish_reason" {
        /// The model ended its turn, or a stop string appeared.
        Stop = "stop",
        /// `max_tokens` (or the context) ran out.
        Length = "length",
        /// The caller cancelled.
        Cancelled = "cancelled",
        /// The model stopped to call tools.
        ToolCalls = "tool_calls",
    }
}

/// Token counts for one reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// Prompt tokens that were already in the model's cache and not processed again.
    pub cached_prompt_tokens: u32,
}

/// Where the time went, in milliseconds and tokens per second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Loading the model for this request, when it was not loaded yet.
    pub load_ms: Option<f64>,
    /// From the request reaching the model to the first token sampled.
    pub time_to_first_token_ms: f64,
    /// Prompt processing speed (uncached prompt tokens / processing time).
    pub prompt_tokens_per_second: f64,
    /// Generation speed after the first token.
    pub tokens_per_second: f64,
    pub total_ms: f64,
}

/// What a stream carries.
#[derive(Clone, Debug, PartialEq)]
pub enum ChatEvent {
    /// More of the reply. Always whole UTF-8 characters, never part of a stop string.
    Delta(String),
    /// More of a tool call, OpenAI's delta shape: the first piece of call `index` carries its
    /// `id` and `name`, later pieces more of its JSON `arguments`.
    ToolCall { index: u32, id: Option<String>, name: Option<String>, arguments: String },
    /// The request's model failed before answering and a router moved on to `to` (see
    /// [`ChatRequest::fallbacks`]); comes before any text.
    Fallback { from: String, to: String, reason: String },
    /// The reply is over.
    Finished { reason: FinishReason, usage: Usage, timings: Timings },
}

/// A whole reply, read from its stream.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub reason: FinishReason,
    pub usage: Usage,
    pub timings: Timings,
}

/// A reply in progress. Iterate it for events; it ends after `Finished` or an error.
/// Dropping it cancels the reply.
#[derive(Debug)]
pub struct ChatStream {
    events: Receiver<Result<ChatEvent, LlmError>>,
    cancel: CancellationToken,
}

impl ChatStream {
    pub fn new(events: Receiver<Result<ChatEvent, LlmError>>, cancel: CancellationToken) -> Self {
        Self { events, cancel }
    }

    /// Drops a stream that has already ended without cancelling its token, which the caller
    /// may share with other work (a router moving on to the next model).
    pub fn release(mut self) {
        self.cancel = CancellationToken::new();
    }

    /// The next event if one is already waiting; never blocks.
    pub fn try_next(&mut self) -> Option<Result<ChatEvent, LlmError>> {
        self.events.try_recv().ok()
    }

    /// Reads the whole reply: its text and how it finished.
    pub fn collect_text(self) -> Result<(String, FinishReason, Usage, Timings), LlmError> {
        let reply = self.collect_reply()?;
        Ok((reply.text, reply.reason, reply.usage, reply.timings))
    }

    /// Reads the whole reply, tool calls included.
    pub fn collect_reply(self) -> Result<Reply, LlmError> {
        let mut text = String::new();
        let mut calls = ToolCalls::default();
        for event in self {
            match event? {
                ChatEvent::Delta(d) => text.push_str(&d),
                ChatEvent::ToolCall { index, id, name, arguments } => calls.push(index, id, name, &arguments),
                ChatEvent::Fallback { .. } => {}
                ChatEvent::Finished { reason, usage, timings } => {
                    return Ok(Reply { text, tool_calls: calls.into_vec(), reason, usage, timings });
                }
            }
        }
        Err(LlmError::Engine("the reply ended without finishing".into()))
    }
}

impl Iterator for ChatStream {
    type Item = Result<ChatEvent, LlmError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.events.recv().ok()
    }
}

impl Drop for ChatStream {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Stops a reply (and anything else Hearth cancels): tokio's token, the one cancel type of
/// the whole project. Clones share it, cancelling is idempotent, and a child token
/// (`child_token`) is cancelled with its parent, which is how a server's shutdown reaches
/// every request it runs. Checking it needs no runtime, so the engine's threads poll it too.
pub use tokio_util::sync::CancellationToken;

/// Anything that can answer a chat: the local engine, a remote provider, Core's router over both.
pub trait ChatModel: Send + Sync {
    /// Starts a reply. Errors found before generation starts (a bad parameter, an unknown
    /// model, a prompt longer than the context) come back here; later ones in the stream.
    fn chat(&self, request: ChatRequest, cancel: CancellationToken) -> Result<ChatStream, LlmError>;

    /// One embedding per text, pooled and L2-normalized.
    fn embed(&self, model: &str, inputs: &[EmbedInput]) -> Result<Embeddings, LlmError>;

    /// Continues raw text. Models that only chat refuse it.
    fn complete(&self, request: CompletionRequest, cancel: CancellationToken) -> Result<ChatStream, LlmError> {
        let _ = (request, cancel);
        Err(LlmError::Unsupported("this model only takes chat requests".into()))
    }
}

/// Managing the models a [`ChatModel`] runs: what the HTTP API's model routes need beyond
/// chatting. The local engine implements it; the registry itself lives in Core.
pub trait ModelHost: ChatModel {
    /// Loads a model now (instead of on its first request).
    fn load(&self, model: &str) -> Result<(), LlmError>;
    /// Unloads the loaded model once its requests are done.
    fn unload(&self);
    /// The model loaded right now, if any.
    fn loaded(&self) -> Option<String>;
    /// How long an idle model stays loaded, from now on (hosts without one ignore it).
    fn set_keep_alive(&self, _keep_alive: std::time::Duration) {}
}

/// Cosine similarity of two normalized embeddings (their dot product).
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
