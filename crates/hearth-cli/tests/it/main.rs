//! Runs the real `hearth` binary against temporary data directories: every command's help,
//! the data commands end to end, and the bad inputs (invalid values, duplicates, missing rows,
//! files that are not Hearth databases, newer schemas, a locked database).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("hearth").unwrap();
        c.env_remove("RUST_LOG").env_remove("HEARTH_DEFAULT_MODEL").env_remove("HEARTH_API_TOKEN").arg("--data-dir").arg(self.dir.path());
        c
    }

    /// Runs with `--json`, expects success, returns stdout as JSON.
    fn json(&self, args: &[&str]) -> Value {
        let out = self.cmd().arg("--json").args(args).output().unwrap();
        assert!(out.status.success(), "hearth {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Runs and expects exit `code`; returns stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.cmd().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "hearth {args:?}: {stderr}");
        stderr
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("hearth.db")
    }

    /// How many lines of the log files contain `needle`.
    fn logged(&self, needle: &str) -> usize {
        let Ok(files) = std::fs::read_dir(self.dir.path().join("logs")) else { return 0 };
        files.map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap_or_default().lines().filter(|l| l.contains(needle)).count()).sum()
    }

    fn workspace(&self, handle: &str) -> Value {
        self.json(&["workspaces", "create", "--name", &format!("WS {handle}"), "--handle", handle])
    }

    fn chat(&self, handle: &str, title: &str) -> String {
        self.json(&["chats", "new", "--workspace", handle, "--title", title])["id"].as_str().unwrap().to_owned()
    }
}

#[test]
fn every_command_has_help() {
    let env = Env::new();
    let commands: &[&[&str]] = &[
        &[],
        &["doctor"],
        &["workspaces"],
        &["workspaces", "create"],
        &["workspaces", "list"],
        &["workspaces", "show"],
        &["workspaces", "rename"],
        &["workspaces", "update"],
        &["workspaces", "rm"],
        &["chats"],
        &["chats", "new"],
        &["chats", "list"],
        &["chats", "show"],
        &["chats", "rename"],
        &["chats", "pin"],
        &["chats", "unpin"],
        &["chats", "archive"],
        &["chats", "unarchive"],
        &["chats", "branch"],
        &["chats", "rm"],
        &["messages"],
        &["messages", "add"],
        &["messages", "edit"],
        &["messages", "rm"],
        &["search"],
    ];
    for args in commands {
        let out = env.cmd().args(*args).arg("--help").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains("Usage: hearth"), "hearth {args:?} --help: {text}");
        assert!(text.contains("--data-dir") && text.contains("--json"), "global options in {args:?}");
    }
    assert!(!env.db().exists(), "help touches no data");
}

