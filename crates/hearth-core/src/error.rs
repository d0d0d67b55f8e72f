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
    /// Sync with the user's Supabase project failed or cannot start.
    #[error(transparent)]
    Sync(#[from] hearth_sync::Error),
    /// As many workflow runs as this app runs at once are going.
    #[error("{limit} workflow runs are already going; try again when one has finished (or cancel one)")]
    TooManyRuns { limit: usize },
    /// The app is stopping: nothing new starts.
    #[error("Hearth is shutting down; try again once it is back")]
    ShuttingDown,
    /// A background job's work failed in a way it did not expect (a bug); the log has more.
    #[error("{0}")]
    Crashed(String),
    /// A file Hearth keeps could not be written (the disk is full, a folder is not writable).
    #[error("{0}")]
    Files(String),
    /// A workflow definition with problems; every one is listed.
    #[error("{}", crate::workflow::describe(.0))]
    Workflow(Vec<crate::workflow::Problem>),
}

hearth_types::text_enum! {
    /// The stable classification every edge maps to its own vocabulary (exit codes, HTTP
    /// statuses, UI messages). New cases are added, never renamed.
    pub enum ErrorCode: "code" {
        NotFound = "not_found",
        Conflict = "conflict",
        Invalid = "invalid",
        Corrupt = "corrupt",
        NewerSchema = "newer_schema",
        Busy = "busy",
        /// The model cannot run here now (not enough memory, the engine failed).
        Unavailable = "unavailable",
        Internal = "internal",
        /// A remote provider failed or refused (its key, the request, a broken answer).
        Upstream = "upstream",
        /// A remote provider asks to slow down.
        RateLimited = "rate_limited",
        /// A workflow definition has problems (the error lists them).
        InvalidWorkflow = "invalid_workflow",
    }
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        use hearth_llm::{LlmError as L, RemoteFailure};
        use hearth_secrets::SecretError;
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
            Error::Invalid(_) => ErrorCode::Invalid,
            Error::Store(s) => store_code(s),
            Error::Sync(e) => sync_code(e),
            Error::Workflow(_) => ErrorCode::InvalidWorkflow,
            Error::ShuttingDown => ErrorCode::Unavailable,
            Error::Crashed(_) => ErrorCode::Internal,
            Error::Files(_) => ErrorCode::Unavailable,
            Error::TooManyRuns { .. } => ErrorCode::RateLimited,
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
            Error::Sync(hearth_sync::Error::AccountChanged { .. }) => Some("local_data"),
            _ => None,
        }
    }
}

fn sync_code(e: &hearth_sync::Error) -> ErrorCode {
    use hearth_sync::Error as Y;
    match e {
        Y::NotConnected | Y::NotSignedIn | Y::Invalid(_) => ErrorCode::Invalid,
        Y::AccountChanged { .. } => ErrorCode::Conflict,
        Y::Offline { .. } => ErrorCode::Unavailable,
        Y::Server { status: 429, .. } => ErrorCode::RateLimited,
        Y::SignIn(_) | Y::Unauthorized { .. } | Y::Server { .. } | Y::Schema(_) | Y::Protocol(_) | Y::Database(_) => ErrorCode::Upstream,
        Y::Store(s) => store_code(s),
        Y::Secrets(hearth_secrets::SecretError::InvalidName(_)) => ErrorCode::Invalid,
        Y::Secrets(_) => ErrorCode::Unavailable,
    }
}

fn store_code(e: &hearth_store::Error) -> ErrorCode {
    use hearth_store::Error as S;
    match e {
        S::Invalid(_) => ErrorCode::Invalid,
        S::NotFound { .. } => ErrorCode::NotFound,
        S::Conflict { .. } => ErrorCode::Conflict,
        S::Corrupt { .. } => ErrorCode::Corrupt,
        S::NewerSchema { .. } => ErrorCode::NewerSchema,
        S::Busy { .. } => ErrorCode::Busy,
        S::Io { .. } | S::Migration { .. } | S::Sqlite(_) => ErrorCode::Internal,
    }
}
