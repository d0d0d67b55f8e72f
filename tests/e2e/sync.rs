//! The sync engine against the real test bed (PostgreSQL 15, Hearth's server schema, postrust
//! in front): devices are real SQLite files with `hearth-sync` engines, each reaching the
//! server through its own fault proxy (offline, answers lost). Shows convergence under random
//! operations, no skipped rows behind a slow transaction, session refresh through the auth
//! stand-in, and a server restart mid-sync.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use hearth_e2e::fake_auth::FakeAuth;
use hearth_e2e::poll;
use hearth_e2e::proxy::{Mode, Proxy};
use hearth_e2e::testbed::{TestBed, jwt, psql};
use hearth_secrets::MemoryStore;
use hearth_store::Store;
use hearth_sync::{Endpoints, Engine, Options};
use hearth_types::*;
use proptest::prelude::*;
use serde_json::{Value, json};

const TABLES: [&str; 3] = ["workspaces", "chats", "messages"];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn options() -> Options {
    Options { push_batch: 7, pull_page: 5, request_timeout: Duration::from_secs(10), ..Options::default() }
}

/// One installation of Hearth: a data directory, its store and its engine, behind a proxy.
struct Device {
    dir: tempfile::TempDir,
    store: Arc<Store>,
    engine: Arc<Engine>,
    proxy: Proxy,
    secrets: Arc<MemoryStore>,
    options: Options,
}

impl Device {
    fn new(rt: &tokio::runtime::Runtime, bed: &TestBed, token: &str, options: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path().join("hearth.db")).unwrap());
        let proxy = Proxy::start(&bed.rest_url);
        let secrets = Arc::new(MemoryStore::new());
        let engine = Engine::new(store.clone(), secrets.clone(), options.clone());
        rt.block_on(engine.connect(&Endpoints::explicit(&proxy.url, None, None).unwrap())).unwrap();
        rt.block_on(engine.use_tokens(token, None, None)).unwrap();
        Device { dir, store, engine, proxy, secrets, options }
    }

    /// The process dies and starts again: the store is reopened from its file.
    fn crash(&mut self) {
        self.store = Arc::new(Store::open(self.dir.path().join("hearth.db")).unwrap());
        self.engine = Engine::new(self.store.clone(), self.secrets.clone(), self.options.clone());
    }

    fn sync(&self, rt: &tokio::runtime::Runtime) -> hearth_sync::Result<hearth_sync::Round> {
        rt.block_on(self.engine.sync_now(&mut |_| {}))
    }

    fn ids(&self, table: &str) -> Vec<String> {
        self.store.read(|r| r.synced_ids(table)).unwrap()
    }

    fn rows(&self, table: &str) -> BTreeMap<String, Value> {
        self.ids(table)
            .into_iter()
            .map(|id| (id.clone(), normalize(Value::Object(self.store.read(|r| r.synced_row(table, &id)).unwrap().unwrap()))))
            .collect()
    }
}

/// Times as milliseconds, so the server's `+00:00` and the device's `Z` compare equal.
fn normalize(mut row: Value) -> Value {
    for col in ["created_at", "deleted_at"] {
        if let Some(s) = row[col].as_str() {
            row[col] = json!(s.parse::<Timestamp>().unwrap().as_millisecond());
        }
    }
    row
}

/// The server's rows of one user, projected to the synced columns.
fn server_rows(bed: &TestBed, user: &str, table: &str) -> BTreeMap<String, Value> {
    let cols = hearth_store::synced_columns(table).unwrap();
    let out = psql(&bed.database, &["-c", &format!("select to_jsonb(t) from public.{table} t where user_id = '{user}' order by id")]);
    out.lines()
        .map(|l| {
            let full: Value = serde_json::from_str(l).unwrap();
            let row: serde_json::Map<String, Value> = cols.iter().map(|c| ((*c).to_owned(), full[*c].clone())).collect();
            (full["id"].as_str().unwrap().to_owned(), normalize(Value::Object(row)))
        })
        .collect()
}

/// Records every row version the server ever held, so a test can ask whether a write was
/// applied at some point (test-only, installed by the superuser).
fn install_history(bed: &TestBed) {
    let mut sql = String::from(
        "create schema test_audit; create table test_audit.history (tbl text, row_id uuid, doc jsonb);
         create function test_audit.record() returns trigger language plpgsql security definer as $$
         begin insert into test_audit.history values (tg_table_name, new.id, to_jsonb(new)); return null; end $$;",
    );
    for t in TABLES {
        sql.push_str(&format!(
            " create trigger zz_audit after insert or update on public.{t} for each row execute function test_audit.record();"
        ));
    }
    psql(&bed.database, &["-c", &sql]);
}

/// One write a device made: a field of a row set to a unique value (or a deletion).
#[derive(Clone, Debug)]
struct Write {
    table: &'static str,
    id: String,
    field: &'static str,
    value: Option<String>,
}