#[test]
fn workspaces_chats_messages_and_search_end_to_end() {
    let env = Env::new();
    let ws =
        env.json(&["workspaces", "create", "--name", "Kitchen", "--handle", "kitchen", "--timezone", "Europe/Paris", "--tone", "warm"]);
    assert_eq!(
        (ws["handle"].as_str(), ws["timezone"].as_str(), ws["tone"].as_str()),
        (Some("kitchen"), Some("Europe/Paris"), Some("warm"))
    );
    env.workspace("garage");
    // With the default model's file named in the environment too (the global option of the
    // same kind), a workspace's own chat model is its own option.
    let out = env
        .cmd()
        .env("HEARTH_DEFAULT_MODEL", "/nonexistent/model.gguf")
        .args(["--json", "workspaces", "update", "garage", "--chat-model", "gemma-3-270m"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["default_model"], "gemma-3-270m");
    let list = env.json(&["workspaces", "list"]);
    assert_eq!(
        list.as_array().unwrap().iter().map(|w| w["handle"].as_str().unwrap()).collect::<Vec<_>>(),
        ["kitchen", "garage"],
        "by name: Kitchen, WS garage"
    );

    let bread = env.chat("kitchen", "Bread");
    let soup = env.chat("kitchen", "Soup");
    env.json(&["chats", "pin", &bread]);
    let q = env.json(&["messages", "add", "--chat", &soup, "how", "long", "to", "simmer", "lentils?"]);
    env.json(&["messages", "add", "--chat", &soup, "--role", "assistant", "About 25 minutes for red lentils."]);
    let chats = env.json(&["chats", "list", "--workspace", "kitchen"]);
    let titles: Vec<_> = chats.as_array().unwrap().iter().map(|c| c["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Bread", "Soup"], "pinned first");

    // Edit the question: a new branch; the thread shows it and counts the siblings.
    let q_id = q["id"].as_str().unwrap();
    env.json(&["messages", "edit", q_id, "how long to simmer green lentils?"]);
    let thread = env.json(&["chats", "show", &soup]);
    let msgs = thread["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["content"], "how long to simmer green lentils?");
    assert_eq!((msgs[0]["sibling_index"].as_u64(), msgs[0]["sibling_count"].as_u64()), (Some(1), Some(2)));
    let back = env.json(&["chats", "branch", &soup, q_id]);
    assert_eq!(back["messages"].as_array().unwrap().len(), 2);

    let hits = env.json(&["search", "lentils"]);
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 3);
    assert!(hits.iter().all(|h| h["chat_id"] == soup.as_str()));
    let text = env.cmd().args(["search", "red", "lent"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&text.stdout).matches("**").count(), 4, "two highlighted words");

    // A retried add with the same key returns the first message.
    let first = env.json(&["messages", "add", "--chat", &bread, "--idempotency-key", "k1", "flour?"]);
    let again = env.json(&["messages", "add", "--chat", &bread, "--idempotency-key", "k1", "flour?"]);
    assert_eq!(first["id"], again["id"]);

    env.json(&["chats", "rm", &soup]);
    assert!(env.json(&["search", "lentils"]).as_array().unwrap().is_empty());
    env.json(&["workspaces", "rm", "kitchen"]);
    assert_eq!(env.json(&["workspaces", "list"]).as_array().unwrap().len(), 1);
}

#[test]
fn invalid_values_name_their_field() {
    let env = Env::new();
    let err = env.fails(&["workspaces", "create", "--name", "X", "--handle", "Not Valid"], 3);
    assert!(err.contains("handle:") && err.contains("Not Valid"), "{err}");
    let err = env.fails(&["workspaces", "create", "--name", "X", "--handle", "x", "--timezone", "Mars/Olympus"], 3);
    assert!(err.contains("timezone:") && err.contains("Mars/Olympus"), "{err}");
    let err = env.fails(&["workspaces", "create", "--name", "  ", "--handle", "x"], 3);
    assert!(err.contains("name:"), "{err}");

    env.workspace("home");
    let err = env.fails(&["workspaces", "create", "--name", "Again", "--handle", "home"], 5);
    assert!(err.contains("handle:") && err.contains("already used"), "{err}");

    let err = env.fails(&["messages", "add", "--chat", "01a203df-5daa-76c4-934c-b4eba931b569", "hello"], 4);
    assert!(err.contains("chat_id: no chat with id 01a203df-5daa-76c4-934c-b4eba931b569"), "{err}");
    let err = env.fails(&["messages", "add", "--chat", "not-an-id", "hello"], 3);
    assert!(err.contains("chat:"), "{err}");
    let chat = env.chat("home", "c");
    let err = env.fails(&["messages", "add", "--chat", &chat, "--role", "robot", "hello"], 3);
    assert!(err.contains("role:"), "{err}");
    let err = env.fails(&["chats", "new", "--workspace", "nowhere", "--title", "t"], 4);
    assert!(err.contains("handle: no workspace with id nowhere"), "{err}");

    // Machine-readable errors.
    let out = env.cmd().args(["--json", "workspaces", "create", "--name", "X", "--handle=-x"]).output().unwrap();
    let body: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!((body["error"]["code"].as_str(), body["error"]["field"].as_str()), (Some("invalid"), Some("handle")));
    // Nothing above reached the database.
    assert_eq!(env.json(&["workspaces", "list"]).as_array().unwrap().len(), 1);
}

fn assert_unchanged(path: &Path, before: &[u8]) {
    assert_eq!(std::fs::read(path).unwrap(), before, "{} changed", path.display());
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_kept() {
    let env = Env::new();
    let garbage = b"PK\x03\x04 this is a zip, not a database".repeat(100);
    std::fs::write(env.db(), &garbage).unwrap();
    let err = env.fails(&["workspaces", "list"], 6);
    assert!(err.contains(&env.db().display().to_string()) && err.contains("not a SQLite database"), "{err}");
    assert_unchanged(&env.db(), &garbage);
    // doctor reports the same problem (and still lists everything else).
    let out = env.cmd().arg("doctor").output().unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stdout).contains("database:  ERROR"), "{}", String::from_utf8_lossy(&out.stdout));
    assert_unchanged(&env.db(), &garbage);
}

