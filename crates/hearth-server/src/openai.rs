//! The OpenAI-compatible API under `/v1`: models, chat completions, legacy completions and
//! embeddings, in OpenAI's wire format, so the openai SDKs and editors work unchanged.
//!
//! Requests are translated into Hearth's model vocabulary (`hearth-llm`) and answered by the
//! model host; nothing here is stored (the app API is the one with chats). Where OpenAI's
//! format has no word for something Hearth does, the closest is used: a reply stopped by
//! server shutdown reports `finish_reason: "stop"`.
//!
//! One file per route under `openai/`; this one holds what they share: the sampling fields,
//! usage, starting a model request in an in-flight place and streaming it as SSE chunks.

pub(crate) mod chat;
pub(crate) mod completions;
pub(crate) mod embeddings;
pub(crate) mod models;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use hearth_llm::{CancellationToken, ChatEvent, ChatStream, FinishReason, LlmError, Reply, SamplingParams, Usage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::limits::Slot;
use crate::{AppState, blocking};

// ------------------------------------------------------------------ request pieces

/// `stop`: one string or several.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub(crate) struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct JsonSchemaFormat {
    #[serde(default)]
    #[allow(dead_code)] // part of OpenAI's format; the schema alone decides the grammar
    name: Option<String>,
    /// The JSON Schema the reply must match.
    #[schema(value_type = Object)]
    schema: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ResponseFormatIn {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchemaFormat },
}

/// Sampling fields shared by chat and legacy completions (plus llama.cpp's extensions).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub(crate) struct Sampling {
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    /// Extension: keep only the k most likely tokens (0 keeps all).
    top_k: Option<u32>,
    /// Extension: drop tokens less likely than this fraction of the best one.
    min_p: Option<f32>,
    /// Extension: 1.0 is off.
    repeat_penalty: Option<f32>,
    /// Same seed, prompt and settings give the same text. Random when absent.
    seed: Option<i64>,
    stop: Option<Stop>,
    /// Extension: keep generating past the end of the turn, up to `max_tokens` (benchmarks).
    #[serde(default)]
    ignore_eos: bool,
    /// Only 1 is supported.
    n: Option<u32>,
}

impl Sampling {
    fn params(&self) -> ApiResult<SamplingParams> {
        if let Some(n) = self.n
            && n != 1
        {
            return Err(ApiError::invalid("n", "only n = 1 is supported"));
        }
        // OpenAI's API has no repeat penalty, and it hurts code and JSON: off unless asked.
        let mut p = SamplingParams { repeat_penalty: 1.0, ..SamplingParams::default() };
        if let Some(t) = self.temperature {
            p.temperature = t;
        }
        if let Some(v) = self.top_p {
            p.top_p = v;
        }
        if let Some(v) = self.top_k {
            p.top_k = v;
        }
        if let Some(v) = self.min_p {
            p.min_p = v;
        }
        if let Some(v) = self.repeat_penalty {
            p.repeat_penalty = v;
        }
        if let Some(v) = self.max_completion_tokens.or(self.max_tokens) {
            p.max_tokens = v;
        }
        p.seed = match self.seed {
            Some(s) => s as u64,
            None => random_seed(),
        };
        p.stop = match &self.stop {
            None => Vec::new(),
            Some(Stop::One(s)) => vec![s.clone()],
            Some(Stop::Many(v)) => v.clone(),
        };
        if p.stop.len() > 4 {
            return Err(ApiError::invalid("stop", "at most 4 stop sequences"));
        }
        p.ignore_eos = self.ignore_eos;
        p.validate()?;
        Ok(p)
    }
}

