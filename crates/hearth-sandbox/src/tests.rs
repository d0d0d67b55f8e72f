//! Unit tests of the parts that need no child: how errors read, where the program is looked
//! for, and the protocol's messages. The JavaScript contract and the child itself are tested
//! through the real program in `tests/it`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::process::{candidates, locate_from};
use crate::protocol::{Header, Reply, VERSION};

#[test]
fn errors_read_as_sentences() {
    for (error, text) in [
        (SandboxError::Timeout(Duration::from_secs(5)), "the code ran longer than its 5 s limit"),
        (SandboxError::Timeout(Duration::from_millis(300)), "the code ran longer than its 300 ms limit"),
        (SandboxError::Timeout(Duration::from_millis(1500)), "the code ran longer than its 1.5 s limit"),
        (SandboxError::OutOfMemory { limit_bytes: 64 * MIB }, "the code used more than its 64 MiB memory limit"),
        (
            SandboxError::Thrown("TypeError: x is undefined (at main, line 3)".into()),
            "main threw: TypeError: x is undefined (at main, line 3)",
        ),
        (SandboxError::NoMain, "the code does not define a function `main(inputs)`"),
        (SandboxError::Cancelled, "the run was cancelled"),
        (SandboxError::StackOverflow, "the code recursed too deeply (stack overflow)"),
        (SandboxError::Unavailable("the sandbox program was not found".into()), "code cannot run here: the sandbox program was not found"),
    ] {
        assert_eq!(error.to_string(), text);
    }
}

/// A fake install tree in a temp dir: `files` are created (empty), `exe` is the running program.
fn check_locate(files: &[&str], exe: &str, env: Option<&str>, want: Result<&str, &[&str]>) {
    let root = tempfile::tempdir().expect("a temp dir");
    let at = |rel: &str| root.path().join(rel);
    for file in files {
        let path = at(file);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("folders");
        std::fs::write(&path, "").expect("a file");
    }
    let got = locate_from(env.map(|e| at(e).into_os_string()), Some(&at(exe)));
    match (want, got) {
        (Ok(found), Ok(sandbox)) => assert_eq!(sandbox.program(), at(found), "{files:?} from {exe}"),
        (Err(parts), Err(SandboxError::Unavailable(why))) => {
            for part in parts {
                // A leading '/' is a path inside the fake tree.
                let part = part.strip_prefix('/').map_or_else(|| (*part).to_owned(), |rel| at(rel).display().to_string());
                assert!(why.contains(&part), "{files:?} from {exe}: {why}\nwanted: {part}");
            }
        }
        (want, got) => panic!("{files:?} from {exe}: got {got:?}, wanted {want:?}"),
    }
}

#[test]
fn the_program_is_found_where_builds_and_packages_put_it() {
    // Beside the executable: a build folder, or /usr/bin.
    check_locate(&["bin/hearth", "bin/hearth-sandbox"], "bin/hearth", None, Ok("bin/hearth-sandbox"));
    // The installed package: /usr/bin/hearth-desktop and /usr/lib/hearth/hearth-sandbox.
    check_locate(
        &["usr/bin/hearth-desktop", "usr/lib/hearth/hearth-sandbox"],
        "usr/bin/hearth-desktop",
        None,
        Ok("usr/lib/hearth/hearth-sandbox"),
    );
    // A test or bench binary in target/release/deps, the program in target/release.
    check_locate(
        &["release/deps/hearth_core-0123", "release/hearth-sandbox"],
        "release/deps/hearth_core-0123",
        None,
        Ok("release/hearth-sandbox"),
    );
    // Beside wins over the other places.
    check_locate(
        &["bin/hearth", "bin/hearth-sandbox", "lib/hearth/hearth-sandbox", "hearth-sandbox"],
        "bin/hearth",
        None,
        Ok("bin/hearth-sandbox"),
    );
    // The environment variable wins over everything, and is the only place looked at when set.
    check_locate(
        &["bin/hearth", "bin/hearth-sandbox", "elsewhere/sandbox"],
        "bin/hearth",
        Some("elsewhere/sandbox"),
        Ok("elsewhere/sandbox"),
    );
    check_locate(
        &["bin/hearth", "bin/hearth-sandbox"],
        "bin/hearth",
        Some("nowhere/sandbox"),
        Err(&["HEARTH_SANDBOX_BIN", "/nowhere/sandbox"]),
    );
}

#[test]
fn a_program_found_nowhere_says_where_it_looked_and_what_to_do() {
    check_locate(
        &["bin/hearth"],
        "bin/hearth",
        None,
        Err(&[
            "/bin/hearth-sandbox",
            "/lib/hearth/hearth-sandbox",
            "/hearth-sandbox",
            "HEARTH_SANDBOX_BIN",
            "cargo build --release -p hearth-sandbox",
        ]),
    );
    // A folder of that name is not the program.
    check_locate(&["bin/hearth", "bin/hearth-sandbox/x"], "bin/hearth", None, Err(&["was not found"]));
    assert_eq!(
        candidates(Path::new("/usr/bin/hearth")),
        [PathBuf::from("/usr/bin/hearth-sandbox"), PathBuf::from("/usr/lib/hearth/hearth-sandbox"), PathBuf::from("/usr/hearth-sandbox")]
    );
}

#[test]
fn messages_survive_the_pipe() {
    let limits = Limits { memory_bytes: 3 * MIB, stack_bytes: 256 * KIB, timeout: Duration::from_millis(1500) };
    let header: Header =
        serde_json::from_str(&serde_json::to_string(&Header { version: VERSION, limits }).expect("written")).expect("read");
    assert_eq!((header.version, header.limits), (VERSION, limits));
    for result in [
        Ok(serde_json::json!({ "a": [1, "two", null] }).as_object().cloned().expect("an object")),
        Err(SandboxError::Timeout(Duration::from_millis(300))),
        Err(SandboxError::OutOfMemory { limit_bytes: 16 * MIB }),
        Err(SandboxError::Thrown("Error: boom (at main, line 1)".into())),
    ] {
        let text = serde_json::to_string(&Reply { version: VERSION, protections: None, result: result.clone() }).expect("written");
        let reply: Reply = serde_json::from_str(&text).expect("read");
        assert_eq!(reply.result, result);
    }
}
