//! The parent's side: find the `hearth-sandbox` program, start one child per run, hand it the
//! request, wait for its reply, and kill it at the timeout or on cancel.
//!
//! A helper thread per run writes the request and reads the child's output, so the waiting
//! caller only watches a channel, the clock and the cancel switch. Every way a run ends goes
//! through the same door: the child is killed (a no-op once it has exited) and reaped, and the
//! helper thread joined, before [`Running::wait`] returns; dropping a [`Running`] does the
//! same. The child gets an empty environment but `TZ`, and `/` as its working folder, so
//! nothing of the caller's environment (keys in variables, the data folder) reaches it.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Once, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::lockdown::Protections;
use crate::protocol::{Header, Job, Reply, VERSION};
use crate::{Cancel, Limits, SandboxError};

/// The program's file name.
pub const PROGRAM: &str = if cfg!(windows) { "hearth-sandbox.exe" } else { "hearth-sandbox" };

/// The environment variable that names the program, ahead of every other place.
pub const ENV_PROGRAM: &str = "HEARTH_SANDBOX_BIN";

/// How often the waiting caller looks at the cancel switch (the deadline it waits for exactly).
const TICK: Duration = Duration::from_millis(10);

/// The most of the child's standard error kept for the report of a child that died: the Rust
/// runtime's last words are a line or two.
const STDERR_KEPT: u64 = 16 * 1024;

/// A sandbox program at a known path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sandbox {
    program: PathBuf,
}

impl Sandbox {
    /// The program at `program`, as it is; [`Sandbox::locate`] finds the installed one.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self { program: program.into() }
    }

    /// Finds the program: `$HEARTH_SANDBOX_BIN` when set (and then only there), else the first
    /// that exists of: beside the running executable, `../lib/hearth/` from its folder (the
    /// installed package), and its folder's parent (test binaries in `target/release/deps`).
    pub fn locate() -> Result<Self, SandboxError> {
        let exe = std::env::current_exe().ok();
        locate_from(std::env::var_os(ENV_PROGRAM), exe.as_deref())
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Runs `code`'s `main(inputs)` in a child and waits for the result: [`Sandbox::start`]
    /// then [`Running::wait`].
    pub fn run(
        &self,
        code: &str,
        inputs: &serde_json::Value,
        limits: &Limits,
        cancel: &Cancel,
    ) -> Result<serde_json::Map<String, serde_json::Value>, SandboxError> {
        if cancel.is_cancelled() {
            return Err(SandboxError::Cancelled);
        }
        self.start(code, inputs, limits)?.wait(cancel)
    }

    /// Starts a child on `code` and returns at once; the clock for `limits.timeout` starts here.
    pub fn start(&self, code: &str, inputs: &serde_json::Value, limits: &Limits) -> Result<Running, SandboxError> {
        let inputs = serde_json::to_string(inputs).map_err(|e| SandboxError::BadInput(e.to_string()))?;
        let mut request = serde_json::to_vec(&Header { version: VERSION, limits: *limits }).map_err(crashed)?;
        request.push(b'\n');
        serde_json::to_writer(&mut request, &Job { code: code.to_owned(), inputs }).map_err(crashed)?;

        let started = Instant::now();
        let mut command = Command::new(&self.program);
        command.env_clear().current_dir("/").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // The one variable the child needs: `Date`'s local time zone when it is set this way.
        if let Some(tz) = std::env::var_os("TZ") {
            command.env("TZ", tz);
        }
        let mut child = command.spawn().map_err(|e| {
            SandboxError::Unavailable(format!(
                "the sandbox program {} could not be started ({e}); reinstall Hearth, or set {ENV_PROGRAM} to a working copy",
                self.program.display()
            ))
        })?;
        let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let (Some(stdin), Some(stdout), Some(stderr)) = pipes else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(SandboxError::Crashed("the sandbox program started without its pipes".into()));
        };
        let (tx, outputs) = mpsc::sync_channel(1);
        let memory = limits.memory();
        let io = std::thread::Builder::new()
            .name("hearth-sandbox-io".into())
            .spawn(move || {
                // The receiver is gone only if the caller stopped waiting; nothing to do then.
                let _ = tx.send(exchange(request, stdin, stdout, stderr, memory));
            })
            .map_err(|e| {
                let _ = child.kill();
                let _ = child.wait();
                SandboxError::Crashed(format!("could not start its helper thread: {e}"))
            })?;
        Ok(Running { program: self.program.clone(), child, io: Some(io), outputs, started, limits: *limits })
    }

    /// Runs an empty program and returns the protections its child reported: what the code of
    /// every run gets on this machine.
    pub fn protections(&self) -> Result<Protections, SandboxError> {
        let running = self.start("function main() { return {}; }", &serde_json::json!({}), &Limits::default())?;
        let (reply, _) = running.finish(&Cancel::new())?;
        reply.protections.ok_or_else(|| {
            SandboxError::Crashed(match reply.result {
                Err(e) => e.to_string(),
                Ok(_) => "the sandbox program answered without saying how it is protected".into(),
            })
        })
    }
}

