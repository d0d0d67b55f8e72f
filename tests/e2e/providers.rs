//! `hearth providers`, `hearth chat --model provider/model` and `hearth usage` through the real
//! binary: another `hearth serve` with the real default model is the provider, its API token
//! is the key, and the key lives in the real Secret Service that `make test` starts.

use std::io::Write;
use std::process::Stdio;

use hearth_e2e::{Hearth, serve};

/// `hearth providers key set NAME` with the key on stdin.
fn set_key(env: &Hearth, name: &str, key: &str) -> serde_json::Value {
    let mut child =
        env.command().args(["--json", "providers", "key", "set", name]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(format!("{key}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_remote_provider_answers_hearth_chat_and_its_key_lives_in_the_keychain() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no D-Bus session: run through scripts/with-keyring.sh (make test does), which starts a real Secret Service"
    );
    let remote_env = Hearth::with_default_model();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let token = format!("e2e-provider-key-{}-{nanos}", std::process::id());
    let remote = serve(&remote_env, &token);

    let env = Hearth::with_default_model();
    let added = env.json(&["providers", "add", "peer", "--kind", "openai-compatible", "--base-url", &format!("{}/v1", remote.url)]);
    assert_eq!(added["key"]["set"], false);
    let keyed = set_key(&env, "peer", &token);
    assert_eq!(keyed["key"]["last_four"], &token[token.len() - 4..]);
    assert!(!keyed.to_string().contains(&token));

    // A new process reads the key back from the keychain and uses it.
    let listed = env.json(&["providers", "list"]);
    assert_eq!(listed[0]["key"]["set"], true);
    let tested = env.json(&["providers", "test", "peer"]);
    assert_eq!(tested["models"], serde_json::json!(["smollm2-135m-instruct"]));

    let reply = env.json(&["chat", "--model", "peer/smollm2-135m-instruct", "--temperature", "0", "--max-tokens", "8", "Say", "hello."]);
    assert_eq!(reply["answer"]["status"], "complete");
    assert_eq!(
        (reply["answer"]["model"].as_str(), reply["answer"]["provider"].as_str()),
        (Some("peer/smollm2-135m-instruct"), Some("peer"))
    );
    assert!(!reply["answer"]["content"].as_str().unwrap().is_empty());
    // Continuing the chat keeps its model; then it moves to the local model, history and all.
    let chat = reply["chat_id"].as_str().unwrap();
    let again = env.json(&["chat", "--chat", chat, "--temperature", "0", "--max-tokens", "4", "More."]);
    assert_eq!(again["answer"]["provider"], "peer");
    let local =
        env.json(&["chat", "--chat", chat, "--model", "smollm2-135m-instruct", "--temperature", "0", "--max-tokens", "8", "Again."]);
    assert_eq!(local["answer"]["provider"], "local");
    assert!(local["usage"]["prompt_tokens"].as_u64().unwrap() > again["usage"]["prompt_tokens"].as_u64().unwrap());

    let usage = env.json(&["usage", "--days", "1"]);
    let providers: Vec<&str> = usage.as_array().unwrap().iter().map(|r| r["provider"].as_str().unwrap()).collect();
    assert_eq!(providers, ["local", "peer"]);

    // A wrong key: exit 9, naming the provider and the refusal.
    set_key(&env, "peer", "not-the-token-0000");
    let out = env.run(&["chat", "--model", "peer/smollm2-135m-instruct", "--max-tokens", "4", "Hi"]);
    assert_eq!(out.status.code(), Some(9));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("provider peer") && stderr.contains("key was refused"), "{stderr}");

    // Removing the provider removes its key: added again, it has none.
    env.json(&["providers", "rm", "peer"]);
    let again = env.json(&["providers", "add", "peer", "--kind", "openai-compatible", "--base-url", &format!("{}/v1", remote.url)]);
    assert_eq!(again["key"]["set"], false);
    // And nothing of the key is in the data folder (database, WAL, logs).
    assert_eq!(env.files_containing(&token), Vec::<std::path::PathBuf>::new(), "the key is in the data folder");
}
