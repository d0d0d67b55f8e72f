//! What the parent and the child say to each other over the child's standard input and
//! output: a request in two parts, and one reply.
//!
//! The request's first line is the [`Header`] (the limits), alone, so that the child can set
//! its resource limits and lock itself down before it reads a byte of the code; the [`Job`]
//! (the code and the inputs) follows and ends at end of input. The reply is one [`Reply`].
//! All of it is JSON. Both sides carry [`VERSION`], so a program from another build of Hearth
//! is told apart from a broken one.

use serde::{Deserialize, Serialize};

use crate::lockdown::Protections;
use crate::{Limits, SandboxError};

/// Bumped whenever any message below changes shape or meaning.
pub(crate) const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Header {
    pub(crate) version: u32,
    pub(crate) limits: Limits,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Job {
    pub(crate) code: String,
    /// The inputs as JSON text, passed to `JSON.parse` as they are.
    pub(crate) inputs: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Reply {
    pub(crate) version: u32,
    /// Which layers of the lock-down were in force when the code ran; `None` when the child
    /// failed before it locked itself down (and so before it read any code).
    pub(crate) protections: Option<Protections>,
    pub(crate) result: Result<serde_json::Map<String, serde_json::Value>, SandboxError>,
}
