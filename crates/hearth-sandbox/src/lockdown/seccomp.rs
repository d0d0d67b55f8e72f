//! The child's seccomp filter: the system calls a locked-down child may still make, and how.
//!
//! An allow-list, read once the code is about to be read: the child then only reads its
//! standard input, writes its standard output and error, allocates memory, starts the engine's
//! thread, waits on futexes, reads clocks, signals itself (`abort`) and exits. Every other
//! call, opening a file, making a socket, starting a process, `ptrace`, `ioctl`, fails with
//! `EPERM`, so the C library and Rust report an ordinary error instead of dying. Arguments are
//! checked where they decide what a call can reach:
//! - `read` only on fd 0, `write` only on fds 1 and 2 (any descriptor the child inherited by
//!   mistake is useless);
//! - `mmap` only anonymous and never executable, `mprotect` never executable (QuickJS is an
//!   interpreter: no code is ever generated, so no page needs to become executable);
//! - `clone` only with `CLONE_THREAD` (a thread, never a process);
//! - `tgkill` only to this process.
//!
//! `clone3` passes its flags in memory, where a filter cannot look, so a second filter makes
//! it fail with `ENOSYS`, on which the C library falls back to `clone`. That filter goes in
//! first: filters run newest first, and between two results of the same kind the first seen
//! wins, while an error beats an allow; so `clone3` is in the allow-list and still fails.

use std::collections::BTreeMap;

use seccompiler::{BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch};

use super::Status;

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;

/// Installs both filters on the calling thread (its future threads inherit them).
pub(super) fn install() -> Status {
    let programs = no_clone3().and_then(|no_clone3| Ok((no_clone3, allow_list(std::process::id())?)));
    let (no_clone3, allow_list) = match programs {
        Ok(programs) => programs,
        Err(e) => return Status::Inactive(format!("the filter could not be built: {e}")),
    };
    if let Err(e) = seccompiler::apply_filter(&no_clone3) {
        return Status::Inactive(format!("the kernel refused the filter: {e}"));
    }
    match seccompiler::apply_filter(&allow_list) {
        Ok(()) => Status::Active(String::new()),
        Err(e) => Status::Inactive(format!("the kernel refused the filter: {e}")),
    }
}

type Built = Result<BpfProgram, seccompiler::BackendError>;

fn no_clone3() -> Built {
    let rules = BTreeMap::from([(libc::SYS_clone3, Vec::new())]);
    SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(libc::ENOSYS as u32), ARCH)?.try_into()
}

fn allow_list(pid: u32) -> Built {
    // Calls allowed whatever their arguments.
    let any = [
        libc::SYS_close,
        libc::SYS_exit,
        libc::SYS_exit_group,
        // Memory: the heap, unmapping and resizing what was mapped, giving pages back.
        libc::SYS_brk,
        libc::SYS_munmap,
        libc::SYS_mremap,
        libc::SYS_madvise,
        // Threads: the engine's thread (see `clone` below), its locks and its exit.
        libc::SYS_clone3,
        libc::SYS_futex,
        libc::SYS_set_robust_list,
        libc::SYS_rseq,
        libc::SYS_sched_yield,
        libc::SYS_gettid,
        libc::SYS_getpid,
        // Signals: masks, handlers and the alternate stack Rust's stack-overflow report uses.
        libc::SYS_rt_sigaction,
        libc::SYS_rt_sigprocmask,
        libc::SYS_rt_sigreturn,
        libc::SYS_sigaltstack,
        // Clocks (usually read without a system call) and waiting on them.
        libc::SYS_clock_gettime,
        libc::SYS_clock_getres,
        libc::SYS_clock_nanosleep,
        libc::SYS_nanosleep,
        libc::SYS_gettimeofday,
        libc::SYS_getrandom,
    ];
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = any.into_iter().map(|call| (call, Vec::new())).collect();
    let exec = u64::try_from(libc::PROT_EXEC).unwrap_or_default();
    let anonymous = u64::try_from(libc::MAP_ANONYMOUS).unwrap_or_default();
    let thread = u64::try_from(libc::CLONE_THREAD).unwrap_or_default();
    rules.insert(libc::SYS_read, vec![rule([arg(0, SeccompCmpOp::Eq, 0)])?]);
    rules.insert(libc::SYS_write, vec![rule([arg(0, SeccompCmpOp::Eq, 1)])?, rule([arg(0, SeccompCmpOp::Eq, 2)])?]);
    rules.insert(
        libc::SYS_mmap,
        vec![rule([arg(2, SeccompCmpOp::MaskedEq(exec), 0), arg(3, SeccompCmpOp::MaskedEq(anonymous), anonymous)])?],
    );
    rules.insert(libc::SYS_mprotect, vec![rule([arg(2, SeccompCmpOp::MaskedEq(exec), 0)])?]);
    rules.insert(libc::SYS_clone, vec![rule([arg(0, SeccompCmpOp::MaskedEq(thread), thread)])?]);
    rules.insert(libc::SYS_tgkill, vec![rule([arg(0, SeccompCmpOp::Eq, u64::from(pid))])?]);
    SeccompFilter::new(rules, SeccompAction::Errno(libc::EPERM as u32), SeccompAction::Allow, ARCH)?.try_into()
}

/// A condition on the low 32 bits of an argument: every argument checked here is an `int`
/// or flags that fit in one.
fn arg(index: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, seccompiler::BackendError> {
    SeccompCondition::new(index, SeccompCmpArgLen::Dword, op, value)
}

fn rule<const N: usize>(
    conditions: [Result<SeccompCondition, seccompiler::BackendError>; N],
) -> Result<SeccompRule, seccompiler::BackendError> {
    SeccompRule::new(conditions.into_iter().collect::<Result<_, _>>()?)
}