#[derive(Clone, Debug)]
enum Op {
    CreateWorkspace(usize),
    CreateChat(usize, usize),
    AddMessage(usize, usize),
    Edit(usize, usize, usize),
    Delete(usize, usize, usize),
    Sync(usize),
    ToggleOffline(usize),
    /// The device pushes, the server applies, the answer is lost and the process dies.
    LoseAnswerAndCrash(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let d = 0..3usize;
    let pick = 0..64usize;
    prop_oneof![
        2 => d.clone().prop_map(Op::CreateWorkspace),
        3 => (d.clone(), pick.clone()).prop_map(|(d, p)| Op::CreateChat(d, p)),
        5 => (d.clone(), pick.clone()).prop_map(|(d, p)| Op::AddMessage(d, p)),
        5 => (d.clone(), 0..3usize, pick.clone()).prop_map(|(d, t, p)| Op::Edit(d, t, p)),
        2 => (d.clone(), 0..3usize, pick).prop_map(|(d, t, p)| Op::Delete(d, t, p)),
        4 => d.clone().prop_map(Op::Sync),
        1 => d.clone().prop_map(Op::ToggleOffline),
        1 => d.prop_map(Op::LoseAnswerAndCrash),
    ]
}

fn pick(ids: &[String], p: usize) -> Option<&String> {
    (!ids.is_empty()).then(|| &ids[p % ids.len()])
}

/// Applies one local operation; the writes it made, if the store accepted it (an edit of a
/// row deleted meanwhile is refused, as it would be for the user).
fn local(device: &Device, op: &Op, n: usize) -> Vec<Write> {
    let s = &device.store;
    let text = format!("v{n}");
    let w = |table, id: &str, field, value: Option<&str>| Write { table, id: id.to_owned(), field, value: value.map(str::to_owned) };
    match *op {
        Op::CreateWorkspace(_) => {
            let new = NewWorkspace::new(&text, Handle::parse(&format!("w{n}")).unwrap()).unwrap();
            let ws = s.write(|x| x.create_workspace(&new)).unwrap();
            vec![w("workspaces", &ws.id.to_string(), "name", Some(&text))]
        }
        Op::CreateChat(_, p) => {
            let Some(ws) = pick(&device.ids("workspaces"), p).cloned() else { return vec![] };
            let new = NewChat { workspace_id: ws.parse().unwrap(), title: text.clone(), model: None };
            match s.write(|x| x.create_chat(&new)) {
                Ok(c) => vec![w("chats", &c.id.to_string(), "title", Some(&text))],
                Err(_) => vec![],
            }
        }
        Op::AddMessage(_, p) => {
            let Some(chat) = pick(&device.ids("chats"), p).cloned() else { return vec![] };
            match s.write(|x| x.append_message(&NewMessage::new(chat.parse().unwrap(), None, Role::User, &text))) {
                Ok(m) => vec![w("messages", &m.message.id.to_string(), "content", Some(&text))],
                Err(_) => vec![],
            }
        }
        Op::Edit(_, t, p) => {
            let table = TABLES[t];
            let Some(id) = pick(&device.ids(table), p).cloned() else { return vec![] };
            let done = match table {
                "workspaces" => s
                    .write(|x| x.update_workspace(id.parse().unwrap(), &WorkspacePatch { name: Some(text.clone()), ..Default::default() }))
                    .map(|_| "name"),
                "chats" => s
                    .write(|x| x.update_chat(id.parse().unwrap(), &ChatPatch { title: Some(text.clone()), ..Default::default() }))
                    .map(|_| "title"),
                _ => s
                    .write(|x| x.update_message(id.parse().unwrap(), &MessagePatch { content: Some(text.clone()), ..Default::default() }))
                    .map(|_| "content"),
            };
            done.map(|field| vec![w(table, &id, field, Some(&text))]).unwrap_or_default()
        }
        Op::Delete(_, t, p) => {
            let table = TABLES[t];
            let Some(id) = pick(&device.ids(table), p).cloned() else { return vec![] };
            let done = match table {
                "workspaces" => s.write(|x| x.delete_workspace(id.parse().unwrap())),
                "chats" => s.write(|x| x.delete_chat(id.parse().unwrap())),
                _ => s.write(|x| x.delete_message(id.parse().unwrap())),
            };
            done.map(|_| vec![w(table, &id, "deleted_at", None)]).unwrap_or_default()
        }
        _ => vec![],
    }
}

/// Syncs every device in turn until a whole pass moves nothing.
fn settle(rt: &tokio::runtime::Runtime, devices: &[Device]) {
    for pass in 0..8 {
        let mut moved = 0;
        for d in devices {
            let round = d.sync(rt).unwrap_or_else(|e| panic!("pass {pass}: {e}"));
            moved += round.pushed + round.rejected + round.pulled;
        }
        if moved == 0 {
            return;
        }
    }
    panic!("the devices did not settle in 8 passes");
}

fn check_converged(bed: &TestBed, user: &str, devices: &[Device], writes: &[Write]) {
    for (i, d) in devices.iter().enumerate() {
        assert_eq!(d.store.read(|r| r.pending()).unwrap().changes, 0, "device {i} has nothing left to push");
        assert_eq!(d.store.read(|r| r.rejections()).unwrap(), vec![], "device {i}: no transaction was refused");
    }
    for table in TABLES {
        let server = server_rows(bed, user, table);
        for (i, d) in devices.iter().enumerate() {
            let rows = d.rows(table);
            assert_eq!(rows.keys().collect::<Vec<_>>(), server.keys().collect::<Vec<_>>(), "device {i} has the server's {table}");
            for (id, row) in &rows {
                assert_eq!(row, &server[id], "device {i}, {table} {id}, field for field");
            }
        }
    }
    // Every write was applied at some point, or recorded as the losing value of a conflict.
    let history: BTreeSet<(String, String, String, String)> =
        psql(&bed.database, &["-c", "select tbl, row_id, doc from test_audit.history"])
            .lines()
            .flat_map(|l| {
                let mut parts = l.splitn(3, '|');
                let (t, id, doc) = (parts.next().unwrap().to_owned(), parts.next().unwrap().to_owned(), parts.next().unwrap());
                let doc: Value = serde_json::from_str(doc).unwrap();
                ["name", "title", "content"]
                    .into_iter()
                    .filter_map(|f| doc[f].as_str().map(|v| (t.clone(), id.clone(), f.to_owned(), v.to_owned())))
                    .chain(doc["deleted_at"].is_string().then(|| (t.clone(), id.clone(), "deleted_at".to_owned(), String::new())))
                    .collect::<Vec<_>>()
            })
            .collect();
    let losers: BTreeSet<(String, String, String, String)> =
        psql(&bed.database, &["-c", "select tbl, row_id, field, coalesce(losing_value #>> '{}', '') from sync.conflict"])
            .lines()
            .map(|l| {
                let p: Vec<&str> = l.splitn(4, '|').collect();
                (p[0].to_owned(), p[1].to_owned(), p[2].to_owned(), p[3].to_owned())
            })
            .collect();
    for w in writes {
        let key = (w.table.to_owned(), w.id.clone(), w.field.to_owned(), w.value.clone().unwrap_or_default());
        assert!(history.contains(&key) || losers.contains(&key), "write lost: {w:?}");
        if w.value.is_none() {
            let row = &server_rows(bed, user, w.table)[&w.id];
            assert!(!row["deleted_at"].is_null(), "deleted {} {} came back", w.table, w.id);
        }
    }
}

#[test]
fn three_devices_converge_under_random_operations_offline_stretches_lost_answers_and_a_clock_ahead() {
    let bed = TestBed::start();
    install_history(&bed);
    let rt = runtime();
    let cases = std::env::var("HEARTH_SYNC_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(12);
    let config = ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(ops in proptest::collection::vec(op(), 20..60))| {
        let (user, token) = bed.user();
        let mut devices: Vec<Device> = (0..3).map(|_| Device::new(&rt, &bed, &token, options())).collect();
        // The third device's clock runs an hour ahead: every stamp it issues is from the future.
        let ahead = Timestamp::now().as_millisecond() as u64 + 3_600_000;
        devices[2].store.observe_clock(Hlc { wall_ms: ahead, counter: 0, node: NodeId(1) }).unwrap();
        let mut writes = Vec::new();
        let mut offline = [false; 3];
        for (n, op) in ops.iter().enumerate() {
            match *op {
                Op::Sync(d) => {
                    let result = devices[d].sync(&rt);
                    prop_assert_eq!(result.is_ok(), !offline[d], "device {} online: {}: {:?}", d, !offline[d], result);
                }
                Op::ToggleOffline(d) => {
                    offline[d] = !offline[d];
                    devices[d].proxy.set(if offline[d] { Mode::Offline } else { Mode::Pass });
                }
                Op::LoseAnswerAndCrash(d) => {
                    if !offline[d] {
                        devices[d].proxy.set(Mode::LoseAnswers);
                        // Fails unless there was nothing to push or pull: either way the
                        // device learns nothing from the server this time.
                        let _ = devices[d].sync(&rt);
                        devices[d].proxy.set(Mode::Pass);
                    }
                    devices[d].crash();
                }
                Op::CreateWorkspace(d) | Op::CreateChat(d, _) | Op::AddMessage(d, _) | Op::Edit(d, _, _) | Op::Delete(d, _, _) => {
                    writes.extend(local(&devices[d], op, n));
                }
            }
        }
        for (d, device) in devices.iter().enumerate() {
            if offline[d] {
                device.proxy.set(Mode::Pass);
            }
        }
        settle(&rt, &devices);
        check_converged(&bed, &user, &devices, &writes);
    });
}

#[test]
fn a_slow_transaction_that_commits_last_does_not_make_a_device_skip_rows() {
    let bed = TestBed::start();
    let rt = runtime();
    let (user, token) = bed.user();
    let writer = Device::new(&rt, &bed, &token, options());
    let reader = Device::new(&rt, &bed, &token, options());
    // Something for the writer to push while the slow transaction is open.
    let ws = writer.store.write(|x| x.create_workspace(&NewWorkspace::new("Fast", Handle::parse("fast").unwrap()).unwrap())).unwrap();

    // A slow transaction of the same user: it writes a row (taking its version) and holds
    // its commit for three seconds.
    let slow_id = "01a20000-0000-7000-8000-00000000510e";
    let claims = json!({ "sub": user, "role": "authenticated" }).to_string();
    let push = json!([{ "tx_seq": 1, "ops": [{ "table": "workspaces", "row": {
        "id": slow_id, "name": "Slow", "handle": "slow", "field_hlc": { "name": "0000000000001:00000:aa", "handle": "0000000000001:00000:aa" } } }] }]);
    let sql = format!(
        "begin; set local role authenticated; select set_config('request.jwt.claims', '{claims}', true); \
         select public.sync_push('cccccccc-0000-4000-8000-000000000001', 1, '{push}'::jsonb); select pg_sleep(3); commit;"
    );
    let database = bed.database.clone();
    let slow = std::thread::spawn(move || psql(&database, &["-c", &sql]));
    // It has written its row once it sleeps in pg_sleep.
    let sleeping = "select count(*) from pg_stat_activity where datname = current_database() and wait_event = 'PgSleep'";
    let slow_sleeps =
        poll(Duration::from_millis(20), Duration::from_secs(10), || psql(&bed.database, &["-c", sleeping]), |n| n.trim() == "1");
    assert_eq!(slow_sleeps.trim(), "1", "the slow transaction reached its pg_sleep");

    // Meanwhile the writer pushes (its version comes after the slow one's, so it waits for the
    // lock) and the reader pulls again and again.
    let fast = std::thread::spawn(move || {
        let rt = runtime();
        writer.sync(&rt).unwrap();
        writer
    });
    while !slow.is_finished() {
        reader.sync(&rt).unwrap();
        // Paces the pulls, which are the scenario: the loop's end is observed (`is_finished`).
        std::thread::sleep(Duration::from_millis(100));
    }
    slow.join().unwrap();
    let _writer = fast.join().unwrap();
    reader.sync(&rt).unwrap();
    let ids: BTreeSet<String> = reader.ids("workspaces").into_iter().collect();
    assert!(ids.contains(slow_id), "the slow transaction's row arrived");
    assert!(ids.contains(&ws.id.to_string()), "the fast transaction's row arrived");
}

#[test]
fn an_expired_session_is_refreshed_and_sync_goes_on() {
    let bed = TestBed::start();
    let rt = runtime();
    let (user, _) = bed.user();
    let auth = FakeAuth::start(2);
    auth.add_user("ada@example.com", "correct horse", &user);

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path().join("hearth.db")).unwrap());
    let options = Options { refresh_margin: Duration::ZERO, ..options() };
    let engine = Engine::new(store.clone(), Arc::new(MemoryStore::new()), options);
    rt.block_on(engine.connect(&Endpoints::explicit(&bed.rest_url, Some(&auth.url), Some("anon-key")).unwrap())).unwrap();

    let wrong = rt.block_on(engine.sign_in("ada@example.com", "wrong", None)).unwrap_err();
    assert!(wrong.to_string().contains("Invalid login credentials"), "{wrong}");
    let session = rt.block_on(engine.sign_in("ada@example.com", "correct horse", None)).unwrap();
    assert_eq!(session.user_id, user);
    store.write(|x| x.create_workspace(&NewWorkspace::new("One", Handle::parse("one").unwrap()).unwrap())).unwrap();
    rt.block_on(engine.sync_now(&mut |_| {})).unwrap();

    // The token expires; the next round refreshes it and goes on. Its `exp` is in whole
    // seconds, so real time must pass: until the expiry the session reports, no longer.
    let expiry = rt.block_on(engine.status()).unwrap().session_expires_at.expect("the session's expiry");
    std::thread::sleep(Duration::try_from(expiry.duration_since(Timestamp::now())).unwrap_or_default());
    store.write(|x| x.create_workspace(&NewWorkspace::new("Two", Handle::parse("two").unwrap()).unwrap())).unwrap();
    let round = rt.block_on(engine.sync_now(&mut |_| {})).unwrap();
    assert_eq!(round.pushed, 1);
    assert!(auth.refresh_grants.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    assert_eq!(server_rows(&bed, &user, "workspaces").len(), 2);
    let status = rt.block_on(engine.status()).unwrap();
    assert!(status.signed_in && status.last_error.is_none(), "{status:?}");
    assert_eq!(status.email.as_deref(), Some("ada@example.com"));

    // A token the server refuses before its time (here: signed for the wrong user id's
    // project would be refused the same way) is refreshed once and retried.
    auth.set_lifetime(3600);
    let forged = format!("{}x", jwt(&user, 3600));
    rt.block_on(engine.use_tokens(&forged, Some("no-such-refresh-token"), None)).unwrap();
    store.write(|x| x.create_workspace(&NewWorkspace::new("Three", Handle::parse("three").unwrap()).unwrap())).unwrap();
    let err = rt.block_on(engine.sync_now(&mut |_| {})).unwrap_err();
    assert!(matches!(err, hearth_sync::Error::Unauthorized { .. }), "{err}");
    let status = rt.block_on(engine.status()).unwrap();
    assert!(status.last_error.as_deref().unwrap().contains("sign in again"), "{status:?}");
    assert_eq!(status.pending.transactions, 1, "the change waits, nothing is lost");

    // Signing out revokes the refresh token on the server and forgets the tokens here.
    rt.block_on(engine.sign_in("ada@example.com", "correct horse", None)).unwrap();
    rt.block_on(engine.sync_now(&mut |_| {})).unwrap();
    rt.block_on(engine.sign_out()).unwrap();
    assert_eq!(auth.live_refresh_tokens(), 0);
    assert!(!rt.block_on(engine.status()).unwrap().signed_in);
    assert!(matches!(rt.block_on(engine.sync_now(&mut |_| {})).unwrap_err(), hearth_sync::Error::NotSignedIn));
}

