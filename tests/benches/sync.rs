//! Sync over loopback against the real test bed (PostgreSQL 15 + postrust), each figure beside
//! a reference measured in the same run: the same rows sent to PostgREST as one plain bulk
//! upsert (`POST /messages` with `Prefer: resolution=merge-duplicates`).
//!
//! - Initial pull of 100,000 messages into a fresh device (rows/s; goal >= 20,000).
//! - Push of a 10,000-change offline backlog (s; goal <= 10 s).
//! - Requests per minute while idle (goal: one cheap check per idle interval, 2/min).
//!
//! Figures go to stdout and to `bench-results/sync.json` (or `$HEARTH_BENCH_OUT`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_e2e::testbed::TestBed;
use hearth_secrets::MemoryStore;
use hearth_store::Store;
use hearth_sync::{Endpoints, Engine, Options, Progress};
use hearth_types::{Handle, NewChat, NewMessage, NewWorkspace, Role};
use serde_json::{Value, json};

const PULL_ROWS: usize = 100_000;
const PUSH_CHANGES: usize = 10_000;
const STAMP: &str = "1763840000000:00000:ab";

fn id(kind: u32, n: usize) -> String {
    format!("01a20000-{kind:04x}-7000-8000-{n:012x}")
}

/// A workspace, a chat and `n` messages of one user, as server rows.
fn rows(tag: u32, n: usize) -> (Value, Value, Vec<Value>) {
    let ws = json!({ "id": id(tag, 0), "name": "Bench", "handle": "bench", "field_hlc": { "name": STAMP, "handle": STAMP } });
    let chat = json!({ "id": id(tag + 1, 0), "workspace_id": id(tag, 0), "title": "Bench", "field_hlc": { "title": STAMP, "workspace_id": STAMP } });
    let messages = (0..n)
        .map(|i| {
            json!({ "id": id(tag + 2, i), "chat_id": id(tag + 1, 0), "role": "user",
                    "content": format!("message {i}: the quick brown fox jumps over the lazy dog"),
                    "created_at": "2026-11-22T10:00:00.000Z",
                    "field_hlc": { "chat_id": STAMP, "role": STAMP, "content": STAMP } })
        })
        .collect();
    (ws, chat, messages)
}

/// One plain bulk upsert through the REST server; panics unless it succeeds.
fn upsert(bed: &TestBed, token: &str, table: &str, rows: &[Value]) {
    let addr = bed.rest_url.strip_prefix("http://").unwrap();
    let body = serde_json::to_vec(rows).unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST /{table} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Prefer: resolution=merge-duplicates,return=minimal\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(&body).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 20"), "bulk upsert of {} {table}: {}", rows.len(), answer.chars().take(300).collect::<String>());
}

fn device(rt: &tokio::runtime::Runtime, bed: &TestBed, token: &str, options: Options) -> (tempfile::TempDir, Arc<Store>, Arc<Engine>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path().join("hearth.db")).unwrap());
    let engine = Engine::new(store.clone(), Arc::new(MemoryStore::new()), options);
    rt.block_on(engine.connect(&Endpoints::explicit(&bed.rest_url, None, None).unwrap())).unwrap();
    rt.block_on(engine.use_tokens(token, None, None)).unwrap();
    (dir, store, engine)
}

