//! `hearth chat` and `hearth models` through the real binary and the real default model:
//! replies with the network off, continuing a chat, Ctrl-C, the registry, bad input.

use std::io::Read;
use std::process::{Command, Stdio};

use hearth_e2e::{Hearth, default_model, hearth_bin};

#[test]
fn chat_answers_with_the_network_off_and_saves_the_exchange() {
    let env = Hearth::with_default_model();
    // A network namespace with no interfaces at all: nothing but the local model can answer.
    let out = Command::new("unshare")
        .arg("-n")
        .arg(hearth_bin())
        .arg("--data-dir")
        .arg(env.dir.path())
        .args(["chat", "--temperature", "0", "--max-tokens", "24", "What", "is", "a", "river?"])
        .env("HEARTH_DEFAULT_MODEL", default_model())
        .output()
        .expect("unshare (util-linux) runs; the suite runs as root");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answer = String::from_utf8(out.stdout).unwrap();
    assert!(!answer.trim().is_empty());

    let chats = env.json(&["chats", "list"]);
    let chat = chats[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(chats[0]["title"], "What is a river?");
    let thread = env.json(&["chats", "show", &chat]);
    let messages = thread["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!((messages[0]["role"].as_str(), messages[0]["content"].as_str()), (Some("user"), Some("What is a river?")));
    let reply = &messages[1];
    assert_eq!((reply["role"].as_str(), reply["status"].as_str()), (Some("assistant"), Some("complete")));
    assert_eq!(reply["content"].as_str().unwrap(), answer.trim_end_matches('\n'));
    assert_eq!(reply["model"], "smollm2-135m-instruct");
    assert!(reply["completion_tokens"].as_u64().unwrap() >= 1);

    // Continue the same chat: the next turn follows the branch on screen.
    let next = env.json(&["chat", "--chat", &chat, "--temperature", "0", "--max-tokens", "8", "And a lake?"]);
    assert_eq!(next["chat_id"], chat.as_str());
    assert!(next["usage"]["prompt_tokens"].as_u64().unwrap() > reply["prompt_tokens"].as_u64().unwrap());
    assert_eq!(env.json(&["chats", "show", &chat])["messages"].as_array().unwrap().len(), 4);
}

#[test]
fn ctrl_c_keeps_the_partial_reply_as_cancelled() {
    let env = Hearth::with_default_model();
    let mut child = env
        .command()
        .args(["chat", "--max-tokens", "2000", "--temperature", "0.7", "--seed", "5", "Write", "a", "very", "long", "story."])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while seen.len() < 40 {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "the reply ended before Ctrl-C");
        seen.extend_from_slice(&buf[..n]);
    }
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    stdout.read_to_end(&mut seen).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));

    let chat = env.json(&["chats", "list"])[0]["id"].as_str().unwrap().to_owned();
    let thread = env.json(&["chats", "show", &chat]);
    let reply = &thread["messages"][1];
    assert_eq!(reply["status"], "cancelled");
    let saved = reply["content"].as_str().unwrap();
    assert!(saved.len() >= 40 && String::from_utf8_lossy(&seen).starts_with(saved), "saved {saved:?}");
    assert!(reply["completion_tokens"].as_u64().unwrap() < 2000);
}

#[test]
fn the_default_model_is_registered_and_others_can_be_imported() {
    let env = Hearth::with_default_model();
    let models = env.json(&["models", "list"]);
    let default = &models[0];
    assert_eq!(default["name"], "smollm2-135m-instruct");
    assert_eq!((default["is_default"].as_bool(), default["source"].as_str()), (Some(true), Some("default")));
    assert_eq!((default["architecture"].as_str(), default["quantization"].as_str()), (Some("llama"), Some("Q4_1")));
    assert_eq!(default["context_length"], 8192);
    assert_eq!(default["sha256"], "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53");
    let params = default["parameters"].as_u64().unwrap();
    assert!((130_000_000..140_000_000).contains(&params), "{params}");

    let imported = env.json(&["models", "import", default_model().to_str().unwrap(), "--name", "smollm2-copy"]);
    assert_eq!(imported["is_default"], false);
    env.json(&["models", "default", "smollm2-copy"]);
    let names: Vec<(String, bool)> = env
        .json(&["models", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_owned(), m["is_default"].as_bool().unwrap()))
        .collect();
    assert_eq!(names, [("smollm2-135m-instruct".to_owned(), false), ("smollm2-copy".to_owned(), true)]);
    let answer = env.json(&["chat", "--temperature", "0", "--max-tokens", "4", "Hi"]);
    assert_eq!(answer["answer"]["model"], "smollm2-copy");
    env.json(&["models", "rm", "smollm2-copy"]);
    assert_eq!(env.json(&["models", "list"]).as_array().unwrap().len(), 1);
}

#[test]
fn bad_models_and_bad_requests_are_clear_errors() {
    let env = Hearth::with_default_model();
    let fake = env.dir.path().join("notes.gguf");
    std::fs::write(&fake, "shopping list: eggs, flour").unwrap();
    let out = env.command().args(["models", "import"]).arg(&fake).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a GGUF file"), "{}", String::from_utf8_lossy(&out.stderr));

    let truncated = env.dir.path().join("cut.gguf");
    let head: Vec<u8> = std::fs::read(default_model()).unwrap()[..100_000].to_vec();
    std::fs::write(&truncated, head).unwrap();
    let out = env.command().args(["models", "import"]).arg(&truncated).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"), "{}", String::from_utf8_lossy(&out.stderr));

    let out = env.command().args(["chat", "--temperature=-0.5", "Hi"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("temperature"));

    let out = env.command().args(["chat", "--model", "nope", "Hi"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    // No model at all: the error says how to get one.
    let bare = Hearth::new();
    let out = bare.command().env("HEARTH_DEFAULT_MODEL", env.dir.path().join("absent.gguf")).args(["chat", "Hi"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`hearth models fetch` downloads the default one"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Longer than the model's whole context (8,192 tokens); through stdin, as a pasted document would come.
    let long = "many words ".repeat(40_000);
    let mut child = env.command().args(["chat", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), long.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("shorten"));
}