#[test]
fn a_damaged_database_is_refused_and_kept() {
    let env = Env::new();
    env.workspace("keep");
    let mut bytes = std::fs::read(env.db()).unwrap();
    bytes[100..3000].fill(0x5A);
    std::fs::write(env.db(), &bytes).unwrap();
    let err = env.fails(&["workspaces", "list"], 6);
    assert!(err.contains(&env.db().display().to_string()) && err.contains("left untouched"), "{err}");
    assert_unchanged(&env.db(), &bytes);
}

#[test]
fn a_newer_schema_is_refused() {
    let env = Env::new();
    env.workspace("future");
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.pragma_update(None, "user_version", 42).unwrap();
    drop(conn);
    let before = std::fs::read(env.db()).unwrap();
    let err = env.fails(&["workspaces", "list"], 6);
    assert!(err.contains("schema version 42") && err.contains("newer Hearth"), "{err}");
    assert_unchanged(&env.db(), &before);
}

#[test]
fn a_locked_database_waits_then_says_so() {
    let env = Env::new();
    env.workspace("busy");
    let mut conn = rusqlite::Connection::open(env.db()).unwrap();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).unwrap();
    let err = env.fails(&["workspaces", "create", "--name", "Other", "--handle", "other"], 7);
    assert!(err.contains("locked by another program") && err.contains("hearth.db"), "{err}");
    // Reads still work while another program writes.
    assert_eq!(env.json(&["workspaces", "list"]).as_array().unwrap().len(), 1);
    tx.rollback().unwrap();
    env.workspace("other");
}

#[test]
fn a_write_waits_for_another_programs_lock_to_end() {
    let env = Env::new();
    env.workspace("first");
    let mut conn = rusqlite::Connection::open(env.db()).unwrap();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("hearth"))
        .arg("--data-dir")
        .arg(env.dir.path())
        .args(["workspaces", "create", "--name", "Second", "--handle", "second"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The command starts while the lock is held; it must wait rather than fail at once. Its
    // write comes right after it logs that it opened the store.
    let deadline = Instant::now() + Duration::from_secs(30);
    while env.logged("opened the store") < 2 {
        assert!(child.try_wait().unwrap().is_none(), "the command ended before it waited for the lock");
        assert!(Instant::now() < deadline, "the command did not open the store within 30 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    // SQLite's busy wait gives no signal to observe, so the lock is held a while with the command still waiting.
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "the command waits for the lock rather than failing at once");
    tx.commit().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(env.json(&["workspaces", "list"]).as_array().unwrap().len(), 2);
}

#[test]
fn doctor_reports_the_database_and_the_parts() {
    let env = Env::new();
    let model = env.dir.path().join("model.gguf");
    std::fs::write(&model, b"GGUF\x03\x00\x00\x00rest").unwrap();
    let out = env.cmd().args(["--json", "doctor", "--default-model"]).arg(&model).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["database"]["ok"], true);
    assert_eq!(report["database"]["schema_version"], hearth_core::SCHEMA_VERSION);
    assert_eq!(report["database"]["integrity_problems"], serde_json::json!([]));
    assert!(report["sqlite_version"].as_str().unwrap().starts_with("3."));
    let parts: Vec<&str> = report["parts"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(parts, ["model", "keychain", "postgresql", "browser"]);
    assert_eq!(report["parts"][0]["present"], true);

    std::fs::write(&model, b"not a model").unwrap();
    let report = env.json(&["doctor", "--default-model", model.to_str().unwrap()]);
    assert_eq!(report["parts"][0]["present"], false);
}

#[test]
fn logs_are_json_lines_without_message_contents() {
    let env = Env::new();
    env.workspace("diary");
    let chat = env.chat("diary", "private");
    env.cmd().args(["--log-level", "debug", "messages", "add", "--chat", &chat, "zebra-secret-42"]).assert().success();
    env.cmd().args(["search", "zebra"]).assert().success();
    let logs: Vec<PathBuf> = std::fs::read_dir(env.dir.path().join("logs")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let text = std::fs::read_to_string(&logs[0]).unwrap();
    assert!(text.lines().count() >= 4, "{text}");
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string());
    }
    assert!(!text.contains("zebra-secret-42"), "message content leaked into the log");
}

#[test]
fn the_data_dir_comes_from_the_environment_too() {
    let env = Env::new();
    let mut c = Command::cargo_bin("hearth").unwrap();
    c.env("HEARTH_DATA_DIR", env.dir.path()).args(["workspaces", "create", "--name", "E", "--handle", "env"]).assert().success();
    assert!(env.db().exists());
}

/// Runs under `make test`'s private GNOME Keyring: the token lives in the Secret Service.
#[test]
fn the_api_token_is_made_once_and_kept_in_the_keychain() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no D-Bus session: run through scripts/with-keyring.sh (make test does), which starts a real Secret Service"
    );
    let env = Env::new();
    let first = env.json(&["token", "show"])["token"].as_str().unwrap().to_owned();
    assert_eq!(first.len(), 64, "{first}");
    assert_eq!(env.json(&["token", "show"])["token"], first.as_str());
    assert!(!env.dir.path().join("api-token").exists(), "the token is in the keychain, not in a file");
    // Each data directory has its own.
    let other = Env::new();
    assert_ne!(other.json(&["token", "show"])["token"], first.as_str());
    let from_env = "from-env-0123456789abcdef0123456789";
    let out = env.cmd().env("HEARTH_API_TOKEN", from_env).args(["--json", "token", "show"]).output().unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["token"], from_env);
    // A token file from before the keychain moves into it.
    let legacy = Env::new();
    std::fs::write(legacy.dir.path().join("api-token"), "legacy-token-0123456789\n").unwrap();
    assert_eq!(legacy.json(&["token", "show"])["token"], "legacy-token-0123456789");
    assert!(!legacy.dir.path().join("api-token").exists());
    assert_eq!(legacy.json(&["token", "show"])["token"], "legacy-token-0123456789");
}

