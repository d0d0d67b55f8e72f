//! Errors from models, with the cases callers branch on.

use std::time::Duration;

/// Why a model could not answer.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// A request parameter is out of range.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// No model by that name is known.
    #[error("model {0:?} is not installed (see `hearth models list`; `hearth models fetch` downloads the default model)")]
    ModelNotFound(String),
    /// No model was named and there is no default model.
    #[error(
        "no local model yet: `hearth models fetch` downloads the default one (SmolLM2 135M Instruct, 93 MB), or `hearth models import PATH` adds a GGUF file you have"
    )]
    NoDefaultModel,
    /// The model file could not be loaded.
    #[error("could not load model {model}: {reason}")]
    Load { model: String, reason: String },
    /// Loading or running the model needs more memory than there is.
    #[error("not enough memory for model {model}: {detail}")]
    OutOfMemory { model: String, detail: String },
    /// The prompt does not fit the model's context.
    #[error("the prompt is {prompt_tokens} tokens but the context holds {context}; shorten the conversation")]
    ContextOverflow { prompt_tokens: u32, context: u32 },
    /// The model's architecture or format is not supported by this build.
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// The engine failed (a bug or a broken environment).
    #[error("inference failed: {0}")]
    Engine(String),
    /// A remote provider could not be reached or did not answer properly.
    #[error("provider {provider}: {failure}")]
    Remote { provider: String, failure: RemoteFailure },
}

impl LlmError {
    pub fn remote(provider: impl Into<String>, failure: RemoteFailure) -> Self {
        LlmError::Remote { provider: provider.into(), failure }
    }

    /// Whether another model might answer where this one failed: a router's fallback chain
    /// moves on for anything but a request that is wrong in itself.
    pub fn falls_back(&self) -> bool {
        !matches!(self, LlmError::Invalid { .. })
    }
}

/// How a remote provider failed. Every message names what the user can do about it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RemoteFailure {
    /// The provider needs a key and none is set.
    #[error("no API key is set (`hearth providers key set NAME`)")]
    NoKey,
    /// 401 or 403: the key was refused.
    #[error("the API key was refused (HTTP {status}); set a new one with `hearth providers key set NAME`")]
    KeyRefused { status: u16 },
    /// Connecting failed (DNS, refused, TLS, reset before an answer).
    #[error("could not connect: {0}")]
    Unreachable(String),
    /// No answer in time; `phase` says which wait ran out.
    #[error("timed out waiting for {phase} after {}s", .after.as_secs_f32())]
    Timeout { phase: &'static str, after: Duration },
    /// 429.
    #[error("rate limited (HTTP 429){}", retry_hint(*.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    /// A 5xx answer.
    #[error("the provider failed (HTTP {status}): {message}")]
    Server { status: u16, message: String },
    /// Another 4xx: the provider refused the request (an unknown model, a bad parameter).
    #[error("the provider refused the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    /// The answer is not the API's: HTML, garbage, a malformed event stream.
    #[error("bad answer: {0}")]
    BadResponse(String),
    /// The provider reported an error inside the stream.
    #[error("the provider reported an error mid-reply: {0}")]
    StreamError(String),
    /// The connection broke or the stream ended before the reply finished.
    #[error("the connection broke mid-reply: {0}")]
    Interrupted(String),
    /// A redirect to another scheme, host or port, not followed so the key stays with the
    /// host the user configured.
    #[error(
        "the provider redirected (HTTP {status}) to another host, {to}; not followed, so the key is not sent there (if that address is right, make it the base URL and set the key again)"
    )]
    Redirected { status: u16, to: String },
    /// Too many recent failures: calls are held back until `retry_in` has passed.
    #[error("paused after repeated failures; trying again in {}s", .retry_in.as_secs().max(1))]
    CircuitOpen { retry_in: Duration },
}

fn retry_hint(after: Option<Duration>) -> String {
    after.map(|d| format!("; retry after {}s", d.as_secs().max(1))).unwrap_or_default()
}

impl RemoteFailure {
    /// Worth trying the same provider again (before any token was streamed).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            RemoteFailure::Unreachable(_)
                | RemoteFailure::Timeout { .. }
                | RemoteFailure::RateLimited { .. }
                | RemoteFailure::Server { .. }
                | RemoteFailure::Interrupted(_)
                | RemoteFailure::StreamError(_)
        )
    }

    /// Counts against the provider's health (a refused request or key does not: the
    /// provider itself answered fine).
    pub fn is_outage(&self) -> bool {
        self.is_transient()
    }

    /// What the provider asked us to wait.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RemoteFailure::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}
