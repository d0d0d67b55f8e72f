//! What the lock-down denies, shown from the inside. JavaScript cannot try (it has no way to
//! name a file or a socket), so each test runs the child's own lock-down functions in a child
//! of this test binary (`run_inner`) and then tries, as code that escaped QuickJS would, to
//! read a file it could read a moment before, create one, connect to a port that is listening,
//! and start a program. Each must fail; a thread, which the engine needs, must still start.
//! Every layer is tried alone too, to show it holds by itself: Landlock answers `EACCES`,
//! seccomp `EPERM`.

#![cfg(target_os = "linux")]

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use hearth_sandbox::Limits;
use hearth_sandbox::lockdown::{self, Status};

use crate::{MIB, inner, run_inner};

/// Linux's error numbers for "permission denied" (Landlock) and "operation not permitted"
/// (seccomp's answer here).
const EACCES: i32 = 13;
const EPERM: i32 = 1;

/// What a test can reach before the lock-down: a file of its own, a folder to create one in,
/// and a listening TCP port.
struct World {
    dir: tempfile::TempDir,
    // Kept open so the port stays listening; its address is read before the lock-down, which
    // takes `getsockname` away too.
    _listener: TcpListener,
    addr: SocketAddr,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::write(dir.path().join("secret"), "the API token").expect("the file is written");
        let listener = TcpListener::bind("127.0.0.1:0").expect("a listening port");
        let addr = listener.local_addr().expect("an address");
        let world = Self { dir, _listener: listener, addr };
        // Everything below works before the lock-down, so a failure after it is the lock-down's.
        assert_eq!(std::fs::read_to_string(world.secret()).expect("readable before"), "the API token");
        TcpStream::connect(world.addr).expect("connectable before");
        world
    }

    fn secret(&self) -> std::path::PathBuf {
        self.dir.path().join("secret")
    }

    /// Tries everything; every attempt must fail with `errno` (when given) or permission denied.
    fn is_out_of_reach(&self, errno: Option<i32>) {
        let denied = |what: &str, result: std::io::Result<()>| {
            let error = result.err().unwrap_or_else(|| panic!("{what} worked after the lock-down"));
            assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{what}: {error}");
            if let Some(errno) = errno {
                assert_eq!(error.raw_os_error(), Some(errno), "{what}: {error}");
            }
        };
        denied("reading a file", std::fs::read(self.secret()).map(drop));
        denied("reading /etc/hostname", std::fs::read(Path::new("/etc/hostname")).map(drop));
        denied("creating a file", std::fs::write(self.dir.path().join("new"), "x"));
        denied("listing a folder", std::fs::read_dir("/").map(drop));
        denied("connecting over TCP", TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)).map(drop));
        denied("starting a program", Command::new("/bin/true").status().map(drop));
        // The engine runs on a thread of its own: that must still work.
        std::thread::spawn(|| 42).join().map(|n| assert_eq!(n, 42)).expect("a thread starts after the lock-down");
    }
}

fn limits() -> Limits {
    Limits { memory_bytes: 16 * MIB, ..Limits::default() }
}

#[test]
fn the_lockdown_takes_files_network_and_programs_away() {
    run_inner("lockdown::inner_the_lockdown_takes_files_network_and_programs_away", &[]);
}

#[test]
#[ignore = "run by the_lockdown_takes_files_network_and_programs_away, in a child process"]
fn inner_the_lockdown_takes_files_network_and_programs_away() {
    if !inner() {
        return;
    }
    let world = World::new();
    let limits = limits();
    let protections = lockdown::apply(&limits);
    eprintln!("protections: {protections}");
    assert!(protections.resources.is_active() && protections.no_new_privs.is_active(), "{protections}");
    world.is_out_of_reach(None);
    // UDP too (seccomp refuses every socket).
    if protections.seccomp.is_active() {
        let error = std::net::UdpSocket::bind("127.0.0.1:0").expect_err("a UDP socket was made after the lock-down");
        assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
    }
    // The address-space limit holds: a reservation past it fails instead of being granted.
    let too_much = usize::try_from(lockdown::address_space(&limits)).expect("fits");
    assert!(Vec::<u8>::new().try_reserve_exact(too_much).is_err(), "reserved {too_much} bytes past the limit");
}

#[test]
fn landlock_alone_denies_files_tcp_and_programs() {
    run_inner("lockdown::inner_landlock_alone_denies_files_tcp_and_programs", &[]);
}

#[test]
#[ignore = "run by landlock_alone_denies_files_tcp_and_programs, in a child process"]
fn inner_landlock_alone_denies_files_tcp_and_programs() {
    if !inner() {
        return;
    }
    let world = World::new();
    match lockdown::landlock() {
        Status::Active(_) => world.is_out_of_reach(Some(EACCES)),
        // Said, with its reason, instead of claimed: nothing to try on this kernel.
        other => eprintln!("Landlock is not in force on this kernel, so there is nothing to try: {other}"),
    }
}

#[test]
fn seccomp_alone_denies_files_sockets_and_programs() {
    run_inner("lockdown::inner_seccomp_alone_denies_files_sockets_and_programs", &[]);
}

#[test]
#[ignore = "run by seccomp_alone_denies_files_sockets_and_programs, in a child process"]
fn inner_seccomp_alone_denies_files_sockets_and_programs() {
    if !inner() {
        return;
    }
    let world = World::new();
    assert!(lockdown::no_new_privs().is_active());
    let status = lockdown::seccomp();
    if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        assert!(status.is_active(), "seccomp: {status}");
        world.is_out_of_reach(Some(EPERM));
    }
}
