//! Core's error: what went wrong in terms a surface can act on, with a stable code per case.

use hearth_types::ValidationError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] hearth_store::Error),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Model(#[from] hearth_llm::LlmError),
    /// The keychain is locked, absent or failed. Nothing was stored elsewhere.
    #[error(transparent)]
    Secrets(#[from] hearth_secrets::SecretError),
}

/// The stable classification every edge maps to its own vocabulary (exit codes, HTTP
/// statuses, UI messages). New cases are added, never renamed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    NotFound,
    Conflict,
    Invalid,
    Corrupt,
    NewerSchema,
    Busy,
    /// The model cannot run here now (not enough memory, the engine failed).
    Unavailable,
    Internal,
    /// A remote provider failed or refused (its key, the request, a broken answer).
    Upstream,
    /// A remote provider asks to slow down.
    RateLimited,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Invalid => "invalid",
            ErrorCode::Corrupt => "corrupt",
            ErrorCode::NewerSchema => "newer_schema",
            ErrorCode::Busy => "busy",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::Upstream => "upstream",
            ErrorCode::RateLimited => "rate_limited",
        }
    }
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        use hearth_llm::{LlmError as L, RemoteFailure};
        use hearth_secrets::SecretError;
        use hearth_store::Error as S;
        match self {
            Error::Model(L::Invalid { .. } | L::ContextOverflow { .. } | L::Load { .. } | L::Unsupported(_)) => ErrorCode::Invalid,
            Error::Model(L::ModelNotFound(_) | L::NoDefaultModel) => ErrorCode::NotFound,
            Error::Model(L::OutOfMemory { .. } | L::Engine(_)) => ErrorCode::Unavailable,
            Error::Model(L::Remote { failure, .. }) => match failure {
                RemoteFailure::NoKey => ErrorCode::Invalid,
                RemoteFailure::RateLimited { .. } => ErrorCode::RateLimited,
                RemoteFailure::CircuitOpen { .. } => ErrorCode::Unavailable,
                _ => ErrorCode::Upstream,
            },
            Error::Secrets(SecretError::InvalidName(_)) => ErrorCode::Invalid,
            Error::Secrets(_) => ErrorCode::Unavailable,
            Error::Invalid(_) | Error::Store(S::Invalid(_)) => ErrorCode::Invalid,
            Error::Store(S::NotFound { .. }) => ErrorCode::NotFound,
            Error::Store(S::Conflict { .. }) => ErrorCode::Conflict,
            Error::Store(S::Corrupt { .. }) => ErrorCode::Corrupt,
            Error::Store(S::NewerSchema { .. }) => ErrorCode::NewerSchema,
            Error::Store(S::Busy { .. }) => ErrorCode::Busy,
            Error::Store(S::Io { .. } | S::Migration { .. } | S::Sqlite(_)) => ErrorCode::Internal,
        }
    }

    /// The input field at fault, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        use hearth_store::Error as S;
        match self {
            Error::Invalid(v) | Error::Store(S::Invalid(v)) => Some(v.field),
            Error::Model(hearth_llm::LlmError::Invalid { field, .. }) => Some(field),
            Error::Model(hearth_llm::LlmError::ModelNotFound(_) | hearth_llm::LlmError::NoDefaultModel) => Some("model"),
            Error::Store(S::NotFound { field, .. } | S::Conflict { field, .. }) => Some(field),
            _ => None,
        }
    }
}
