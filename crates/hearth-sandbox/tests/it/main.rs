//! hearth-sandbox's integration tests, one binary: the JavaScript contract, through the child
//! process and in process alike (`semantics`); the parent's hold on its child: timeouts,
//! cancels, children that die or never answer, a missing program (`process`); and what the
//! lock-down denies, each layer tried in a child of this test binary (`lockdown`).

mod lockdown;
mod process;
mod semantics;

use std::process::Command;

use hearth_sandbox::Sandbox;

const MIB: usize = 1024 * 1024;

/// The program cargo built for these tests (not whatever [`Sandbox::locate`] would find).
fn sandbox() -> Sandbox {
    Sandbox::new(env!("CARGO_BIN_EXE_hearth-sandbox"))
}

/// Set in the environment of a child of this test binary, for the one test it runs.
const INNER: &str = "HEARTH_SANDBOX_INNER_TEST";

/// Whether this process is such a child. An inner test does nothing elsewhere, so that
/// `cargo test -- --ignored` does not lock down the test runner itself.
fn inner() -> bool {
    std::env::var_os(INNER).is_some()
}

/// Runs the ignored test `name` alone in a child of this test binary, with `env` added, and
/// fails unless it ran and passed. For what a test cannot do in the shared test process:
/// lock itself down, or change its environment.
fn run_inner(name: &str, env: &[(&str, &str)]) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(exe)
        .args([name, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(INNER, "1")
        .envs(env.iter().copied())
        .output()
        .expect("the test binary runs again");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains("1 passed"), "{name}, in a child process ({}):\n{stdout}\n{stderr}", out.status);
}
