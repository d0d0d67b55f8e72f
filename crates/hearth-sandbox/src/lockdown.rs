//! The child's lock-down: what the `hearth-sandbox` process takes away from itself before it
//! reads the code, and the report of what actually took hold.
//!
//! [`apply`] puts up every layer, in this order, on the calling thread (the child calls it on
//! its main thread before it starts any other, so every later thread inherits all of it):
//! 1. Resource limits ([`resources`]): address space and data segment at [`address_space`]
//!    (a second, coarser bound behind QuickJS's own memory limit, for what QuickJS does not
//!    count), CPU time a little past the timeout (for a child whose parent died), no file
//!    written beyond zero bytes (pipes, such as the reply's, are not files), no core dump (it
//!    would hold the code's data).
//! 2. `PR_SET_NO_NEW_PRIVS` ([`no_new_privs`]), which Landlock and seccomp require and which
//!    keeps any later `execve` from gaining privileges.
//! 3. Landlock ([`landlock()`]): a ruleset that handles every filesystem right and TCP bind and
//!    connect of Landlock ABI 7 and allows none of them, and scopes abstract Unix sockets and
//!    signals to the process. Denials are `EACCES`.
//! 4. seccomp ([`seccomp()`], `lockdown/seccomp.rs`): an allow-list of the system calls QuickJS
//!    and the Rust runtime use; every other call fails with `EPERM`.
//!
//! Each layer reports a [`Status`] instead of failing the run: a kernel without Landlock or
//! seccomp still runs code, and [`Protections`] says so, never more than what took hold.
//! Off Linux nothing here applies, and every layer reports that.
//!
//! The layers are public so that the crate's tests can put each one up alone, in a child of
//! the test process, and show what it denies.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Limits;

#[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
mod seccomp;

/// Whether one layer of the lock-down is in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// In force as designed; the text says how ("Landlock ABI 7").
    Active(String),
    /// In force, but weaker than designed; the text says what is missing.
    Partial(String),
    /// Not in force; the text says why.
    Inactive(String),
}

impl Status {
    pub fn is_active(&self) -> bool {
        matches!(self, Self::Active(_))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Active(how) if how.is_empty() => f.write_str("active"),
            Self::Active(how) => write!(f, "active ({how})"),
            Self::Partial(what) => write!(f, "partial ({what})"),
            Self::Inactive(why) => write!(f, "off ({why})"),
        }
    }
}

/// What [`apply`] put in force, layer by layer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protections {
    pub resources: Status,
    pub no_new_privs: Status,
    pub landlock: Status,
    pub seccomp: Status,
}

impl Protections {
    pub fn all_active(&self) -> bool {
        [&self.resources, &self.no_new_privs, &self.landlock, &self.seccomp].into_iter().all(Status::is_active)
    }
}

impl fmt::Display for Protections {
    /// "resource limits: active; no_new_privs: active; Landlock: active (ABI 7); seccomp: ...".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "resource limits: {}; no_new_privs: {}; Landlock: {}; seccomp: {}",
            self.resources, self.no_new_privs, self.landlock, self.seccomp
        )
    }
}

/// Puts up every layer on the calling thread (see the module's header for the order) and
/// reports what took hold. Call it before the process starts any thread.
pub fn apply(limits: &Limits) -> Protections {
    let resources = resources(limits);
    let no_new_privs = no_new_privs();
    let landlock = landlock();
    let seccomp = seccomp();
    Protections { resources, no_new_privs, landlock, seccomp }
}

/// The child's address-space (and data-segment) limit: four times the memory limit, for the
/// copies of a result outside QuickJS (its JSON text, the parsed map, the reply), plus the
/// engine thread's stack and 256 MiB for the program, its libraries and the C library's
/// per-thread malloc arenas (each reserves 64 MiB of address space).
pub fn address_space(limits: &Limits) -> u64 {
    let bytes = 4usize.saturating_mul(limits.memory()).saturating_add(limits.thread_stack()).saturating_add(256 * crate::MIB);
    u64::try_from(bytes).unwrap_or(u64::MAX)
}

