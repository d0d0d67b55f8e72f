//! How a command fails: [`Failure`], each kind with the exit code scripts can rely on.
//!
//! Exit codes are stable so scripts can branch on them. [`Failure::exit_code`] is the one
//! mapping (2, usage, is clap's); [`EXIT_CODES`] lists them for `--help`, and the README's
//! "Using the CLI" repeats that list: change all three together.

use hearth_core::ErrorCode;

pub(crate) const EXIT_CODES: &str = "Exit codes: 0 ok, 1 internal error, 2 usage, 3 invalid input, 4 not found, \
                          5 conflict, 6 unusable database, 7 database locked, 8 model or keychain unavailable, \
                          9 remote provider failed, 10 rate limited, 11 a workflow run failed, 130 interrupted (Ctrl-C).";

/// Errors that end the command, each with the exit code scripts can rely on.
#[derive(Debug)]
pub(crate) enum Failure {
    Core(hearth_core::Error),
    /// Ctrl-C ended the command; what it had done is saved.
    Interrupted,
    /// The database opened but is not sound (doctor's integrity check failed).
    Unusable(anyhow::Error),
    /// The work ran and failed (a workflow run); its record says why.
    Failed(String),
    /// A model could not be had (a download that did not finish); the message says what next.
    Unavailable(String),
    Other(anyhow::Error),
}

impl From<hearth_core::Error> for Failure {
    fn from(e: hearth_core::Error) -> Self {
        Failure::Core(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

impl From<hearth_types::ValidationError> for Failure {
    fn from(e: hearth_types::ValidationError) -> Self {
        Failure::Core(e.into())
    }
}

impl Failure {
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Failure::Core(e) => match e.code() {
                ErrorCode::Internal => 1,
                ErrorCode::Invalid | ErrorCode::InvalidWorkflow => 3,
                ErrorCode::NotFound => 4,
                ErrorCode::Conflict => 5,
                ErrorCode::Corrupt | ErrorCode::NewerSchema => 6,
                ErrorCode::Busy => 7,
                ErrorCode::Unavailable => 8,
                ErrorCode::Upstream => 9,
                ErrorCode::RateLimited => 10,
            },
            Failure::Interrupted => 130,
            Failure::Unusable(_) => 6,
            Failure::Failed(_) => 11,
            Failure::Unavailable(_) => 8,
            Failure::Other(_) => 1,
        }
    }
}

pub(crate) type CmdResult = Result<(), Failure>;