fn main() {
    let bed = TestBed::start();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let options = Options { pull_page: 5000, push_batch: 500, request_timeout: Duration::from_secs(120), ..Options::default() };
    println!("hearth-sync benchmark over loopback: PostgreSQL 15 + postrust (PostgREST compatible)");

    // Initial pull: the reference puts 100,000 messages in with one bulk upsert; a fresh
    // device then pulls them all.
    let (_, token) = bed.user();
    let (ws, chat, messages) = rows(0x10, PULL_ROWS);
    upsert(&bed, &token, "workspaces", &[ws]);
    upsert(&bed, &token, "chats", &[chat]);
    let started = Instant::now();
    upsert(&bed, &token, "messages", &messages);
    let reference_upsert = started.elapsed();
    drop(messages);
    let (_dir, store, engine) = device(&rt, &bed, &token, options.clone());
    let started = Instant::now();
    let round = rt.block_on(engine.sync_now(&mut |_| {})).unwrap();
    let pull = started.elapsed();
    assert_eq!(round.pulled as usize, PULL_ROWS + 2);
    assert_eq!(store.read(|r| r.synced_ids("messages")).unwrap().len(), PULL_ROWS);
    let pull_rate = round.pulled as f64 / pull.as_secs_f64();
    let reference_rate = PULL_ROWS as f64 / reference_upsert.as_secs_f64();
    println!(
        "initial pull of {PULL_ROWS} messages  {pull_rate:>9.0} rows/s  ({:.2} s, {} requests; goal >= 20000 rows/s)",
        pull.as_secs_f64(),
        round.requests
    );
    println!("  reference bulk upsert  {reference_rate:>9.0} rows/s  ({:.2} s)", reference_upsert.as_secs_f64());
    println!("  ratio pull/upsert      {:>9.2}", pull_rate / reference_rate);

    // Idle: a caught-up device's background loop, for one minute after its first round.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = rt.spawn(engine.clone().run(stopped));
    std::thread::sleep(Duration::from_secs(2));
    let before = engine.requests();
    std::thread::sleep(Duration::from_secs(60));
    stop.send(true).unwrap();
    rt.block_on(running).unwrap();
    let idle_per_minute = engine.requests() - before;
    println!("idle requests per minute {idle_per_minute:>8}  (goal <= 2: one pull per 30 s idle interval)");

    // Push of an offline backlog: 10,000 changes (a workspace, a chat and 9,998 messages, each
    // its own user action), against the same rows as one bulk upsert for another user.
    let (_, token) = bed.user();
    let (_dir2, store, engine) = device(&rt, &bed, &token, options.clone());
    let ws = store.write(|x| x.create_workspace(&NewWorkspace::new("Backlog", Handle::parse("backlog").unwrap()).unwrap())).unwrap();
    let chat = store.write(|x| x.create_chat(&NewChat { workspace_id: ws.id, title: "Backlog".into(), model: None })).unwrap();
    for i in 0..PUSH_CHANGES - 2 {
        let text = format!("message {i}: the quick brown fox jumps over the lazy dog");
        store.write(|x| x.append_message(&NewMessage::new(chat.id, None, Role::User, &text))).unwrap();
    }
    assert_eq!(store.read(|r| r.pending()).unwrap().transactions as usize, PUSH_CHANGES);
    let started = Instant::now();
    let mut pushed_at = None;
    let round = rt.block_on(engine.sync_now(&mut |p| {
        if let Progress::Pushed { remaining: 0, .. } = p {
            pushed_at = Some(started.elapsed());
        }
    }));
    let round = round.unwrap();
    let push = pushed_at.expect("the push finished");
    assert_eq!(round.pushed as usize, PUSH_CHANGES);
    let (_, token) = bed.user();
    let (ws, chat, messages) = rows(0x20, PUSH_CHANGES - 2);
    let started = Instant::now();
    upsert(&bed, &token, "workspaces", &[ws]);
    upsert(&bed, &token, "chats", &[chat]);
    upsert(&bed, &token, "messages", &messages);
    let reference_push = started.elapsed();
    println!("push of a {PUSH_CHANGES}-change backlog {:>8.2} s  (goal <= 10 s)", push.as_secs_f64());
    println!("  reference bulk upsert  {:>9.2} s", reference_push.as_secs_f64());
    println!("  ratio push/upsert      {:>9.2}", push.as_secs_f64() / reference_push.as_secs_f64());

    let figures = json!({
        "pull_rows": PULL_ROWS, "pull_rows_per_s": pull_rate, "pull_reference_rows_per_s": reference_rate,
        "idle_requests_per_minute": idle_per_minute,
        "push_changes": PUSH_CHANGES, "push_s": push.as_secs_f64(), "push_reference_s": reference_push.as_secs_f64(),
    });
    let out = std::env::var("HEARTH_BENCH_OUT").unwrap_or_else(|_| format!("{}/../bench-results/sync.json", env!("CARGO_MANIFEST_DIR")));
    std::fs::create_dir_all(std::path::Path::new(&out).parent().unwrap()).unwrap();
    std::fs::write(&out, serde_json::to_string_pretty(&figures).unwrap()).unwrap();
    println!("figures written to {out}");
}