#[test]
fn the_server_stopped_mid_sync_and_restarted_resumes_with_no_duplicates() {
    let mut bed = TestBed::start();
    let rt = runtime();
    let (user, token) = bed.user();
    let laptop = Device::new(&rt, &bed, &token, Options { push_batch: 20, ..options() });
    let ws = laptop.store.write(|x| x.create_workspace(&NewWorkspace::new("Big", Handle::parse("big").unwrap()).unwrap())).unwrap();
    let chat = laptop.store.write(|x| x.create_chat(&NewChat { workspace_id: ws.id, title: "Log".into(), model: None })).unwrap();
    for i in 0..600 {
        laptop.store.write(|x| x.append_message(&NewMessage::new(chat.id, None, Role::User, format!("line {i}")))).unwrap();
    }
    // Stop the server once the push is under way.
    let engine = laptop.engine.clone();
    let round = rt.spawn(async move { engine.sync_now(&mut |_| {}).await });
    let pending =
        poll(Duration::from_millis(5), Duration::from_secs(60), || laptop.store.read(|r| r.pending()).unwrap().transactions, |&n| n <= 500);
    assert!(pending <= 500, "the push got under way: {pending} left");
    bed.stop_server();
    let err = rt.block_on(round).unwrap().unwrap_err();
    assert!(matches!(err, hearth_sync::Error::Offline { .. } | hearth_sync::Error::Server { .. }), "{err}");
    let left = laptop.store.read(|r| r.pending()).unwrap().transactions;
    assert!(left > 0 && left < 602, "stopped part way: {left} left");
    assert!(laptop.sync(&rt).is_err(), "still down");

    bed.start_server();
    laptop.sync(&rt).unwrap();
    assert_eq!(laptop.store.read(|r| r.pending()).unwrap().changes, 0);
    let count =
        psql(&bed.database, &["-c", &format!("select count(*), count(distinct content) from public.messages where user_id = '{user}'")]);
    assert_eq!(count.trim(), "600|600");
    // A fresh device pulls everything exactly once.
    let desktop = Device::new(&rt, &bed, &token, Options { pull_page: 250, ..options() });
    let mut seen = Vec::new();
    rt.block_on(desktop.engine.sync_now(&mut |p| seen.push(p))).unwrap();
    assert_eq!(desktop.ids("messages").len(), 600);
    assert!(seen.len() >= 3, "progress was reported page by page: {seen:?}");
    assert_eq!(desktop.rows("messages"), server_rows(&bed, &user, "messages"));
}

