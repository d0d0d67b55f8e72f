//! The in-process runner: one QuickJS run on a thread of its own, sized for the stack limit,
//! with the caller waiting on a channel and watching the cancel switch and the clock.
//!
//! This is what the child process runs, and what [`crate::run_in_process`] exposes. QuickJS
//! polls its interrupt handler from the interpreter, the regexp engine and its long builtin
//! loops, but not from every native call. Should one call ever run on without polling, the
//! waiting caller stops waiting a grace period past the limit and reports the timeout (or the
//! cancel), leaving the thread to end on its own when the call returns: no code in a process
//! can stop a thread sooner. In the child that is harmless, since the child exits once it has
//! answered, and the parent kills it at the timeout in any case.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::{Cancel, Limits, SandboxError, engine};

/// How long past its limit a run may go before the caller stops waiting for its thread. A run
/// normally ends at its interrupt, within milliseconds; this only covers a builtin that never
/// polls.
pub(crate) const GRACE: Duration = Duration::from_secs(2);

/// How often the waiting caller looks at the cancel switch and the backstop deadline.
const TICK: Duration = Duration::from_millis(50);

/// Runs one call on a fresh thread and waits for it. `inputs` is JSON text.
pub(crate) fn run(
    code: &str,
    inputs: String,
    limits: &Limits,
    cancel: &Cancel,
) -> Result<serde_json::Map<String, serde_json::Value>, SandboxError> {
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
