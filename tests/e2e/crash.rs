//! A process killed with SIGKILL in the middle of writing loses nothing it committed and
//! leaves nothing half-written: every message it wrote is whole, each with its outbox row.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use hearth_e2e::Hearth;
use hearth_store::Store;
use hearth_types::ChatId;

#[test]
fn a_killed_writer_leaves_a_sound_database() {
    let env = Hearth::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_store-writer")).arg(env.db()).stdout(Stdio::piped()).spawn().expect("writer starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let chat: ChatId = lines.next().unwrap().unwrap().strip_prefix("chat ").unwrap().parse().unwrap();
    let mut acknowledged = 0;
    for line in lines.by_ref() {
        acknowledged = line.unwrap().strip_prefix("wrote ").unwrap().parse::<usize>().unwrap();
        if acknowledged >= 300 {
            break;
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();

    let store = Store::open(env.db()).expect("reopens after the kill");
    assert!(store.integrity_check().unwrap().is_empty(), "integrity check");
    let thread = store.read(|r| r.thread(chat)).unwrap();
    let n = thread.messages.len();
    assert!(n >= acknowledged, "every acknowledged message survived ({n} < {acknowledged})");
    for (i, m) in thread.messages.iter().enumerate() {
        assert!(m.message.content.starts_with(&format!("message {i} ")), "message {i} is whole and in order");
        assert_eq!(m.message.content.len(), format!("message {i} ").len() + 27 * 200);
    }
    let in_outbox: BTreeSet<String> =
        store.read(|r| r.outbox(u32::MAX)).unwrap().into_iter().filter(|row| row.table == "messages").map(|row| row.row_id).collect();
    let written: BTreeSet<String> = thread.messages.iter().map(|m| m.message.id.to_string()).collect();
    assert_eq!(in_outbox, written, "each committed message has its outbox row and no other row exists");

    // The CLI agrees the file is sound and keeps working on it.
    drop(store);
    let report = env.json(&["doctor"]);
    assert_eq!(report["database"]["ok"], true, "{report}");
    env.json(&["messages", "add", "--chat", &chat.to_string(), "after the crash"]);
}