#[test]
fn a_device_whose_clock_runs_ahead_keeps_its_last_word() {
    let bed = TestBed::start();
    let rt = runtime();
    let (user, token) = bed.user();
    let ahead = Device::new(&rt, &bed, &token, Options { push_batch: 100, ..options() });
    let other = Device::new(&rt, &bed, &token, options());
    let future = Timestamp::now().as_millisecond() as u64 + 3_600_000;
    ahead.store.observe_clock(Hlc { wall_ms: future, counter: 0, node: NodeId(1) }).unwrap();
    let ws = ahead.store.write(|x| x.create_workspace(&NewWorkspace::new("v0", Handle::parse("ahead").unwrap()).unwrap())).unwrap();
    // Quick successive renames: the server clamps all their stamps into the same few
    // milliseconds, and must still keep them in the order they were made.
    for i in 1..=60 {
        let patch = WorkspacePatch { name: Some(format!("v{i}")), ..Default::default() };
        ahead.store.write(|x| x.update_workspace(ws.id, &patch)).unwrap();
    }
    ahead.sync(&rt).unwrap();
    other.sync(&rt).unwrap();
    ahead.sync(&rt).unwrap();
    assert_eq!(server_rows(&bed, &user, "workspaces")[&ws.id.to_string()]["name"], "v60");
    assert_eq!(ahead.store.read(|r| r.workspace(ws.id)).unwrap().name, "v60");
    assert_eq!(other.store.read(|r| r.workspace(ws.id)).unwrap().name, "v60");
    // A later write from a device with a true clock still wins: the clamp bounds the skew.
    let stamp = psql(&bed.database, &["-c", &format!("select field_hlc ->> 'name' from public.workspaces where id = '{}'", ws.id)]);
    let clamped_ms: u64 = stamp.trim().split(':').next().unwrap().parse().unwrap();
    assert!(clamped_ms < future, "the future stamp was clamped: {stamp}");
}

