//! Several `hearth` processes writing to one database at once: SQLite's locking plus the busy
//! timeout serialize them, and no write is lost or forked.

use std::process::Stdio;

use hearth_e2e::Hearth;

#[test]
fn processes_writing_at_once_lose_nothing() {
    let env = Hearth::new();
    env.json(&["workspaces", "create", "--name", "Shared", "--handle", "shared"]);
    let chat = env.json(&["chats", "new", "--workspace", "shared", "--title", "busy"])["id"].as_str().unwrap().to_owned();

    const WRITERS: usize = 4;
    const EACH: usize = 15;
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let script = (0..EACH)
                .map(|i| format!("\"$0\" --data-dir \"$1\" messages add --chat {chat} writer {w} line {i} || exit 1"))
                .collect::<Vec<_>>()
                .join("\n");
            std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .arg(hearth_e2e::hearth_bin())
                .arg(env.dir.path())
                .stdout(Stdio::null())
                .spawn()
                .expect("writer starts")
        })
        .collect();
    for mut w in writers {
        assert!(w.wait().unwrap().success(), "a writer failed");
    }

    // Each add continues the branch on screen, chosen inside its transaction, so the result is
    // one unbroken chain with every message in it.
    let thread = env.json(&["chats", "show", &chat]);
    let messages = thread["messages"].as_array().unwrap();
    assert_eq!(messages.len(), WRITERS * EACH);
    assert!(messages.iter().all(|m| m["sibling_count"] == 1), "no forks");
    for w in 0..WRITERS {
        let mine: Vec<&str> =
            messages.iter().map(|m| m["content"].as_str().unwrap()).filter(|c| c.starts_with(&format!("writer {w} "))).collect();
        let expected: Vec<String> = (0..EACH).map(|i| format!("writer {w} line {i}")).collect();
        assert_eq!(mine, expected, "writer {w}'s lines, all there and in its order");
    }
}