fn crashed(e: serde_json::Error) -> SandboxError {
    SandboxError::Crashed(format!("the request could not be written: {e}"))
}

/// The places the program may be, for an executable at `exe`, in order: beside it (a build
/// folder, `/usr/bin`), in `../lib/hearth/` (the installed package: scripts/package.sh), and
/// one folder up (test and bench binaries live in `target/<profile>/deps/`, programs in
/// `target/<profile>/`).
pub(crate) fn candidates(exe: &Path) -> Vec<PathBuf> {
    let Some(dir) = exe.parent() else { return Vec::new() };
    let mut out = vec![dir.join(PROGRAM)];
    if let Some(up) = dir.parent() {
        out.push(up.join("lib").join("hearth").join(PROGRAM));
        out.push(up.join(PROGRAM));
    }
    out
}

/// [`Sandbox::locate`] with the environment variable and the executable given.
pub(crate) fn locate_from(env: Option<OsString>, exe: Option<&Path>) -> Result<Sandbox, SandboxError> {
    if let Some(path) = env.filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(Sandbox::new(path))
        } else {
            Err(SandboxError::Unavailable(format!(
                "{ENV_PROGRAM} names {}, which is not a file; point it at the `{PROGRAM}` program or unset it",
                path.display()
            )))
        };
    }
    let tried = exe.map(candidates).unwrap_or_default();
    if let Some(found) = tried.iter().find(|p| p.is_file()) {
        return Ok(Sandbox::new(found));
    }
    let looked = if tried.is_empty() {
        "the path of this program is unknown".to_owned()
    } else {
        format!("looked for {}", tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))
    };
    Err(SandboxError::Unavailable(format!(
        "the sandbox program `{PROGRAM}` was not found ({looked}); install it beside `hearth` (packages put it in \
         /usr/lib/hearth), or set {ENV_PROGRAM} to its path; in a source checkout, `cargo build --release -p hearth-sandbox` \
         builds it"
    )))
}

/// What the helper thread brings back: the child's standard output (or why it could not be
/// read) and the start of its standard error.
struct Output {
    stdout: Result<Vec<u8>, String>,
    stderr: String,
}

/// Writes the request, closes the child's input, and reads its output to the end. A child
/// that was killed closes its pipes, which ends every step here. A write that fails (the child
/// died first) is not an error of its own: what the child said, or how it ended, tells why.
fn exchange(request: Vec<u8>, mut stdin: ChildStdin, stdout: ChildStdout, stderr: ChildStderr, memory: usize) -> Output {
    let _ = stdin.write_all(&request);
    drop(stdin);
    // A reply holds a result QuickJS held within its memory limit; twice that, and a margin,
    // bounds its JSON. A child that writes more is broken, and is not read further.
    let most = u64::try_from(memory.saturating_mul(2)).unwrap_or(u64::MAX).saturating_add(1 << 20);
    let mut out = Vec::new();
    let stdout = match stdout.take(most + 1).read_to_end(&mut out) {
        Ok(_) if out.len() as u64 > most => Err(format!("it wrote more than {most} bytes")),
        Ok(_) => Ok(out),
        Err(e) => Err(format!("its output could not be read: {e}")),
    };
    let mut err = Vec::new();
    let _ = stderr.take(STDERR_KEPT).read_to_end(&mut err);
    Output { stdout, stderr: String::from_utf8_lossy(&err).into_owned() }
}

/// A child at work on one run.
#[derive(Debug)]
pub struct Running {
    program: PathBuf,
    child: Child,
    io: Option<JoinHandle<()>>,
    outputs: mpsc::Receiver<Output>,
    started: Instant,
    limits: Limits,
}

/// Why the parent stopped a child.
#[derive(Clone, Copy)]
enum Stop {
    Deadline,
    Cancel,
}