#[test]
fn moving_to_another_project_takes_everything_along() {
    let first = TestBed::start();
    let second = TestBed::start();
    let rt = runtime();
    let (_, token) = first.user();
    let device = Device::new(&rt, &first, &token, options());
    let ws = device.store.write(|x| x.create_workspace(&NewWorkspace::new("Home", Handle::parse("home").unwrap()).unwrap())).unwrap();
    let chat = device.store.write(|x| x.create_chat(&NewChat { workspace_id: ws.id, title: "Gone".into(), model: None })).unwrap();
    device.store.write(|x| x.append_message(&NewMessage::new(chat.id, None, Role::User, "hello"))).unwrap();
    device.store.write(|x| x.delete_chat(chat.id)).unwrap();
    device.sync(&rt).unwrap();

    let (user, token) = second.user();
    rt.block_on(device.engine.connect(&Endpoints::explicit(&second.rest_url, None, None).unwrap())).unwrap();
    rt.block_on(device.engine.use_tokens(&token, None, None)).unwrap();
    let round = device.sync(&rt).unwrap();
    assert_eq!((round.pushed, round.rejected), (3, 0));
    for table in TABLES {
        assert_eq!(device.rows(table), server_rows(&second, &user, table), "{table} in the new project, field for field");
    }
}