#[test]
fn serve_refuses_a_public_address_without_the_flag() {
    let env = Env::new();
    let stderr = env.fails(&["serve", "--host", "0.0.0.0", "--port", "0"], 3);
    assert!(stderr.contains("--allow-remote"), "{stderr}");
}

#[test]
fn serve_refuses_a_wildcard_cors_origin_a_short_token_and_remote_access_without_tls() {
    let env = Env::new();
    // Each is refused before the server starts; were one accepted, serve would run on until
    // the timeout.
    let refused = |cmd: &mut Command| {
        let out = cmd.timeout(Duration::from_secs(60)).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let stderr = refused(env.cmd().args(["serve", "--port", "0", "--cors-origin", "*"]));
    assert!(stderr.contains("cors_origin") && stderr.contains("any web page"), "{stderr}");
    let stderr = refused(env.cmd().env("HEARTH_API_TOKEN", "short-token").args(["serve", "--port", "0"]));
    assert!(stderr.contains("HEARTH_API_TOKEN") && stderr.contains("at least 32"), "{stderr}");
    let stderr = refused(env.cmd().args(["serve", "--host", "0.0.0.0", "--allow-remote", "--port", "0"]));
    assert!(stderr.contains("--tls-cert") && stderr.contains("unencrypted"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn the_data_folder_the_database_and_the_logs_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let mut cmd = Command::cargo_bin("hearth").unwrap();
    cmd.env_remove("RUST_LOG").arg("--data-dir").arg(&data);
    cmd.args(["workspaces", "create", "--name", "Private", "--handle", "private"]).assert().success();
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("hearth.db")), 0o600);
    assert_eq!(mode(&data.join("logs")), 0o700);
    let logs: Vec<PathBuf> = std::fs::read_dir(data.join("logs")).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(!logs.is_empty());
    for log in logs {
        assert_eq!(mode(&log), 0o600, "{}", log.display());
    }
}

/// Runs under `make test`'s private GNOME Keyring: the key lives in the Secret Service.
#[test]
fn moving_a_provider_to_another_host_takes_its_key_again() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no D-Bus session: run through scripts/with-keyring.sh (make test does), which starts a real Secret Service"
    );
    let env = Env::new();
    let name = format!("mover-{}", std::process::id());
    env.json(&["providers", "add", &name, "--kind", "openai-compatible", "--base-url", "https://one.example/v1"]);
    env.cmd().args(["providers", "key", "set", &name]).write_stdin("sk-first-host-key-0001\n").assert().success();

    let stderr = env.fails(&["providers", "update", &name, "--base-url", "https://two.example/v1"], 3);
    assert!(stderr.contains("api_key") && stderr.contains("--key"), "{stderr}");
    assert_eq!(env.json(&["providers", "list"])[0]["base_url"], "https://one.example/v1", "nothing changed");
    let stderr = env.fails(&["providers", "update", &name, "--base-url", "http://two.example/v1"], 3);
    assert!(stderr.contains("https://"), "{stderr}");

    let out = env
        .cmd()
        .args(["--json", "providers", "update", &name, "--base-url", "https://two.example/v1", "--key"])
        .write_stdin("sk-second-host-key-0002\n")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let moved: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((moved["base_url"].as_str(), moved["key"]["last_four"].as_str()), (Some("https://two.example/v1"), Some("0002")));
    env.cmd().args(["providers", "rm", &name]).assert().success();
}