/// Sets the resource limits: address space and data, CPU time, file size, core size.
#[cfg(target_os = "linux")]
pub fn resources(limits: &Limits) -> Status {
    use rustix::process::Resource;

    // The child's own deadline is the timeout plus a grace (child.rs); the CPU limit comes a
    // grace after that, in whole seconds, so it only ever stops a child nobody is waiting for.
    let cpu = limits.timeout.saturating_add(crate::thread::GRACE.saturating_mul(2)).as_secs().saturating_add(1);
    let memory = address_space(limits);
    let failed: Vec<String> = [
        (Resource::As, memory, "address space"),
        (Resource::Data, memory, "data"),
        (Resource::Cpu, cpu, "CPU time"),
        (Resource::Fsize, 0, "file size"),
        (Resource::Core, 0, "core size"),
    ]
    .into_iter()
    .filter_map(|(resource, value, name)| lower(resource, value).err().map(|e| format!("{name}: {e}")))
    .collect();
    if failed.is_empty() {
        Status::Active(format!("{} MiB of address space", memory / crate::MIB as u64))
    } else {
        Status::Partial(format!("could not set {}", failed.join(", ")))
    }
}

/// Lowers both the soft and the hard limit to `value` (or keeps a hard limit already lower):
/// the code may never raise it again.
#[cfg(target_os = "linux")]
fn lower(resource: rustix::process::Resource, value: u64) -> std::io::Result<()> {
    let now = rustix::process::getrlimit(resource);
    let value = now.maximum.map_or(value, |hard| hard.min(value));
    rustix::process::setrlimit(resource, rustix::process::Rlimit { current: Some(value), maximum: Some(value) })?;
    Ok(())
}

#[cfg(target_os = "linux")]
pub fn no_new_privs() -> Status {
    match rustix::thread::set_no_new_privs(true) {
        Ok(()) => Status::Active(String::new()),
        Err(e) => Status::Inactive(format!("prctl refused it: {e}")),
    }
}

/// Handles every filesystem right and TCP bind/connect of Landlock ABI 7 (the newest this
/// crate is tested on) and allows none; scopes abstract Unix sockets and signals.
#[cfg(target_os = "linux")]
pub fn landlock() -> Status {
    use landlock::{ABI, Access, AccessFs, AccessNet, LandlockStatus, Ruleset, RulesetAttr, RulesetStatus, Scope};

    let abi = ABI::V7;
    let restricted = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.handle_access(AccessNet::from_all(abi)))
        .and_then(|r| r.scope(Scope::from_all(abi)))
        .and_then(|r| r.create())
        .and_then(|r| r.restrict_self());
    let status = match restricted {
        Ok(status) => status,
        Err(e) => return Status::Inactive(format!("the kernel refused the ruleset: {e}")),
    };
    let kernel = match status.landlock {
        LandlockStatus::Available { effective_abi, kernel_abi } => kernel_abi.map_or_else(|| effective_abi.to_string(), |v| v.to_string()),
        LandlockStatus::NotEnabled => {
            return Status::Inactive("the kernel has Landlock but does not enable it (add `landlock` to its `lsm=` boot option)".into());
        }
        LandlockStatus::NotImplemented => return Status::Inactive("the kernel has no Landlock (Linux 5.13 or later has it)".into()),
    };
    match status.ruleset {
        RulesetStatus::FullyEnforced => Status::Active(format!("ABI {abi}")),
        RulesetStatus::PartiallyEnforced => {
            Status::Partial(format!("the kernel's Landlock ABI {kernel} lacks some of ABI {abi}'s rights (TCP needs ABI 4, scopes ABI 6)"))
        }
        RulesetStatus::NotEnforced => Status::Inactive(format!("the kernel's Landlock ABI {kernel} enforced none of the ruleset")),
    }
}

/// Installs the system call allow-list (see `lockdown/seccomp.rs`).
#[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
pub fn seccomp() -> Status {
    seccomp::install()
}

#[cfg(all(target_os = "linux", not(any(target_arch = "x86_64", target_arch = "aarch64"))))]
pub fn seccomp() -> Status {
    Status::Inactive(format!("no system call list for {} yet", std::env::consts::ARCH))
}

#[cfg(not(target_os = "linux"))]
pub fn resources(_: &Limits) -> Status {
    off_linux()
}

#[cfg(not(target_os = "linux"))]
pub fn no_new_privs() -> Status {
    off_linux()
}

#[cfg(not(target_os = "linux"))]
pub fn landlock() -> Status {
    off_linux()
}

#[cfg(not(target_os = "linux"))]
pub fn seccomp() -> Status {
    off_linux()
}

#[cfg(not(target_os = "linux"))]
fn off_linux() -> Status {
    Status::Inactive(format!("not on Linux ({})", std::env::consts::OS))
}