impl Running {
    /// The child's process id (for a caller that watches it, as the tests do).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the child's answer, killing the child at the timeout or as soon as `cancel`
    /// is thrown. The child is reaped before this returns.
    pub fn wait(self, cancel: &Cancel) -> Result<serde_json::Map<String, serde_json::Value>, SandboxError> {
        let (reply, protections) = self.finish(cancel)?;
        if let Some(protections) = protections {
            report_once(&protections);
        }
        reply.result
    }

    /// Waits, stops and reaps the child; returns its reply, and the protections to report.
    fn finish(mut self, cancel: &Cancel) -> Result<(Reply, Option<Protections>), SandboxError> {
        let deadline = self.started.checked_add(self.limits.timeout);
        let ended = loop {
            let now = Instant::now();
            if cancel.is_cancelled() {
                break Err(Stop::Cancel);
            }
            if deadline.is_some_and(|d| now >= d) {
                break Err(Stop::Deadline);
            }
            let wait = deadline.map_or(TICK, |d| d.duration_since(now).min(TICK));
            match self.outputs.recv_timeout(wait) {
                Ok(output) => break Ok(Some(output)),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // The helper thread panicked; what the child did is unknown, so it goes.
                Err(mpsc::RecvTimeoutError::Disconnected) => break Ok(None),
            }
        };
        // Killing a child that already exited is harmless; reaping it is what matters.
        let _ = self.child.kill();
        let status = self.child.wait();
        if let Some(io) = self.io.take() {
            let _ = io.join();
        }
        let output = match ended {
            Err(Stop::Cancel) => return Err(SandboxError::Cancelled),
            Err(Stop::Deadline) => return Err(SandboxError::Timeout(self.limits.timeout)),
            Ok(None) => return Err(SandboxError::Crashed("its helper thread panicked".into())),
            Ok(Some(output)) => output,
        };
        let status = status.map_err(|e| SandboxError::Crashed(format!("the sandbox process could not be waited for: {e}")))?;
        let reply = self.read_reply(output, status)?;
        let protections = reply.protections.clone();
        Ok((reply, protections))
    }

    /// Turns what the child wrote, and how it ended, into its reply or the error it stands for.
    fn read_reply(&self, output: Output, status: ExitStatus) -> Result<Reply, SandboxError> {
        let stdout = output.stdout.map_err(|why| SandboxError::Crashed(format!("the sandbox process misbehaved: {why}")))?;
        if stdout.is_empty() {
            return Err(died(&output.stderr, status, &self.limits));
        }
        let reply: Reply = serde_json::from_slice(&stdout).map_err(|e| {
            SandboxError::Crashed(format!(
                "{} answered in a form this build does not read ({e}); is it from another build of Hearth?",
                self.program.display()
            ))
        })?;
        if reply.version != VERSION {
            return Err(SandboxError::Crashed(format!(
                "{} speaks protocol {} and this build protocol {VERSION}: it comes from another build of Hearth; reinstall, \
                 or rebuild it with `cargo build --release -p hearth-sandbox`",
                self.program.display(),
                reply.version
            )));
        }
        Ok(reply)
    }
}

impl Drop for Running {
    /// A run dropped without [`Running::wait`] still leaves no process behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(io) = self.io.take() {
            let _ = io.join();
        }
    }
}

/// A child that ended without a reply. The Rust runtime's last words say why when it was the
/// memory limit (an allocation the address-space limit refused) or the machine stack.
fn died(stderr: &str, status: ExitStatus, limits: &Limits) -> SandboxError {
    if stderr.contains("memory allocation of") {
        return SandboxError::OutOfMemory { limit_bytes: limits.memory() };
    }
    if stderr.contains("has overflowed its stack") {
        return SandboxError::StackOverflow;
    }
    let said = stderr.trim();
    let said = if said.is_empty() { String::new() } else { format!(": {}", said.lines().last().unwrap_or(said)) };
    SandboxError::Crashed(format!("the sandbox process ended without an answer ({status}){said}"))
}

/// Logs, once per process, what the children's lock-down holds on this machine: a warning
/// when a layer is missing, so a weaker sandbox never goes unnoticed.
fn report_once(protections: &Protections) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if protections.all_active() {
            tracing::info!(%protections, "workflow code runs in a locked-down process");
        } else {
            tracing::warn!(%protections, "workflow code runs in a separate process, but without every protection");
        }
    });
}