fn random_seed() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Length => "length",
        FinishReason::Stop | FinishReason::Cancelled => "stop",
        FinishReason::ToolCalls => "tool_calls",
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UsageOut {
    prompt_tokens: u32,
    completion_tokens: u32,
    total_tokens: u32,
    prompt_tokens_details: PromptTokensDetails,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PromptTokensDetails {
    /// Prompt tokens found in the prefix cache, not processed again.
    cached_tokens: u32,
}

impl From<Usage> for UsageOut {
    fn from(u: Usage) -> Self {
        Self {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.prompt_tokens + u.completion_tokens,
            prompt_tokens_details: PromptTokensDetails { cached_tokens: u.cached_prompt_tokens },
        }
    }
}

/// `"default"` (or nothing) means the default model.
async fn model_name(state: &AppState, requested: &str) -> ApiResult<String> {
    if !requested.trim().is_empty() && requested != "default" {
        return Ok(requested.to_owned());
    }
    let default = blocking(state, |core| core.default_model()).await?;
    default.map(|m| m.name).ok_or_else(|| ApiError::from(LlmError::NoDefaultModel))
}

// ------------------------------------------------------------------ streams

/// A model request that the model host accepted, with the place it holds (dropping it
/// cancels the request).
pub(crate) struct Started {
    stream: ChatStream,
    guard: Slot,
}

/// Starts a model request on a blocking thread, so that refusals (unknown model, prompt too
/// long, bad parameters) become the HTTP status before any body is sent.
async fn start(
    state: &AppState,
    begin: impl FnOnce(CancellationToken) -> Result<ChatStream, LlmError> + Send + 'static,
) -> ApiResult<Started> {
    let guard = state.room.take()?;
    let token = guard.cancel_token();
    let stream = tokio::task::spawn_blocking(move || begin(token)).await.map_err(ApiError::internal)??;
    Ok(Started { stream, guard })
}

/// Reads a whole reply.
async fn collect(state: &AppState, started: Started) -> ApiResult<Reply> {
    let Started { stream, guard } = started;
    let result = tokio::task::spawn_blocking(move || stream.collect_reply()).await;
    drop(guard);
    let reply = result.map_err(ApiError::internal)??;
    state.metrics.observe_reply(&reply.usage, &reply.timings);
    Ok(reply)
}

/// Streams a reply as OpenAI's server-sent events: `first`, then the chunk `chunk` makes of
/// each model event, then (with `include_usage`) a copy of the last chunk with usage and empty
/// `choices`, then `[DONE]`. An error mid-stream is sent as `{"error": ...}`, which the SDKs
/// raise.
fn openai_stream(
    state: AppState,
    started: Started,
    first: Value,
    include_usage: bool,
    mut chunk: impl FnMut(ChatEvent) -> Option<Value> + Send + 'static,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Value>(64);
    let Started { stream, guard } = started;
    let metrics = state.metrics.clone();
    metrics.active_streams.inc();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let _ = tx.blocking_send(first);
        'events: for event in stream {
            let out = match event {
                Ok(ChatEvent::Finished { reason, usage, timings }) => {
                    metrics.observe_reply(&usage, &timings);
                    let last = chunk(ChatEvent::Finished { reason, usage, timings }).unwrap_or_else(|| json!({}));
                    let mut out = vec![last.clone()];
                    if include_usage {
                        let mut usage_chunk = last;
                        usage_chunk["choices"] = json!([]);
                        usage_chunk["usage"] = json!(UsageOut::from(usage));
                        out.push(usage_chunk);
                    }
                    out
                }
                Ok(event) => chunk(event).into_iter().collect(),
                Err(e) => vec![json!({ "error": ApiError::from(e).object() })],
            };
            for chunk in out {
                if tx.blocking_send(chunk).is_err() {
                    break 'events; // the client went away; dropping the stream cancels the reply
                }
            }
        }
        metrics.active_streams.dec();
    });
    let events = ReceiverStream::new(rx)
        .map(|chunk| Ok::<_, std::convert::Infallible>(Event::default().data(chunk.to_string())))
        .chain(tokio_stream::once(Ok(Event::default().data("[DONE]"))))
        // Held by the body: dropping the response (client gone) cancels the model request.
        .map(move |e| {
            let _ = &guard;
            e
        });
    Sse::new(events).keep_alive(KeepAlive::default()).into_response()
}
