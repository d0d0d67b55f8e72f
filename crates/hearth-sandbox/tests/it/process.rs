//! The parent's hold on its child. Each run's child is checked by its process id: it exists
//! while the run goes on and is gone (killed and reaped) when the run has ended, however it
//! ended. Stand-in programs (small shell scripts) play children that never answer, die, or
//! answer nonsense, which the real program would not do; the parent must cope all the same.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hearth_sandbox::lockdown::Status;
use hearth_sandbox::{Cancel, Limits, Sandbox, SandboxError};
use serde_json::json;

use crate::{MIB, sandbox};

fn limits(timeout: Duration) -> Limits {
    Limits { memory_bytes: 16 * MIB, timeout, ..Limits::default() }
}

/// A stand-in program: `body` as a shell script in `dir`.
///
/// The executable is written by `install`, not by this process: tests run on many threads, and
/// a thread that forks while this one holds the file open for writing gives its child a copy
/// of that descriptor until the child's exec, so executing the file in that moment fails with
/// "Text file busy" (ETXTBSY). Only the plain text is written here.
fn stand_in(dir: &Path, body: &str) -> Sandbox {
    let text = dir.join("stand-in.sh");
    let path = dir.join("stand-in");
    std::fs::write(&text, format!("#!/bin/sh\n{body}\n")).expect("the script is written");
    let installed = Command::new("install").arg("-m").arg("755").arg(&text).arg(&path).status();
    assert!(installed.expect("install runs").success(), "install copies the script");
    Sandbox::new(path)
}

fn alive(pid: u32) -> bool {
    PathBuf::from(format!("/proc/{pid}")).exists()
}

/// Starts `code` on `sandbox`, throws `cancel` first if asked, waits, and checks that the child
/// was there during the run and is gone after it.
fn run_and_reap(
    sandbox: &Sandbox,
    code: &str,
    limits: &Limits,
    cancel_first: bool,
) -> Result<serde_json::Map<String, serde_json::Value>, SandboxError> {
    let running = sandbox.start(code, &json!({}), limits).expect("the child starts");
    let pid = running.id();
    assert!(alive(pid), "child {pid} should be running");
    let cancel = Cancel::new();
    if cancel_first {
        cancel.cancel();
    }
    let got = running.wait(&cancel);
    assert!(!alive(pid), "child {pid} outlived its run ({got:?})");
    got
}

#[test]
fn a_runaway_is_killed_at_its_timeout() {
    let limit = Duration::from_millis(300);
    let got = run_and_reap(&sandbox(), "function main() { while (true) {} }", &limits(limit), false);
    assert_eq!(got, Err(SandboxError::Timeout(limit)));
    // A child that ignores its limits altogether: only the kill can end it before ten minutes.
    let dir = tempfile::tempdir().expect("a temp dir");
    let got = run_and_reap(&stand_in(dir.path(), "exec sleep 600"), "", &limits(limit), false);
    assert_eq!(got, Err(SandboxError::Timeout(limit)));
}

#[test]
fn cancelling_kills_the_child() {
    let minute = limits(Duration::from_secs(60));
    let got = run_and_reap(&sandbox(), "function main() { while (true) {} }", &minute, true);
    assert_eq!(got, Err(SandboxError::Cancelled));
    let dir = tempfile::tempdir().expect("a temp dir");
    let got = run_and_reap(&stand_in(dir.path(), "exec sleep 600"), "", &minute, true);
    assert_eq!(got, Err(SandboxError::Cancelled));
}

#[test]
fn a_child_that_does_not_answer_properly_is_reported() {
    let dir = tempfile::tempdir().expect("a temp dir");
    for (script, want) in [
        ("exit 3", "ended without an answer (exit status: 3)"),
        ("echo 'something went wrong' >&2; exit 1", "ended without an answer (exit status: 1): something went wrong"),
        ("kill -SEGV $$", "ended without an answer (signal: 11 (SIGSEGV)"),
        ("cat >/dev/null; echo hello", "answered in a form this build does not read"),
        (r#"cat >/dev/null; echo '{"version": 999, "protections": null, "result": {"Ok": {}}}'"#, "speaks protocol 999"),
    ] {
        let got = run_and_reap(&stand_in(dir.path(), script), "", &limits(Duration::from_secs(60)), false);
        match got {
            Err(SandboxError::Crashed(why)) => assert!(why.contains(want), "{script}: {why}"),
            other => panic!("{script}: {other:?}"),
        }
    }
}

#[test]
fn a_child_out_of_memory_or_stack_is_reported_as_such() {
    // What the Rust runtime says before it aborts, when an allocation fails (the child's
    // address-space limit) or a thread overflows its stack.
    let dir = tempfile::tempdir().expect("a temp dir");
    for (said, want) in [
        ("memory allocation of 1048576 bytes failed", SandboxError::OutOfMemory { limit_bytes: 16 * MIB }),
        ("thread 'hearth-sandbox' has overflowed its stack", SandboxError::StackOverflow),
    ] {
        let script = format!("cat >/dev/null; echo \"{said}\" >&2; kill -ABRT $$");
        let got = run_and_reap(&stand_in(dir.path(), &script), "", &limits(Duration::from_secs(60)), false);
        assert_eq!(got, Err(want), "{said}");
    }
}

#[test]
fn a_missing_program_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let missing = dir.path().join("hearth-sandbox");
    let got = Sandbox::new(&missing).run("function main() { return {}; }", &json!({}), &Limits::default(), &Cancel::new());
    match got {
        Err(SandboxError::Unavailable(why)) => {
            assert!(why.contains(&missing.display().to_string()) && why.contains("HEARTH_SANDBOX_BIN"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_child_reports_its_protections() {
    let protections = sandbox().protections().expect("the child answers");
    eprintln!("protections here: {protections}");
    assert!(protections.resources.is_active(), "{protections}");
    assert!(protections.no_new_privs.is_active(), "{protections}");
    if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        assert!(protections.seccomp.is_active(), "{protections}");
    }
    // Landlock depends on the kernel; whatever it is, the report says, with a reason.
    match &protections.landlock {
        Status::Active(how) => assert!(how.starts_with("ABI "), "{protections}"),
        Status::Partial(why) | Status::Inactive(why) => assert!(why.contains("kernel"), "{protections}"),
    }
}
