//! Errors from models, with the cases callers branch on.

/// Why a model could not answer.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// A request parameter is out of range.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// No model by that name is known.
    #[error("model {0:?} is not installed (see `hearth models list`)")]
    ModelNotFound(String),
    /// No model was named and there is no default model.
    #[error("no model is installed: `make run` fetches the default model, or `hearth models import PATH` adds one")]
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
}
