//! The one validation error every constructor in this crate returns.
//!
//! It names the field so that a CLI flag, an API body or a form can point at the exact input
//! that was wrong.

/// A value was rejected; `field` names the input, `reason` says what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ValidationError {
    pub field: &'static str,
    pub reason: String,
}

impl ValidationError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self { field, reason: reason.into() }
    }
}
