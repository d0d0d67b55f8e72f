//! The `hearth-sandbox` program's one job: read a request, lock down, run, answer, exit.
//!
//! The order is the point: the limits line is read first (nothing in it is code), the lock-down
//! goes up, and only then are the code and the inputs read. The child never sees the parent's
//! [`Cancel`](crate::Cancel): the parent kills it instead. Its own deadline is the timeout plus
//! [`GRACE`](crate::thread::GRACE), so it only matters to a child whose parent died before
//! killing it; then the reply goes nowhere and the child exits.
//!
//! Everything that goes wrong is answered as a [`SandboxError`] in the reply when there is
//! still a way to answer; the exit status is non-zero only when the reply itself could not be
//! written.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use crate::protocol::{Header, Job, Reply, VERSION};
use crate::{Cancel, SandboxError, engine, lockdown, thread};

/// The program's `main`: serves the one request on standard input.
pub fn main() -> ExitCode {
    let reply = serve(&mut std::io::stdin().lock());
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer(&mut out, &reply)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => ExitCode::SUCCESS,
        // Nobody to tell but the parent's error pipe, if it is still there.
        Err(e) => {
            eprintln!("hearth-sandbox: could not write the reply: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(input: &mut impl BufRead) -> Reply {
    let failed = |why: String| Reply { version: VERSION, protections: None, result: Err(SandboxError::Crashed(why)) };
    let line = match read_header_line(input) {
        Ok(line) => line,
        Err(e) => return failed(format!("the sandbox program could not read its request: {e}")),
    };
    let header: Header = match serde_json::from_slice(&line) {
        Ok(header) => header,
        Err(e) => return failed(format!("the sandbox program could not read its request's limits: {e}")),
    };
    if header.version != VERSION {
        return failed(format!(
            "the sandbox program speaks protocol {VERSION} but was sent protocol {}: it comes from another build of Hearth",
            header.version
        ));
    }
    let limits = header.limits;

    // Read while files can still be opened: `Date`'s local time needs the time zone.
    engine::load_time_zone();
    let protections = lockdown::apply(&limits);

    // Standard input's buffer is still empty (see `read_header_line`): the code is read now.
    let mut text = String::new();
    let job = input
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())
        .and_then(|_| serde_json::from_str::<Job>(&text).map_err(|e| e.to_string()));
    drop(text);
    let result = match job {
        Ok(job) => {
            let own_deadline = crate::Limits { timeout: limits.timeout.saturating_add(thread::GRACE), ..limits };
            thread::run(&job.code, job.inputs, &own_deadline, &Cancel::new()).map_err(|e| match e {
                // The parent's limit is the one the user set.
                SandboxError::Timeout(_) => SandboxError::Timeout(limits.timeout),
                e => e,
            })
        }
        Err(e) => Err(SandboxError::Crashed(format!("the sandbox program could not read the code: {e}"))),
    };
    Reply { version: VERSION, protections: Some(protections), result }
}

/// The most a limits line can take; a longer one is not from a parent of ours.
const HEADER_MOST: usize = 4096;

/// Reads the first line of standard input a byte at a time, straight from the descriptor, so
/// that not a byte of the code is read (not even into a buffer) before the lock-down. The line
/// is short: a hundred-odd system calls.
#[cfg(target_os = "linux")]
fn read_header_line(_: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    use std::os::fd::AsFd;

    let stdin = std::io::stdin();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() <= HEADER_MOST {
        match rustix::io::read(stdin.as_fd(), &mut byte) {
            Ok(0) => return Ok(line),
            Ok(_) if byte[0] == b'\n' => return Ok(line),
            Ok(_) => line.push(byte[0]),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(std::io::Error::other(format!("the limits line is longer than {HEADER_MOST} bytes")))
}

/// Off Linux there is no lock-down to read ahead of, so the buffered reader will do.
#[cfg(not(target_os = "linux"))]
fn read_header_line(input: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    std::io::Read::take(&mut *input, HEADER_MOST as u64 + 1).read_until(b'\n', &mut line)?;
    Ok(line)
}
