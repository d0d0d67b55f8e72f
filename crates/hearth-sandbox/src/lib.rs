//! Hearth's JavaScript sandbox: runs the code of a workflow "code" node, and nothing else.
//!
//! The code defines `function main(inputs) { ... return {...}; }`. [`run`] evaluates it in a
//! fresh QuickJS runtime on a thread of its own, calls `main` with the inputs and returns what
//! `main` returned, which must be a plain object. Inputs and result cross the boundary as JSON
//! text (`JSON.parse` inside, `JSON.stringify` on the way out), so what the code sees and what
//! the caller gets are exactly what JSON can say. `main` may be `async`: the promise's jobs run
//! until it settles.
//!
//! What it guarantees:
//! - The code sees the JavaScript language and nothing of the host: no filesystem, network,
//!   clock beyond `Date`, console, module loader, `std`/`os` modules, `require`, `fetch` or
//!   `process`. The runtime is built from QuickJS's standard intrinsics only.
//! - Each run gets a fresh runtime, so a runaway run cannot leave anything behind for the next.
//! - Each run is bounded by [`Limits`]: memory (QuickJS's allocator limit), stack (QuickJS's
//!   stack check, on a thread whose real stack is well above it) and time (an interrupt handler
//!   that also polls [`Cancel`]). Each way of going over a limit has its own [`SandboxError`].
//!
//! What it leaves out: QuickJS polls its interrupt handler from the interpreter, the regexp
//! engine and its long builtin loops, but not from every native call. Should one call ever run
//! on without polling, [`run`] stops waiting a grace period past the limit and reports the
//! timeout (or the cancel), leaving that thread to end on its own when the call returns: no
//! code in the process can stop a thread sooner, and a stuck workflow is worse than a thread
//! that finishes late under its memory limit.

mod engine;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// What one run may use.
///
/// Zero does not mean "unlimited" (as it does to QuickJS): memory is raised to at least
/// 1 MiB, and the stack is kept between 64 KiB and 16 MiB, the range QuickJS's stack check
/// honours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

    /// Asks the run to stop. It ends with [`SandboxError::Cancelled`] at QuickJS's next
    /// interrupt poll, which comes many times a millisecond while JavaScript runs.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Why a run did not produce a result. Each message is a sentence a user can act on.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
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
}

/// How long past its limit a run may go before [`run`] stops waiting for its thread. A run
/// normally ends at its interrupt, within milliseconds; this only covers a builtin that never
/// polls.
const GRACE: Duration = Duration::from_secs(2);

/// How often the waiting caller looks at the cancel switch and the backstop deadline.
const TICK: Duration = Duration::from_millis(50);

/// Runs `code`'s `main(inputs)` and returns its result. Blocking: runs on a fresh thread and
/// waits for it.
pub fn run(
    code: &str,
    inputs: &serde_json::Value,
    limits: &Limits,
    cancel: &Cancel,
) -> Result<serde_json::Map<String, serde_json::Value>, SandboxError> {
    if cancel.is_cancelled() {
        return Err(SandboxError::Cancelled);
    }
    let inputs = serde_json::to_string(inputs).map_err(|e| SandboxError::BadInput(e.to_string()))?;
    let started = Instant::now();
    let (tx, rx) = mpsc::sync_channel(1);
    let handle = {
        let (code, limits, cancel) = (code.to_owned(), *limits, cancel.clone());
        thread::Builder::new()
            .name("hearth-sandbox".into())
            .stack_size(limits.thread_stack())
            .spawn(move || {
                // The receiver may be gone if the caller stopped waiting; nothing to do then.
                let _ = tx.send(engine::execute(&code, &inputs, &limits, &cancel, started));
            })
            .map_err(|e| SandboxError::Crashed(format!("could not start its thread: {e}")))?
    };

    // The backstop: the run's own deadline plus grace. `None` when the timeout is too large
    // to add to a clock reading, which means "wait as long as it takes".
    let give_up_at = started.checked_add(limits.timeout).and_then(|t| t.checked_add(GRACE));
    let mut cancelled_at: Option<Instant> = None;
    loop {
        match rx.recv_timeout(TICK) {
            Ok(result) => {
                // The thread has sent its last word; joining only reaps it.
                let _ = handle.join();
                return result;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(SandboxError::Crashed(match handle.join() {
                    Err(panic) => format!("its thread panicked: {}", panic_message(&*panic)),
                    Ok(()) => "its thread ended without a result".into(),
                }));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let now = Instant::now();
                if cancel.is_cancelled() {
                    let at = *cancelled_at.get_or_insert(now);
                    if now.duration_since(at) > GRACE {
                        abandon("cancel");
                        return Err(SandboxError::Cancelled);
                    }
                }
                if give_up_at.is_some_and(|t| now > t) {
                    abandon("time limit");
                    return Err(SandboxError::Timeout(limits.timeout));
                }
            }
        }
    }
}

/// Leaves a sandbox thread that did not stop at its interrupt. Its runtime still has its
/// memory limit, and the thread ends when the builtin it is stuck in returns; dropping the
/// receiver makes its final send a no-op.
fn abandon(why: &str) {
    tracing::warn!(why, "a sandbox run did not stop at its interrupt; no longer waiting for its thread");
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".into()
    }
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