#[test]
fn a_workflow_travels_between_devices_and_edits_to_different_fields_both_survive() {
    let bed = TestBed::start();
    let rt = runtime();
    let (user, token) = bed.user();
    let laptop = Device::new(&rt, &bed, &token, options());
    let desktop = Device::new(&rt, &bed, &token, options());
    let graph = |extra: bool| -> Graph {
        let mut nodes = vec![
            json!({"id": "start", "type": "start", "position": {"x": 0.0, "y": 0.0}, "config": {"inputs": []}}),
            json!({"id": "out", "type": "output", "position": {"x": 300.0, "y": 0.0}, "config": {"outputs": {"a": "1"}}}),
        ];
        if extra {
            nodes.push(json!({"id": "v", "type": "variable", "position": {"x": 150.0, "y": 80.0}, "config": {"variables": [{"name": "x", "value": 2}]}}));
        }
        serde_json::from_value(json!({"nodes": nodes, "edges": [{"id": "e1", "source": "start", "target": "out"}]})).unwrap()
    };
    let new = NewWorkflow { name: "Triage".into(), description: "first".into(), graph: graph(false) };
    let w = laptop.store.write(|x| x.create_workflow(&new)).unwrap();
    laptop.sync(&rt).unwrap();
    desktop.sync(&rt).unwrap();
    let copy = desktop.store.read(|r| r.workflow(w.id)).unwrap();
    assert_eq!((copy.name.as_str(), copy.description.as_str(), &copy.graph), ("Triage", "first", &w.graph));

    // Offline on both: the laptop renames it, the desktop redraws it. Both changes survive.
    let rename = WorkflowPatch { name: Some("Triage v2".into()), ..Default::default() };
    laptop.store.write(|x| x.update_workflow(w.id, &rename)).unwrap();
    let redraw = WorkflowPatch { graph: Some(graph(true)), ..Default::default() };
    desktop.store.write(|x| x.update_workflow(w.id, &redraw)).unwrap();
    desktop.sync(&rt).unwrap();
    laptop.sync(&rt).unwrap();
    desktop.sync(&rt).unwrap();
    for device in [&laptop, &desktop] {
        let seen = device.store.read(|r| r.workflow(w.id)).unwrap();
        assert_eq!((seen.name.as_str(), seen.graph.nodes.len()), ("Triage v2", 3));
        assert_eq!(device.rows("workflows"), server_rows(&bed, &user, "workflows"), "field for field");
    }

    // A delete travels as a tombstone.
    laptop.store.write(|x| x.delete_workflow(w.id)).unwrap();
    laptop.sync(&rt).unwrap();
    desktop.sync(&rt).unwrap();
    assert!(matches!(desktop.store.read(|r| r.workflow(w.id)), Err(hearth_store::Error::NotFound { .. })));
    assert!(!server_rows(&bed, &user, "workflows")[&w.id.to_string()]["deleted_at"].is_null(), "the server holds the tombstone");
}

