//! Hearth's JavaScript sandbox: runs the code of a workflow "code" node, and nothing else.
//!
//! The code defines `function main(inputs) { ... return {...}; }`. [`run`] hands it to a child
//! process, this crate's `hearth-sandbox` program, which locks itself down, evaluates the code
//! in a fresh QuickJS runtime, calls `main` with the inputs and answers with what `main`
//! returned, which must be a plain object. Inputs and result cross every boundary as JSON text
//! (`JSON.parse` inside, `JSON.stringify` on the way out), so what the code sees and what the
//! caller gets are exactly what JSON can say. `main` may be `async`: the promise's jobs run
//! until it settles.
//!
//! Why a process: the caller holds the API token, the keychain session and the database. Code
//! that found a way out of QuickJS in the caller's process would have all three; in the child
//! it finds a process that can read its standard input, write its standard output, and little
//! else. One process per run, so nothing is left over between runs.
//!
//! A run, step by step (`process.rs` is the parent's side, `child.rs` and `lockdown.rs` the
//! child's):
//! 1. The parent finds the program ([`Sandbox::locate`]), starts it with an empty environment
//!    (but `TZ`) in `/`, and writes the request to its standard input: one line with the
//!    [`Limits`], then the code and the inputs.
//! 2. The child reads the limits line, loads the time zone (so `Date` keeps the host's local
//!    time), and locks itself down ([`lockdown::apply`]) before it reads the code. On Linux:
//!    resource limits (address space and data a few times the memory limit, CPU time, no
//!    file written, no core dump), `PR_SET_NO_NEW_PRIVS`, a Landlock ruleset that allows no
//!    file access and no TCP bind or connect, and a seccomp filter that allows only what
//!    QuickJS and the Rust runtime use (standard input, output and error, anonymous
//!    non-executable memory, threads but no processes, futexes, clocks, signals to itself).
//! 3. The child runs the code with [`run_in_process`], writes one JSON reply (the result, and
//!    which protections are active) and exits. The parent reads it and reaps the child. The
//!    child's own deadline (the timeout plus a grace) and its CPU-time limit only matter to a
//!    child whose parent died: the parent kills it at the timeout.
//!
//! What it guarantees:
//! - The code sees the JavaScript language and nothing of the host: no filesystem, network,
//!   clock beyond `Date`, console, module loader, `std`/`os` modules, `require`, `fetch` or
//!   `process`. The runtime is built from QuickJS's standard intrinsics only.
//! - Each run gets a fresh process and runtime, so a runaway run cannot leave anything behind
//!   for the next.
//! - Each run is bounded by [`Limits`]: memory (QuickJS's allocator limit, each way of going
//!   over it reported as [`SandboxError::OutOfMemory`]; the child's address-space limit is a
//!   second, coarser bound for what QuickJS does not count), stack (QuickJS's stack check, on a
//!   thread whose real stack is well above it) and time. At the timeout, or as soon as
//!   [`Cancel`] is thrown, the parent kills the child (SIGKILL) and reaps it: no run outlives
//!   [`run`], whatever the code is stuck in.
//! - Protections the machine lacks are reported, never claimed: every reply says which layers
//!   are active ([`lockdown::Protections`]); the parent logs that once, with `tracing`.
//!
//! What it leaves out:
//! - Off Linux the child runs without any lock-down or resource limit (still a process of its
//!   own, with the caller's environment cleared), and on Linux other than x86-64 and aarch64
//!   without seccomp; the report ([`Sandbox::protections`], the log) says so.
//! - The process costs time: `make bench` prints a code node's cost out of process against
//!   [`run_in_process`] (no isolation from the caller; for the child itself, and to measure).
//! - `cargo test` of another crate does not build this crate's program (only `make build`,
//!   `make test` and tests of this crate do); [`Sandbox::locate`] then finds an older build or
//!   none, and its error says how to build it.

mod child;
mod engine;
pub mod lockdown;
mod process;
mod protocol;
mod thread;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use child::main as child_main;
pub use process::{ENV_PROGRAM, PROGRAM, Running, Sandbox};

/// What one run may use.
///
/// Zero does not mean "unlimited" (as it does to QuickJS): memory is raised to at least
/// 1 MiB, and the stack is kept between 64 KiB and 16 MiB, the range QuickJS's stack check
/// honours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Bytes QuickJS may have allocated at once (objects, strings, bytecode).
    pub memory_bytes: usize,
    /// Bytes of machine stack the JavaScript may use before "too much recursion".
    pub stack_bytes: usize,
    /// Wall-clock time for the whole run: evaluating the code, `main`, and its promise.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { memory_bytes: 64 * MIB, stack_bytes: MIB, timeout: Duration::from_secs(5) }
    }
}

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

impl Limits {
    fn memory(&self) -> usize {
        self.memory_bytes.max(MIB)
    }

    fn stack(&self) -> usize {
        // rquickjs treats anything above 16 MiB as "no check at all", which would turn deep
        // recursion into a crash of the whole process.
        self.stack_bytes.clamp(64 * KIB, 16 * MIB)
    }

    /// The sandbox thread's real stack: twice the JavaScript limit plus room for the native
    /// frames QuickJS runs between its stack checks (parser, JSON, regexp, our own code).
    fn thread_stack(&self) -> usize {
        2 * self.stack() + 4 * MIB
    }
}

/// A cancel switch shared between the caller and a run; clones share the same switch.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the run to stop. It ends with [`SandboxError::Cancelled`]: [`run`] kills the child
    /// within a few milliseconds; [`run_in_process`] stops at QuickJS's next interrupt poll,
    /// which comes many times a millisecond while JavaScript runs.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Why a run did not produce a result. Each message is a sentence a user can act on. The child
/// sends it to the parent as JSON, hence serde.
#[derive(Debug, thiserror::Error, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum SandboxError {
    /// The code does not compile; the message names the line.
    #[error("the code does not compile: {0}")]
    Syntax(String),
    #[error("the code does not define a function `main(inputs)`")]
    NoMain,
    /// The code threw (or `main`'s promise rejected): "TypeError: message (at main, line 3)".
    #[error("main threw: {0}")]
    Thrown(String),
    #[error("the code ran longer than its {} limit", Seconds(*.0))]
    Timeout(Duration),
    #[error("the run was cancelled")]
    Cancelled,
    #[error("the code used more than its {} memory limit", Bytes(*limit_bytes))]
    OutOfMemory { limit_bytes: usize },
    #[error("the code recursed too deeply (stack overflow)")]
    StackOverflow,
    /// `main` returned something other than a plain object; the message says what.
    #[error("main must return a plain object, but it returned {0}")]
    BadResult(String),
    #[error("the inputs could not be passed to the code: {0}")]
    BadInput(String),
    #[error("the sandbox failed: {0}")]
    Crashed(String),
    /// The sandbox program could not be found or started; the message names where it looked
    /// and how to fix it.
    #[error("code cannot run here: {0}")]
    Unavailable(String),
}

/// Runs `code`'s `main(inputs)` in a locked-down child process and returns its result.
/// Blocking: waits for the child. The program is found by [`Sandbox::locate`] at each call.
pub fn run(
    code: &str,
    inputs: &serde_json::Value,
    limits: &Limits,
    cancel: &Cancel,
) -> Result<serde_json::Map<String, serde_json::Value>, SandboxError> {
    Sandbox::locate()?.run(code, inputs, limits, cancel)
}

/// Runs `code`'s `main(inputs)` in this process, on a fresh thread, and waits for it: the
/// engine the child runs, with the same limits and errors but no isolation from the caller.
///
/// Should a builtin ever run on without polling QuickJS's interrupt, this stops waiting a
/// grace period past the limit and reports the timeout (or the cancel), leaving that thread to
/// end on its own when the call returns; in the child, exiting ends it.
pub fn run_in_process(
    code: &str,
    inputs: &serde_json::Value,
    limits: &Limits,
    cancel: &Cancel,
) -> Result<serde_json::Map<String, serde_json::Value>, SandboxError> {
    if cancel.is_cancelled() {
        return Err(SandboxError::Cancelled);
    }
    let inputs = serde_json::to_string(inputs).map_err(|e| SandboxError::BadInput(e.to_string()))?;
    thread::run(code, inputs, limits, cancel)
}

/// A duration the way a user reads it: "5 s", "300 ms", "1.5 s".
struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms < 1000 {
            write!(f, "{ms} ms")
        } else if ms.is_multiple_of(1000) {
            write!(f, "{} s", ms / 1000)
        } else {
            write!(f, "{} s", self.0.as_secs_f64())
        }
    }
}

/// A size the way a user reads it: "64 MiB", "512 KiB", "1000 bytes".
struct Bytes(usize);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n >= MIB && n.is_multiple_of(MIB) {
            write!(f, "{} MiB", n / MIB)
        } else if n >= MIB {
            write!(f, "{:.1} MiB", n as f64 / MIB as f64)
        } else if n >= KIB && n.is_multiple_of(KIB) {
            write!(f, "{} KiB", n / KIB)
        } else {
            write!(f, "{n} bytes")
        }
    }
}

#[cfg(test)]
mod tests;