#[test]
fn a_reply_that_called_tools_travels_whole_and_a_broken_call_list_is_kept_aside() {
    let bed = TestBed::start();
    let rt = runtime();
    let (user, token) = bed.user();
    let laptop = Device::new(&rt, &bed, &token, options());
    let desktop = Device::new(&rt, &bed, &token, options());
    let ws = laptop.store.write(|x| x.create_workspace(&NewWorkspace::new("Home", Handle::parse("home").unwrap()).unwrap())).unwrap();
    let chat = laptop.store.write(|x| x.create_chat(&NewChat { workspace_id: ws.id, title: "Time".into(), model: None })).unwrap();
    let append = |new: NewMessage| laptop.store.write(|x| x.append_message(&new)).unwrap().message;
    let q = append(NewMessage::new(chat.id, None, Role::User, "time in Tokyo?"));
    let a = append(NewMessage::new(chat.id, Some(q.id), Role::Assistant, "Let me look."));
    let call = ToolCall { id: "call_1".into(), name: "time__get_current_time".into(), arguments: r#"{"timezone":"Asia/Tokyo"}"#.into() };
    let calls = MessagePatch { tool_calls: Some(vec![call.clone()]), ..Default::default() };
    laptop.store.write(|x| x.update_message(a.id, &calls)).unwrap();
    let result =
        NewMessage { tool_call_id: Some("call_1".into()), ..NewMessage::new(chat.id, Some(a.id), Role::Tool, r#"{"datetime":"..."}"#) };
    let t = append(result);
    append(NewMessage::new(chat.id, Some(t.id), Role::Assistant, "It is morning in Tokyo."));
    laptop.sync(&rt).unwrap();
    desktop.sync(&rt).unwrap();
    let seen = desktop.store.read(|r| r.thread(chat.id)).unwrap().messages;
    let roles: Vec<Role> = seen.iter().map(|m| m.message.role).collect();
    assert_eq!(roles, [Role::User, Role::Assistant, Role::Tool, Role::Assistant]);
    assert_eq!(seen[1].message.tool_calls, [call]);
    assert_eq!(seen[2].message.tool_call_id.as_deref(), Some("call_1"));
    assert_eq!(desktop.rows("messages"), server_rows(&bed, &user, "messages"), "field for field");

    // A call list that is not one (an older or broken writer) is kept aside, not applied.
    let bad = MessageId::new();
    write_behind_the_checks(
        &bed,
        &user,
        &format!(
            "insert into public.messages (id, user_id, chat_id, parent_id, role, content, tool_calls, server_version)
               values ('{bad}', '$USER', '{c}', '{t}', 'assistant', 'x', '[{{\"id\": 1}}]', $V);",
            c = chat.id,
            t = t.id,
        ),
    );
    desktop.sync(&rt).unwrap();
    let status = rt.block_on(desktop.engine.status()).unwrap();
    let kept: Vec<&str> = status.quarantined.iter().map(|q| q.row_id.as_str()).collect();
    assert_eq!(kept, [bad.to_string().as_str()], "{:?}", status.quarantined);
    assert!(status.quarantined[0].reason.contains("not a list of tool calls"), "{:?}", status.quarantined);
}

/// Rows that reached the server around its checks (an older Hearth, a broken server, the SQL
/// editor): the triggers are off while they are written, as they were for an older schema.
fn write_behind_the_checks(bed: &TestBed, user: &str, sql: &str) {
    let sql = sql.replace("$USER", user).replace("$V", &format!("sync.next_version('{user}')"));
    psql(&bed.database, &["-c", &format!("begin; set local session_replication_role = replica; {sql} commit;")]);
}

#[test]
fn poison_rows_on_the_server_are_kept_aside_and_every_device_keeps_working() {
    let bed = TestBed::start();
    let rt = runtime();
    let (user, token) = bed.user();
    let laptop = Device::new(&rt, &bed, &token, options());
    let ws = laptop.store.write(|x| x.create_workspace(&NewWorkspace::new("Home", Handle::parse("home").unwrap()).unwrap())).unwrap();
    let chat = laptop.store.write(|x| x.create_chat(&NewChat { workspace_id: ws.id, title: "Tree".into(), model: None })).unwrap();
    let q = laptop.store.write(|x| x.append_message(&NewMessage::new(chat.id, None, Role::User, "question"))).unwrap().message;
    let a = laptop.store.write(|x| x.append_message(&NewMessage::new(chat.id, Some(q.id), Role::Assistant, "answer"))).unwrap().message;
    laptop.sync(&rt).unwrap();

    let (own, bad_ws) = (MessageId::new(), WorkspaceId::new());
    let mut twins = [MessageId::new(), MessageId::new()];
    twins.sort_by_key(|m| m.to_string()); // pulled in id order: the second one is the duplicate
    let later = "9999999999999:00000:ff";
    write_behind_the_checks(
        &bed,
        &user,
        &format!(
            "update public.messages set parent_id = '{a}', server_version = $V, field_hlc = field_hlc || '{{\"parent_id\": \"{later}\"}}' where id = '{q}';
             insert into public.messages (id, user_id, chat_id, parent_id, content, server_version)
               values ('{own}', '$USER', '{c}', '{own}', 'me, myself', $V);
             insert into public.messages (id, user_id, chat_id, content, idempotency_key, server_version)
               values ('{t0}', '$USER', '{c}', 'twin', 'k1', $V), ('{t1}', '$USER', '{c}', 'twin', 'k1', $V);
             insert into public.workspaces (id, user_id, name, handle, settings, server_version)
               values ('{bad_ws}', '$USER', 'Broken', '', '[1, 2]', $V);
             update public.workspaces set name = 'Far', server_version = $V, field_hlc = field_hlc || '{{\"name\": \"{later}\"}}' where id = '{w}';",
            a = a.id,
            q = q.id,
            c = chat.id,
            w = ws.id,
            t0 = twins[0],
            t1 = twins[1],
        ),
    );

    // A device that has the chat, and a fresh one that pulls everything: both finish the pull
    // (it hung or stopped for good before), keep the bad rows aside, and read everything else.
    let desktop = Device::new(&rt, &bed, &token, options());
    let mut expected = vec![q.id.to_string(), own.to_string(), twins[1].to_string(), bad_ws.to_string()];
    expected.sort();
    for (name, device) in [("laptop", &laptop), ("desktop", &desktop)] {
        let round = device.sync(&rt).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(round.pulled > 0, "{name}");
        let status = rt.block_on(device.engine.status()).unwrap();
        let mut kept: Vec<String> = status.quarantined.iter().map(|q| q.row_id.clone()).collect();
        kept.sort();
        assert_eq!(kept, expected, "{name}: {:?}", status.quarantined);
        let workspaces: Vec<(String, String)> =
            device.store.read(|r| r.workspaces()).unwrap().into_iter().map(|w| (w.handle.to_string(), w.name)).collect();
        assert_eq!(workspaces, [("home".to_owned(), "Far".to_owned())], "{name}");
        assert!(device.store.read(|r| r.thread(chat.id)).is_ok(), "{name}");
        assert_eq!(
            device.store.read(|r| r.sync_state()).unwrap().unwrap().cursor.version,
            server_head(&bed),
            "{name}: the pull went past them"
        );
    }
    // The laptop keeps its conversation as it was; the desktop got the reply without the
    // question the server holds in a loop.
    let thread: Vec<String> = laptop.store.read(|r| r.thread(chat.id)).unwrap().messages.into_iter().map(|m| m.message.content).collect();
    assert_eq!(thread, ["question", "answer"]);
    assert!(desktop.ids("messages").contains(&a.id.to_string()));

    // The far-future stamp moved the local clock at most a day ahead, not to the year 2286.
    desktop.store.write(|x| x.update_workspace(ws.id, &WorkspacePatch { description: Some("mine".into()), ..Default::default() })).unwrap();
    let pending = desktop.store.read(|r| r.pending_transactions(1)).unwrap();
    let hlc: Hlc = pending[0].changes[0].patch["field_hlc"]["description"].as_str().unwrap().parse().unwrap();
    assert!(hlc.wall_ms < Timestamp::now().as_millisecond() as u64 + 25 * 3_600_000, "{hlc}");
}

/// The newest server version of the bed's rows.
fn server_head(bed: &TestBed) -> i64 {
    psql(&bed.database, &["-c", "select max(server_version) from (select server_version from public.workspaces union all select server_version from public.chats union all select server_version from public.messages) v"])
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn another_account_on_the_same_device_never_mixes_with_the_first() {
    let bed = TestBed::start();
    let rt = runtime();
    let (ada, ada_token) = bed.user();
    let (bob, bob_token) = bed.user();
    let device = Device::new(&rt, &bed, &ada_token, options());
    let home = device.store.write(|x| x.create_workspace(&NewWorkspace::new("Ada's", Handle::parse("ada").unwrap()).unwrap())).unwrap();
    device.sync(&rt).unwrap();
    // A change Ada made offline, not yet pushed.
    let patch = WorkspacePatch { name: Some("Ada's, renamed".into()), ..Default::default() };
    device.store.write(|x| x.update_workspace(home.id, &patch)).unwrap();
    rt.block_on(device.engine.sign_out()).unwrap();
    let ada_client = device.store.read(|r| r.sync_state()).unwrap().unwrap().client_id;

    // Bob signs in on the same device: refused until the data's fate is chosen.
    let err = rt.block_on(device.engine.use_tokens(&bob_token, None, None)).unwrap_err();
    assert!(matches!(&err, hearth_sync::Error::AccountChanged { previous } if *previous == ada), "{err}");
    assert!(!rt.block_on(device.engine.status()).unwrap().signed_in, "the refused session was not kept");

    // Kept here: Bob's account gets none of Ada's rows, only what changes from now on.
    rt.block_on(device.engine.use_tokens(&bob_token, None, Some(hearth_sync::LocalData::Keep))).unwrap();
    let state = device.store.read(|r| r.sync_state()).unwrap().unwrap();
    assert_ne!(state.client_id, ada_client, "a new device id for the new account");
    let bobs = device.store.write(|x| x.create_workspace(&NewWorkspace::new("Bob's", Handle::parse("bob").unwrap()).unwrap())).unwrap();
    device.sync(&rt).unwrap();
    assert_eq!(server_rows(&bed, &bob, "workspaces").keys().cloned().collect::<Vec<_>>(), [bobs.id.to_string()]);
    assert_eq!(server_rows(&bed, &ada, "workspaces")[&home.id.to_string()]["name"], "Ada's", "Ada's account is as she left it");

    // Pushed: on a second device of Ada's, Bob takes a copy of everything there.
    let other = Device::new(&rt, &bed, &ada_token, options());
    other.sync(&rt).unwrap();
    rt.block_on(other.engine.sign_out()).unwrap();
    rt.block_on(other.engine.use_tokens(&bob_token, None, Some(hearth_sync::LocalData::Push))).unwrap();
    let round = other.sync(&rt).unwrap();
    assert_eq!(round.rejected, 0, "{:?}", rt.block_on(other.engine.status()).unwrap().rejected);
    let theirs = server_rows(&bed, &bob, "workspaces");
    let names: BTreeSet<&str> = theirs.values().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names, BTreeSet::from(["Ada's", "Bob's"]));
    assert!(!theirs.contains_key(&home.id.to_string()), "a copy under a new id: the original stays Ada's");
    assert_eq!(other.rows("workspaces"), theirs, "the device holds exactly Bob's account now");
    assert_eq!(server_rows(&bed, &ada, "workspaces").len(), 1, "Ada's account is untouched");
}
