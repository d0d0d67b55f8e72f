//! Store tests: opening and migrating, refusing bad files, the outbox contract, the message
//! tree, tombstones and search. In-memory SQLite where the file does not matter, temp files
//! where it does.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hearth_types::*;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::migrations::FILES;
use crate::open::open_file;
use crate::{Error, OpenOptions, Store};

fn workspace(store: &Store, handle: &str) -> Workspace {
    let new = NewWorkspace::new(&format!("Workspace {handle}"), Handle::parse(handle).unwrap()).unwrap();
    store.write(|w| w.create_workspace(&new)).unwrap()
}

fn chat(store: &Store, ws: WorkspaceId, title: &str) -> Chat {
    store.write(|w| w.create_chat(&NewChat { workspace_id: ws, title: title.into(), model: None })).unwrap()
}

fn say(store: &Store, chat: ChatId, parent: Option<MessageId>, role: Role, text: &str) -> Message {
    store.write(|w| w.append_message(&NewMessage::new(chat, parent, role, text))).unwrap().message
}

fn thread_text(store: &Store, chat: ChatId) -> Vec<(String, u32, u32)> {
    let t = store.read(|r| r.thread(chat)).unwrap();
    t.messages.into_iter().map(|m| (m.message.content, m.sibling_index + 1, m.sibling_count)).collect()
}

fn outbox_len(store: &Store) -> u64 {
    store.read(|r| r.outbox_len()).unwrap()
}

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("hearth.db")
}

/// The store's clock on this test's thread, pinned so a test can put rows at distinct times
/// without sleeping. It starts at the wall clock's reading and moves only when told; the wall
/// clock comes back when it drops.
struct PinnedClock;

impl PinnedClock {
    fn now() -> Self {
        let start = crate::rows::now_ms();
        crate::rows::TEST_NOW_MS.set(Some(start));
        PinnedClock
    }

    /// Moves the clock `ms` milliseconds on.
    fn advance(&self, ms: i64) {
        crate::rows::TEST_NOW_MS.set(crate::rows::TEST_NOW_MS.get().map(|t| t + ms));
    }
}

impl Drop for PinnedClock {
    fn drop(&mut self) {
        crate::rows::TEST_NOW_MS.set(None);
    }
}

fn open_fast(path: &Path) -> crate::Result<Store> {
    Store::open_with(path, &OpenOptions { busy_timeout: Duration::from_millis(100), backup_dir: None })
}

// ---------------------------------------------------------------- opening and migrations

#[test]
fn migrates_an_empty_file_and_reopens_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), crate::SCHEMA_VERSION);
    let ws = workspace(&store, "notes");
    let journal: String = store.read(|r| Ok(r.conn.pragma_query_value(None, "journal_mode", |x| x.get(0))?)).unwrap();
    assert_eq!(journal, "wal");
    let fk: i64 = store.read(|r| Ok(r.conn.pragma_query_value(None, "foreign_keys", |x| x.get(0))?)).unwrap();
    assert_eq!(fk, 1);
    drop(store);

    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), crate::SCHEMA_VERSION);
    assert_eq!(store.read(|r| r.workspaces()).unwrap(), vec![ws]);
    assert!(store.integrity_check().unwrap().is_empty());
    // A fresh file has nothing to protect and an up-to-date one needs no migration: no backups.
    assert!(!dir.path().join("backups").exists());
}

/// Each shipped migration is pinned by hash: changing one breaks every database that already
/// ran it. Add a new numbered file instead, and pin it here.
#[test]
fn shipped_migrations_never_change() {
    const PINNED: &[(&str, &str)] = &[
        ("0001_init.sql", "10d84d3421ab70814db01ff1a112ff4f275f6dc338ced3be1926387f5d77bc84"),
        ("0002_models.sql", "239dce357d5b9ce6993d9085e327bdb76072a6de6a2e23a118b88cf1973581ab"),
        ("0003_providers.sql", "d6b5599677d9a883ab68cab580be39b3b8cb2a5f7137d780afacd1b3de38965a"),
        ("0004_sync.sql", "4714d90256c8df9799c065d8d00f062c0ea1b00ffb701c2258a54f130cfdcebc"),
        ("0005_workflows.sql", "949839de8d56260acca0e63f926998f7bbe0e0f816d085afa16a0b615884e1c4"),
        ("0006_sync_guards.sql", "1d4b9eec8332e77ff02f86d2a132b419a5b1fb7bd09031a8822e39b289f4681d"),
        ("0007_knowledge.sql", "0ec17d545a520c30875f827d3d378853c0dff4d5567f2cbfedd592254be60f2d"),
        ("0008_citations.sql", "ecb6b16c7a6029cc64d75ba6a67820aa87749c6d384933785f782446efe7860b"),
        ("0009_knowledge_version.sql", "0cd61201e6836a0497a3436586e4f401921340b6937029f1db580d74ae9e02aa"),
        ("0010_document_sync.sql", "8722e574d97371fa875d12f0f360357f99dafad0630455b808d630e0e1ed312c"),
        ("0011_tool_calls.sql", "358deb68381678b2c6f79d487aac42def2fce2c8f910e960c18ea82df014f4e0"),
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/sqlite");
    let mut on_disk: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|n| n.ends_with(".sql")).collect();
    on_disk.sort();
    let embedded: Vec<&str> = FILES.iter().map(|(n, _)| *n).collect();
    assert_eq!(on_disk, embedded, "every file in migrations/sqlite is embedded, in order");
    let pinned: Vec<&str> = PINNED.iter().map(|(n, _)| *n).collect();
    assert_eq!(embedded, pinned, "every embedded migration is pinned");
    for ((name, sql), (_, hash)) in FILES.iter().zip(PINNED) {
        let actual = format!("{:x}", Sha256::digest(sql.as_bytes()));
        assert_eq!(&actual, hash, "{name} changed after it shipped");
    }
}

#[test]
fn backs_up_before_migrating() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let v1 = open_file(&path, &OpenOptions::default(), &FILES[..1]).unwrap();
    let ws = workspace(&v1, "before");
    drop(v1);

    let mut next: Vec<(&'static str, &'static str)> = FILES.to_vec();
    next.push(("9999_test.sql", "ALTER TABLE settings ADD COLUMN note TEXT;"));
    let v2 = open_file(&path, &OpenOptions::default(), &next).unwrap();
    assert_eq!(v2.schema_version().unwrap() as usize, FILES.len() + 1);

    let backups: Vec<PathBuf> = std::fs::read_dir(dir.path().join("backups")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let name = backups[0].file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("hearth-v1-") && name.ends_with(".db"), "{name}");
    let old = rusqlite::Connection::open(&backups[0]).unwrap();
    let version: u32 = old.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, 1, "the backup holds the database as it was before migrating");
    let handle: String = old.query_row("SELECT handle FROM workspaces WHERE id = ?1", [ws.id.to_string()], |r| r.get(0)).unwrap();
    assert_eq!(handle, "before");
}

/// The mode bits of a path, for the file-mode checks.
#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn the_database_its_folder_and_its_backups_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let set = |path: &Path, mode: u32| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let path = data.join("hearth.db");
    let side = |suffix: &str| PathBuf::from(format!("{}{suffix}", path.display()));

    // A fresh database (its folder made by open) is private from the start, side files too.
    let v1 = open_file(&path, &OpenOptions::default(), &FILES[..1]).unwrap();
    workspace(&v1, "first");
    assert_eq!([mode(&data), mode(&path), mode(&side("-wal")), mode(&side("-shm"))], [0o700, 0o600, 0o600, 0o600]);
    drop(v1);

    // An install from before the rule (readable by all) is repaired when it is opened, and
    // the backup a migration makes is private too.
    set(&data, 0o755);
    set(&path, 0o644);
    std::fs::create_dir(data.join("backups")).unwrap();
    let older = data.join("backups/hearth-v0-older.db");
    std::fs::write(&older, b"").unwrap();
    set(&data.join("backups"), 0o755);
    set(&older, 0o644);
    let mut next: Vec<(&'static str, &'static str)> = FILES.to_vec();
    next.truncate(2);
    let v2 = open_file(&path, &OpenOptions::default(), &next).unwrap();
    workspace(&v2, "second");
    assert_eq!([mode(&data), mode(&path), mode(&side("-wal")), mode(&side("-shm"))], [0o700, 0o600, 0o600, 0o600]);
    assert_eq!(mode(&data.join("backups")), 0o700);
    let backups: Vec<PathBuf> = std::fs::read_dir(data.join("backups")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(backups.len(), 2, "{backups:?}");
    for backup in backups {
        assert_eq!(mode(&backup), 0o600, "{}", backup.display());
    }
}

#[test]
fn a_failing_migration_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    drop(open_file(&path, &OpenOptions::default(), &FILES[..1]).unwrap());
    let mut next: Vec<(&'static str, &'static str)> = FILES.to_vec();
    next.push(("9998_ok.sql", "CREATE TABLE extra (x INTEGER);"));
    next.push(("9999_bad.sql", "CREATE TABLE broken (;"));
    let err = open_file(&path, &OpenOptions::default(), &next).unwrap_err();
    assert!(matches!(err, Error::Migration { file: "9999_bad.sql", .. }), "{err:?}");
    // Reopen knowing only v1, so nothing migrates: the file is exactly as it was.
    let store = open_file(&path, &OpenOptions::default(), &FILES[..1]).unwrap();
    assert_eq!(store.schema_version().unwrap(), 1);
    let created: i64 = store
        .read(|r| Ok(r.conn.query_row("SELECT count(*) FROM sqlite_schema WHERE name IN ('extra', 'models')", [], |x| x.get(0))?))
        .unwrap();
    assert_eq!(created, 0, "all pending migrations (the shipped 0002 included) run in one transaction");
}

fn assert_untouched(path: &Path, before: &[u8]) {
    assert_eq!(std::fs::read(path).unwrap(), before, "{} was modified", path.display());
    for suffix in ["-wal", "-shm", "-journal"] {
        let side = PathBuf::from(format!("{}{suffix}", path.display()));
        assert!(!side.exists(), "{} was created", side.display());
    }
    assert!(!path.with_file_name("backups").exists());
}

#[test]
fn refuses_a_newer_schema_and_leaves_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let before = std::fs::read(&path).unwrap();

    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, Error::NewerSchema { found: 99, supported: crate::SCHEMA_VERSION, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()) && text.contains("newer Hearth"), "{text}");
    assert_untouched(&path, &before);
}

#[test]
fn refuses_a_file_that_is_not_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let before = b"these are my notes, not a database\n".repeat(200);
    std::fs::write(&path, &before).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(&err, Error::Corrupt { path: p, .. } if p == &path), "{err:?}");
    assert!(err.to_string().contains("hearth.db") && err.to_string().contains("left untouched"), "{err}");
    assert_untouched(&path, &before);
}

#[test]
fn refuses_a_damaged_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = Store::open(&path).unwrap();
    workspace(&store, "precious");
    drop(store);
    // Keep the 100-byte header but scramble the schema page that follows it.
    let mut bytes = std::fs::read(&path).unwrap();
    for b in &mut bytes[100..2048] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();

    let err = Store::open(&path).unwrap_err();
    assert!(matches!(&err, Error::Corrupt { path: p, .. } if p == &path), "{err:?}");
    assert_untouched(&path, &bytes);
}

#[test]
fn refuses_another_programs_database() {
    // With and without a schema version of its own (other apps number their migrations too).
    for version in [0, 1, 7] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.sqlite");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES ('bread');").unwrap();
        conn.pragma_update(None, "user_version", version).unwrap();
        drop(conn);
        let before = std::fs::read(&path).unwrap();
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "version {version}: {err:?}");
        assert!(err.to_string().contains("another program"), "{err}");
        assert_untouched(&path, &before);
    }
}

#[test]
fn a_refused_file_keeps_its_leftover_wal_out_of_the_main_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    drop(Store::open(&path).unwrap());
    // A newer Hearth that was killed: its last commits sit in the -wal, not yet checkpointed.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    let (main_before, wal_before) = (std::fs::read(&path).unwrap(), std::fs::read(&wal).unwrap());
    assert!(!wal_before.is_empty());

    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, Error::NewerSchema { found: 99, .. }), "{err:?}");
    assert_eq!(std::fs::read(&path).unwrap(), main_before, "the WAL was checkpointed into a refused file");
    assert_eq!(std::fs::read(&wal).unwrap(), wal_before);
}

#[test]
fn processes_opening_a_fresh_file_at_once_migrate_it_once() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        let barrier = std::sync::Barrier::new(4);
        std::thread::scope(|s| {
            let openers: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        Store::open(&path).map(|st| st.schema_version().unwrap())
                    })
                })
                .collect();
            for o in openers {
                assert_eq!(o.join().unwrap().unwrap(), crate::SCHEMA_VERSION, "round {round}");
            }
        });
    }
}

#[test]
fn a_locked_database_waits_then_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = open_fast(&path).unwrap();
    workspace(&store, "one");

    let mut other = rusqlite::Connection::open(&path).unwrap();
    let holder = other.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).unwrap();
    let new = NewWorkspace::new("Two", Handle::parse("two").unwrap()).unwrap();
    let err = store.write(|w| w.create_workspace(&new)).unwrap_err();
    assert!(matches!(&err, Error::Busy { path: p, waited } if p == &path && *waited == Duration::from_millis(100)), "{err:?}");
    assert!(err.to_string().contains("locked by another program"), "{err}");
    // Readers are not blocked by a writer in WAL mode.
    assert_eq!(store.read(|r| r.workspaces()).unwrap().len(), 1);
    drop(holder);
    store.write(|w| w.create_workspace(&new)).unwrap();
}

#[test]
fn a_write_waits_for_a_lock_that_is_released_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = Store::open(&path).unwrap(); // the default, generous busy timeout
    let mut other = rusqlite::Connection::open(&path).unwrap();
    let holder = other.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).unwrap();
    let (done, written) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            // Without a busy timeout this would fail at once with SQLITE_BUSY.
            workspace(&store, "patient");
            done.send(()).unwrap();
        });
        // SQLite's busy wait cannot be observed, so the lock is held a while with the write still waiting.
        assert!(written.recv_timeout(Duration::from_millis(300)).is_err(), "the write waits while the lock is held");
        holder.commit().unwrap();
        written.recv().unwrap();
    });
}

// ---------------------------------------------------------------- validation and errors

#[test]
fn a_second_workspace_with_the_same_handle_is_a_conflict() {
    let store = Store::open_in_memory().unwrap();
    workspace(&store, "notes");
    let dup = NewWorkspace::new("Other", Handle::parse("notes").unwrap()).unwrap();
    let err = store.write(|w| w.create_workspace(&dup)).unwrap_err();
    assert!(matches!(err, Error::Conflict { field: "handle", .. }), "{err:?}");
    // Deleting the first frees its handle.
    let first = store.read(|r| r.workspace_by_handle(&Handle::parse("notes").unwrap())).unwrap();
    store.write(|w| w.delete_workspace(first.id)).unwrap();
    store.write(|w| w.create_workspace(&dup)).unwrap();
}

#[test]
fn renaming_a_handle_onto_another_is_a_conflict() {
    let store = Store::open_in_memory().unwrap();
    workspace(&store, "a");
    let b = workspace(&store, "b");
    let patch = WorkspacePatch { handle: Some(Handle::parse("a").unwrap()), ..Default::default() };
    let err = store.write(|w| w.update_workspace(b.id, &patch)).unwrap_err();
    assert!(matches!(err, Error::Conflict { field: "handle", .. }), "{err:?}");
    let same = WorkspacePatch { handle: Some(Handle::parse("b").unwrap()), name: Some("Bee".into()), ..Default::default() };
    assert_eq!(store.write(|w| w.update_workspace(b.id, &same)).unwrap().name, "Bee");
}

#[test]
fn a_message_for_a_missing_chat_names_the_field() {
    let store = Store::open_in_memory().unwrap();
    let err = store.write(|w| w.append_message(&NewMessage::new(ChatId::new(), None, Role::User, "hi"))).unwrap_err();
    assert!(matches!(err, Error::NotFound { field: "chat_id", .. }), "{err:?}");
    assert!(err.to_string().starts_with("chat_id: no chat with id"), "{err}");
    assert_eq!(outbox_len(&store), 0);
}

#[test]
fn a_parent_from_another_chat_is_refused() {
    let store = Store::open_in_memory().unwrap();
    let ws = workspace(&store, "w");
    let (a, b) = (chat(&store, ws.id, "a"), chat(&store, ws.id, "b"));
    let in_a = say(&store, a.id, None, Role::User, "hello");
    let err = store.write(|w| w.append_message(&NewMessage::new(b.id, Some(in_a.id), Role::User, "x"))).unwrap_err();
    assert!(matches!(err, Error::NotFound { field: "parent_id", .. }), "{err:?}");
}

// ---------------------------------------------------------------- outbox

#[test]
fn every_change_lands_in_the_outbox_in_its_own_action() {
    let store = Store::open_in_memory().unwrap();
    let ws = workspace(&store, "w");
    let c = chat(&store, ws.id, "first");
    let m = say(&store, c.id, None, Role::User, "hello");
    store.write(|w| w.update_chat(c.id, &ChatPatch { title: Some("renamed".into()), ..Default::default() })).unwrap();

    let rows = store.read(|r| r.outbox(100)).unwrap();
    let summary: Vec<(i64, &str, &str)> = rows.iter().map(|r| (r.tx_seq, r.table.as_str(), r.row_id.as_str())).collect();
    let (ws_id, c_id, m_id) = (ws.id.to_string(), c.id.to_string(), m.id.to_string());
    assert_eq!(
        summary,
        vec![(1, "workspaces", ws_id.as_str()), (2, "chats", c_id.as_str()), (3, "messages", m_id.as_str()), (4, "chats", c_id.as_str())]
    );

    let insert = &rows[2].patch;
    assert_eq!(insert["content"], json!("hello"));
    assert_eq!(insert["role"], json!("user"));
    assert_eq!(insert["chat_id"], json!(c_id));
    let stamp: Hlc = insert["field_hlc"]["content"].as_str().unwrap().parse().unwrap();

    let rename = &rows[3].patch;
    assert_eq!(rename.as_object().unwrap().keys().collect::<Vec<_>>(), vec!["field_hlc", "id", "title"]);
    let later: Hlc = rename["field_hlc"]["title"].as_str().unwrap().parse().unwrap();
    assert!(later > stamp, "{later} after {stamp}");

    // The row's own field_hlc moved for the title only.
    let field_hlc: serde_json::Value = store
        .read(|r| Ok(r.conn.query_row("SELECT field_hlc FROM chats WHERE id = ?1", [&c_id], |x| x.get::<_, String>(0))?))
        .map(|s| serde_json::from_str(&s).unwrap())
        .unwrap();
    assert_eq!(field_hlc["title"], json!(later.to_string()));
    assert_ne!(field_hlc["pinned"], json!(later.to_string()));
}

#[test]
fn one_action_is_one_transaction_in_the_outbox() {
    let store = Store::open_in_memory().unwrap();
    let ws = workspace(&store, "w");
    chat(&store, ws.id, "a");
    chat(&store, ws.id, "b");
    let before = outbox_len(&store);
    store.write(|w| w.delete_workspace(ws.id)).unwrap();
    let rows = store.read(|r| r.outbox(100)).unwrap();
    let deleted = &rows[before as usize..];
    assert_eq!(deleted.len(), 3, "the workspace and both chats");
    assert!(deleted.iter().all(|r| r.tx_seq == deleted[0].tx_seq && r.patch["deleted_at"].is_string()));
    assert!(deleted.iter().all(|r| r.tx_id == deleted[0].tx_id));
    assert!(deleted.iter().all(|r| r.tx_seq > rows[0].tx_seq && r.tx_id != rows[0].tx_id));
    uuid::Uuid::parse_str(&deleted[0].tx_id).unwrap();
}

#[test]
fn a_rolled_back_action_leaves_no_change_and_no_outbox_row() {
    let store = Store::open_in_memory().unwrap();
    let ws = workspace(&store, "w");
    let before = store.read(|r| r.outbox(100)).unwrap();
    let new = NewChat { workspace_id: ws.id, title: "doomed".into(), model: None };
    let err = store
        .write(|w| {
            w.create_chat(&new)?;
            Err::<(), _>(Error::Conflict { field: "test", message: "changed my mind".into() })
        })
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { field: "test", .. }));
    assert!(store.read(|r| r.chats(ws.id, true)).unwrap().is_empty());
    assert_eq!(store.read(|r| r.outbox(100)).unwrap(), before);
    // The clock's transaction counter rolled back too: the next action takes the next number.
    chat(&store, ws.id, "kept");
    assert_eq!(store.read(|r| r.outbox(100)).unwrap().last().unwrap().tx_seq, before.last().unwrap().tx_seq + 1);
}

// ---------------------------------------------------------------- messages and branches

#[test]
fn a_retried_send_returns_the_first_message() {
    let store = Store::open_in_memory().unwrap();
    let ws = workspace(&store, "w");
    let c = chat(&store, ws.id, "c");
    let mut send = NewMessage::new(c.id, None, Role::User, "hello");
    send.idempotency_key = Some("key-1".into());
    let first = store.write(|w| w.append_message(&send)).unwrap();
    let outbox = outbox_len(&store);
    let again = store.write(|w| w.append_message(&send)).unwrap();
    assert!(first.created && !again.created);
    assert_eq!(again.message, store.read(|r| r.message(first.message.id)).unwrap());
    assert_eq!(outbox_len(&store), outbox, "a retry writes nothing");
    // The same key for a different message is a client bug, refused rather than hidden.
    let mut other_text = send.clone();
    other_text.content = "something else".into();
    let err = store.write(|w| w.append_message(&other_text)).unwrap_err();
    assert!(matches!(err, Error::Conflict { field: "idempotency_key", .. }), "{err:?}");
    assert_eq!(thread_text(&store, c.id), vec![("hello".into(), 1, 1)]);
    // The same key in another chat is another message.
    let other = chat(&store, ws.id, "other");
    send.chat_id = other.id;
    assert!(store.write(|w| w.append_message(&send)).unwrap().created);
}

#[test]
fn edits_are_branches_and_the_thread_follows_the_active_one() {
    let store = Store::open_in_memory().unwrap();
    let ws = workspace(&store, "w");
    let c = chat(&store, ws.id, "c");
    let q1 = say(&store, c.id, None, Role::User, "q1");
    let a1 = say(&store, c.id, Some(q1.id), Role::Assistant, "a1");
    say(&store, c.id, Some(a1.id), Role::User, "q2");
    assert_eq!(thread_text(&store, c.id), vec![("q1".into(), 1, 1), ("a1".into(), 1, 1), ("q2".into(), 1, 1)]);

    // Regenerate a1: a sibling under q1 becomes the active branch.
    let a1b = say(&store, c.id, Some(q1.id), Role::Assistant, "a1b");
    assert_eq!(thread_text(&store, c.id), vec![("q1".into(), 1, 1), ("a1b".into(), 2, 2)]);

    // Switch back: the branch through a1 resumes at its newest leaf.
    store.write(|w| w.switch_branch(c.id, a1.id)).unwrap();
    assert_eq!(thread_text(&store, c.id), vec![("q1".into(), 1, 1), ("a1".into(), 1, 2), ("q2".into(), 1, 1)]);

    // The switcher's list: the siblings of either answer, oldest first; roots are siblings too.
    let texts = |id| store.read(|r| r.siblings(id)).unwrap().into_iter().map(|m| m.content).collect::<Vec<_>>();
    assert_eq!(texts(a1b.id), ["a1", "a1b"]);
    assert_eq!(texts(a1.id), ["a1", "a1b"]);
    let q1b = say(&store, c.id, None, Role::User, "q1b");
    assert_eq!(texts(q1.id), ["q1", "q1b"]);
    store.write(|w| w.switch_branch(c.id, q1.id)).unwrap();
    store.write(|w| w.delete_message(q1b.id)).unwrap();
    assert_eq!(texts(q1.id), ["q1"]);
    store.write(|w| w.switch_branch(c.id, a1.id)).unwrap();

    // Nothing was overwritten.
    assert_eq!(store.read(|r| r.message(a1b.id)).unwrap().content, "a1b");
    let err = store.write(|w| w.switch_branch(ChatId::new(), a1.id)).unwrap_err();
    assert!(matches!(err, Error::NotFound { field: "chat_id", .. }), "{err:?}");
    let other = chat(&store, ws.id, "other");
    let err = store.write(|w| w.switch_branch(other.id, a1.id)).unwrap_err();
    assert!(matches!(err, Error::NotFound { field: "message_id", .. }), "{err:?}");
}

#[test]
fn a_streaming_reply_is_updated_in_place() {
    let store = Store::open_in_memory().unwrap();
    let ws = workspace(&store, "w");
    let c = chat(&store, ws.id, "c");
    let q = say(&store, c.id, None, Role::User, "q");
    let mut pending = NewMessage::new(c.id, Some(q.id), Role::Assistant, "");
    pending.status = MessageStatus::Pending;
    let reply = store.write(|w| w.append_message(&pending)).unwrap().message;
    let patch = MessagePatch {
        content: Some("done".into()),
        status: Some(MessageStatus::Complete),
        prompt_tokens: Some(12),
        completion_tokens: Some(3),
        latency_ms: Some(250),
        ..Default::default()
    };
    let done = store.write(|w| w.update_message(reply.id, &patch)).unwrap();
    assert_eq!(
        (done.content.as_str(), done.status, done.prompt_tokens, done.completion_tokens, done.latency_ms),
        ("done", MessageStatus::Complete, Some(12), Some(3), Some(250))
    );
    assert_eq!(store.read(|r| r.search("done", None, 10)).unwrap().len(), 1, "the index follows content changes");
}

// ---------------------------------------------------------------- tombstones

#[test]
fn tombstones_are_hidden_from_every_read() {
    let store = Store::open_in_memory().unwrap();
    let ws = workspace(&store, "w");
    let c = chat(&store, ws.id, "c");
    let q = say(&store, c.id, None, Role::User, "keep this question");
    let a = say(&store, c.id, Some(q.id), Role::Assistant, "forget this answer");
    let q2 = say(&store, c.id, Some(a.id), Role::User, "forget this followup");

    store.write(|w| w.delete_message(a.id)).unwrap();
    assert_eq!(thread_text(&store, c.id), vec![("keep this question".into(), 1, 1)]);
    for id in [a.id, q2.id] {
        assert!(matches!(store.read(|r| r.message(id)), Err(Error::NotFound { .. })));
    }
    assert!(store.read(|r| r.search("forget", None, 10)).unwrap().is_empty());
    assert_eq!(store.read(|r| r.search("keep", None, 10)).unwrap().len(), 1);
    // The rows are still there, as tombstones for sync.
    let rows: i64 =
        store.read(|r| Ok(r.conn.query_row("SELECT count(*) FROM messages WHERE deleted_at IS NOT NULL", [], |x| x.get(0))?)).unwrap();
    assert_eq!(rows, 2);

    store.write(|w| w.delete_chat(c.id)).unwrap();
    assert!(store.read(|r| r.chats(ws.id, true)).unwrap().is_empty());
    assert!(matches!(store.read(|r| r.chat(c.id)), Err(Error::NotFound { field: "chat_id", .. })));
    assert!(matches!(store.read(|r| r.message(q.id)), Err(Error::NotFound { .. })));
    assert!(store.read(|r| r.search("keep", None, 10)).unwrap().is_empty());

    let c2 = chat(&store, ws.id, "c2");
    say(&store, c2.id, None, Role::User, "keep searching");
    store.write(|w| w.delete_workspace(ws.id)).unwrap();
    assert!(store.read(|r| r.workspaces()).unwrap().is_empty());
    assert!(store.read(|r| r.search("keep", None, 10)).unwrap().is_empty());
    assert!(matches!(store.read(|r| r.chat(c2.id)), Err(Error::NotFound { .. })));
}

// ---------------------------------------------------------------- listing and search

#[test]
fn chat_lists_put_pinned_first_then_most_recent() {
    let store = Store::open_in_memory().unwrap();
    let ws = workspace(&store, "w");
    let clock = PinnedClock::now();
    let old = chat(&store, ws.id, "old");
    clock.advance(3);
    let pinned = chat(&store, ws.id, "pinned");
    clock.advance(3);
    let _new = chat(&store, ws.id, "new");
    clock.advance(3);
    let archived = chat(&store, ws.id, "archived");
    store.write(|w| w.update_chat(pinned.id, &ChatPatch { pinned: Some(true), ..Default::default() })).unwrap();
    store.write(|w| w.update_chat(archived.id, &ChatPatch { archived: Some(true), ..Default::default() })).unwrap();
    clock.advance(3);
    say(&store, old.id, None, Role::User, "bump");

    let titles = |all| store.read(|r| r.chats(ws.id, all)).unwrap().into_iter().map(|c| c.title).collect::<Vec<_>>();
    assert_eq!(titles(false), ["pinned", "old", "new"]);
    assert_eq!(titles(true), ["pinned", "old", "archived", "new"]);
}

#[test]
fn search_ranks_the_best_match_first() {
    let store = Store::open_in_memory().unwrap();
    let ws = workspace(&store, "w");
    let other = workspace(&store, "other");
    let c = chat(&store, ws.id, "Languages");
    let d = chat(&store, other.id, "Elsewhere");
    say(&store, c.id, None, Role::User, "I had lunch, then read about gardening, cooking, travel and rust removal for old bikes");
    say(&store, c.id, None, Role::Assistant, "Rust: the Rust borrow checker makes Rust programs safe");
    say(&store, c.id, None, Role::User, "nothing relevant here");
    say(&store, d.id, None, Role::User, "rust in another workspace");

    let hits = store.read(|r| r.search("rust", None, 10)).unwrap();
    assert_eq!(hits.len(), 3);
    assert!(hits[0].snippet.text.starts_with("Rust: the Rust borrow"), "{:?}", hits[0].snippet);
    assert!(hits.windows(2).all(|w| w[0].rank <= w[1].rank));
    let s = &hits[0].snippet;
    assert_eq!(s.highlights.iter().map(|&(a, b)| &s.text[a..b]).collect::<Vec<_>>(), ["Rust", "Rust", "Rust"]);
    assert_eq!(hits[0].chat_title, "Languages");

    // Words are ANDed, the last is a prefix, stemming matches forms, and scope narrows.
    assert_eq!(store.read(|r| r.search("borrow chec", None, 10)).unwrap().len(), 1);
    assert_eq!(store.read(|r| r.search("program", None, 10)).unwrap().len(), 1, "the last word is a prefix");
    assert_eq!(store.read(|r| r.search("gardén", None, 10)).unwrap().len(), 1, "diacritics are folded");
    assert_eq!(store.read(|r| r.search("rust", Some(other.id), 10)).unwrap().len(), 1);
    assert_eq!(store.read(|r| r.search("rust", None, 1)).unwrap().len(), 1);
    // Query syntax from the user is text, not FTS5 operators.
    assert!(store.read(|r| r.search("\"rust AND (", None, 10)).is_ok());
    let err = store.read(|r| r.search("  ", None, 10)).unwrap_err();
    assert!(matches!(err, Error::Invalid(ValidationError { field: "query", .. })), "{err:?}");
}

#[test]
fn an_unknown_stored_timezone_does_not_hide_the_list() {
    let store = Store::open_in_memory().unwrap();
    let ws = workspace(&store, "far");
    // As if synced from a newer Hearth whose tz database knows a zone this build does not.
    store.read(|r| Ok(r.conn.execute("UPDATE workspaces SET timezone = 'Mars/Olympus' WHERE id = ?1", [ws.id.to_string()])?)).unwrap();
    let listed = store.read(|r| r.workspaces()).unwrap();
    assert_eq!(listed[0].timezone.as_str(), "Mars/Olympus");
}

#[test]
fn settings_round_trip_and_stay_local() {
    let store = Store::open_in_memory().unwrap();
    assert_eq!(store.read(|r| r.setting("theme")).unwrap(), None);
    store.write(|w| w.set_setting("theme", &json!("dark"))).unwrap();
    store.write(|w| w.set_setting("theme", &json!({"mode": "light"}))).unwrap();
    assert_eq!(store.read(|r| r.setting("theme")).unwrap(), Some(json!({"mode": "light"})));
    assert_eq!(outbox_len(&store), 0);
}

// ---------------------------------------------------------------- the model registry

fn new_model(name: &str) -> NewModel {
    NewModel {
        name: name.into(),
        path: format!("/models/{name}.gguf").into(),
        size: 253_113_024,
        sha256: "ab".repeat(32),
        architecture: "gemma3".into(),
        parameters: 268_098_176,
        quantization: "Q4_K_M".into(),
        context_length: Some(32768),
        chat_template: None,
        source: ModelSource::Import,
    }
}

#[test]
fn models_register_list_default_and_remove_without_syncing() {
    let store = Store::open_in_memory().unwrap();
    let a = store.write(|w| w.register_model(&new_model("a"))).unwrap();
    store.write(|w| w.register_model(&new_model("b"))).unwrap();
    assert_eq!((a.size, a.parameters, a.context_length, a.is_default), (253_113_024, 268_098_176, Some(32768), false));
    let err = store.write(|w| w.register_model(&new_model("a"))).unwrap_err();
    assert!(matches!(err, Error::Conflict { field: "name", .. }), "{err:?}");

    store.write(|w| w.set_default_model("b")).unwrap();
    let listed = store.read(|r| r.models()).unwrap();
    assert_eq!(listed.iter().map(|m| (m.name.as_str(), m.is_default)).collect::<Vec<_>>(), [("a", false), ("b", true)]);
    assert!(matches!(store.write(|w| w.set_default_model("zzz")), Err(Error::NotFound { field: "model", .. })));

    store.write(|w| w.remove_model("b")).unwrap();
    assert_eq!(store.read(|r| r.default_model_name()).unwrap(), None, "removing the default clears it");
    assert!(matches!(store.write(|w| w.remove_model("b")), Err(Error::NotFound { .. })));
    assert_eq!(outbox_len(&store), 0, "the registry is local only");
}

// ------------------------------------------------------------------ providers, calls, prices

fn provider(name: &str) -> hearth_types::Provider {
    let now = hearth_types::Timestamp::now();
    hearth_types::Provider {
        name: name.into(),
        kind: "openai".into(),
        base_url: "https://api.openai.com/v1".into(),
        default_model: Some("gpt-4o-mini".into()),
        headers: serde_json::Map::new(),
        enabled: true,
        models: Vec::new(),
        models_fetched_at: None,
        created_at: now,
        updated_at: now,
    }
}

#[test]
fn providers_are_added_once_changed_listed_and_removed() {
    let store = Store::open_in_memory().unwrap();
    store.write(|w| w.add_provider(&provider("work"))).unwrap();
    let again = store.write(|w| w.add_provider(&provider("work")));
    assert!(matches!(again, Err(Error::Conflict { field: "name", .. })), "{again:?}");
    let mut headers = serde_json::Map::new();
    headers.insert("X-Title".into(), "Hearth".into());
    let patch = hearth_types::ProviderPatch {
        default_model: Some(None),
        headers: Some(headers.clone()),
        enabled: Some(false),
        ..Default::default()
    };
    let changed = store.write(|w| w.update_provider("work", &patch)).unwrap();
    assert_eq!((changed.default_model, changed.headers, changed.enabled), (None, headers, false));
    assert_eq!(changed.base_url, "https://api.openai.com/v1", "untouched fields stay");
    let listed = store.write(|w| w.set_provider_models("work", &["b".into(), "a".into()])).unwrap();
    assert_eq!(listed.models, vec!["b", "a"]);
    assert!(listed.models_fetched_at.is_some());
    store.write(|w| w.add_provider(&provider("alt"))).unwrap();
    assert_eq!(store.read(|r| r.providers()).unwrap().iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), vec!["alt", "work"]);
    store.write(|w| w.remove_provider("work")).unwrap();
    assert!(matches!(store.write(|w| w.remove_provider("work")), Err(Error::NotFound { field: "provider", .. })));
    assert!(matches!(store.read(|r| r.provider("work")), Err(Error::NotFound { .. })));
}

#[test]
fn usage_sums_calls_per_day_provider_and_model_and_prices_them() {
    use hearth_types::{CallOutcome, NewCall, Price};
    let store = Store::open_in_memory().unwrap();
    let call = |provider: &str, model: &str, prompt: u32, completion: u32, outcome: CallOutcome| NewCall {
        provider: provider.into(),
        model: model.into(),
        prompt_tokens: prompt,
        completion_tokens: completion,
        time_to_first_token_ms: (outcome == CallOutcome::Ok).then_some(100),
        duration_ms: 1000,
        outcome,
        error: (outcome == CallOutcome::Error).then(|| "HTTP 503".into()),
    };
    store
        .write(|w| {
            w.record_call(&call("openai", "gpt-4o-mini", 1_000_000, 500_000, CallOutcome::Ok))?;
            w.record_call(&call("openai", "gpt-4o-mini", 0, 0, CallOutcome::Error))?;
            w.record_call(&call("openai", "gpt-4o", 2_000_000, 0, CallOutcome::Ok))?;
            w.record_call(&call("groq", "llama", 10, 10, CallOutcome::Ok))?;
            w.record_call(&call("local", "gemma", 10, 20, CallOutcome::Cancelled))?;
            w.set_price(&Price {
                provider: "openai".into(),
                model: "gpt-4o-mini".into(),
                input_per_million: 0.15,
                output_per_million: 0.6,
            })?;
            w.set_price(&Price { provider: "openai".into(), model: "*".into(), input_per_million: 2.5, output_per_million: 10.0 })
        })
        .unwrap();
    let rows = store.read(|r| r.usage(None)).unwrap();
    let today = hearth_types::Timestamp::now().strftime("%Y-%m-%d").to_string();
    let row = |p: &str, m: &str| rows.iter().find(|r| r.provider == p && r.model == m).unwrap_or_else(|| panic!("{p}/{m} in {rows:?}"));
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r.day == today));
    let mini = row("openai", "gpt-4o-mini");
    assert_eq!((mini.calls, mini.errors, mini.prompt_tokens, mini.completion_tokens, mini.duration_ms), (2, 1, 1_000_000, 500_000, 2000));
    assert_eq!(mini.avg_time_to_first_token_ms, Some(100.0), "the failed call had no first token");
    assert!((mini.cost.unwrap() - (0.15 + 0.3)).abs() < 1e-9, "{:?}", mini.cost);
    assert!((row("openai", "gpt-4o").cost.unwrap() - 5.0).abs() < 1e-9, "the provider's * price");
    assert_eq!(row("groq", "llama").cost, None, "no price known");
    assert_eq!(row("local", "gemma").cost, Some(0.0), "local models are free unless priced");
    assert_eq!(store.read(|r| r.call_count()).unwrap(), 5);
    let tomorrow = hearth_types::Timestamp::now() + jiff::SignedDuration::from_hours(24);
    assert!(store.read(|r| r.usage(Some(tomorrow))).unwrap().is_empty());
    store.write(|w| w.remove_price("openai", "*")).unwrap();
    assert_eq!(store.read(|r| r.usage(None)).unwrap().iter().find(|r| r.model == "gpt-4o").unwrap().cost, None);
    assert!(matches!(store.write(|w| w.remove_price("openai", "*")), Err(Error::NotFound { .. })));
}

// ---------------------------------------------------------------- sync bookkeeping

fn connected() -> Store {
    let store = Store::open_in_memory().unwrap();
    let conn = crate::SyncConnection { rest_url: "http://127.0.0.1:9/rest/v1".into(), auth_url: None, anon_key: None };
    store.connect_sync(&conn).unwrap();
    store
}

/// A row as the server would send it: the synced columns, the id and the given stamps.
fn server_row(store: &Store, table: &str, id: &str, stamps: serde_json::Value) -> crate::PulledRow {
    let mut row = store.read(|r| r.synced_row(table, id)).unwrap().unwrap();
    row.insert("id".into(), json!(id));
    row.insert("field_hlc".into(), stamps);
    crate::PulledRow { table: table.into(), row }
}

#[test]
fn pending_transactions_come_whole_and_acknowledgements_settle_them() {
    use crate::TxOutcome;
    let store = connected();
    let ws = workspace(&store, "home");
    let c = chat(&store, ws.id, "A");
    store.write(|w| w.update_chat(c.id, &ChatPatch { title: Some("B".into()), pinned: Some(true), ..Default::default() })).unwrap();
    let txs = store.read(|r| r.pending_transactions(2)).unwrap();
    assert_eq!(txs.len(), 2, "two of the three actions");
    assert!(txs.iter().all(|t| t.changes.iter().all(|c| c.tx_seq == t.tx_seq)));
    let (first, second) = (txs[0].tx_seq, txs[1].tx_seq);
    let third = store.read(|r| r.pending_transactions(10)).unwrap()[2].tx_seq;

    let refused = TxOutcome::Rejected { sqlstate: Some("23503".into()), message: "no such workspace".into() };
    let refetch = store.acknowledge(&[(first, TxOutcome::Applied), (second, TxOutcome::Duplicate), (third, refused)]).unwrap();
    assert_eq!(refetch, vec![("chats".to_owned(), c.id.to_string())], "a duplicate's rows are read again");
    assert_eq!(outbox_len(&store), 0);
    let dead = store.read(|r| r.rejections()).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].tx_seq, dead[0].sqlstate.as_deref(), dead[0].message.as_str()), (third, Some("23503"), "no such workspace"));
    assert_eq!(dead[0].changes[0]["patch"]["title"], "B", "the refused change is kept for the user");
    assert!(store.read(|r| r.sync_state()).unwrap().unwrap().last_push_at.is_some());
}

#[test]
fn a_pulled_row_is_taken_whole_when_new_and_field_by_field_when_known() {
    let laptop = connected();
    let ws = workspace(&laptop, "home");
    let c = chat(&laptop, ws.id, "Plans");
    let stamp = |s: &str| json!(s);
    let old = "0000000000001:00000:aa";
    let all_old: serde_json::Value = crate::synced_columns("chats").unwrap().iter().map(|c| (c.to_string(), stamp(old))).collect();
    let ws_stamps: serde_json::Value = crate::synced_columns("workspaces").unwrap().iter().map(|c| (c.to_string(), stamp(old))).collect();

    // A second device pulls both rows: inserted as they are, with the cursor after them.
    let desktop = connected();
    let rows = [
        server_row(&laptop, "workspaces", &ws.id.to_string(), ws_stamps),
        server_row(&laptop, "chats", &c.id.to_string(), all_old.clone()),
    ];
    let cursor = crate::Cursor { version: 7, id: c.id.to_string() };
    let report = desktop.apply_pull(&rows, Some(&cursor), 7).unwrap();
    assert_eq!((report.inserted, report.updated), (2, 0));
    assert_eq!(desktop.read(|r| r.chat(c.id)).unwrap().title, "Plans");
    assert_eq!(desktop.read(|r| r.sync_state()).unwrap().unwrap().cursor, cursor);
    assert_eq!(outbox_len(&desktop), 0, "pulled rows are not pushed back");

    // The desktop renames the chat (pending); the server then sends a row whose title is older
    // and whose pinned flag changed: the pending newer title stays, the settled field is taken.
    desktop.write(|w| w.update_chat(c.id, &ChatPatch { title: Some("Mine".into()), ..Default::default() })).unwrap();
    let mut theirs = server_row(&laptop, "chats", &c.id.to_string(), all_old);
    theirs.row.insert("title".into(), json!("Theirs"));
    theirs.row.insert("pinned".into(), json!(true));
    let report = desktop.apply_pull(&[theirs.clone()], Some(&crate::Cursor { version: 8, id: c.id.to_string() }), 8).unwrap();
    assert_eq!((report.updated, report.kept_local), (1, 1));
    let now = desktop.read(|r| r.chat(c.id)).unwrap();
    assert_eq!((now.title.as_str(), now.pinned), ("Mine", true));

    // Once that change is settled, the server's value is the truth even with an older stamp
    // (the server clamps stamps from a clock that ran ahead).
    let seq = desktop.read(|r| r.pending_transactions(1)).unwrap()[0].tx_seq;
    desktop.acknowledge(&[(seq, crate::TxOutcome::Applied)]).unwrap();
    desktop.apply_pull(&[theirs], None, 8).unwrap();
    assert_eq!(desktop.read(|r| r.chat(c.id)).unwrap().title, "Theirs");
}

#[test]
fn a_bad_row_is_quarantined_and_the_rest_of_the_page_applies() {
    let laptop = connected();
    let ws = workspace(&laptop, "home");
    let good = server_row(&laptop, "workspaces", &ws.id.to_string(), json!({}));
    let mut bad = good.clone();
    bad.row.insert("id".into(), json!("not-a-uuid"));
    let mut unknown = good.clone();
    unknown.table = "secrets".into();
    unknown.row.insert("id".into(), json!(WorkspaceId::new().to_string()));
    let desktop = connected();
    let cursor = crate::Cursor { version: 3, id: ws.id.to_string() };
    let report = desktop.apply_pull(&[bad, good, unknown], Some(&cursor), 3).unwrap();
    assert_eq!((report.inserted, report.quarantined), (1, 2));
    assert_eq!(desktop.read(|r| r.workspaces()).unwrap().len(), 1, "the good row applied");
    assert_eq!(desktop.read(|r| r.sync_state()).unwrap().unwrap().cursor, cursor, "the pull moves past the bad rows");
    let kept = desktop.read(|r| r.quarantined()).unwrap();
    let reasons: Vec<(&str, &str, &str)> = kept.iter().map(|q| (q.table.as_str(), q.row_id.as_str(), q.reason.as_str())).collect();
    assert_eq!(kept.len(), 2, "{reasons:?}");
    assert!(reasons.iter().any(|(t, id, why)| *t == "workspaces" && *id == "not-a-uuid" && why.contains("not a UUID")), "{reasons:?}");
    assert!(reasons.iter().any(|(t, _, why)| *t == "secrets" && why.contains("not a table")), "{reasons:?}");
    assert_eq!(kept[0].row["name"], "Workspace home", "the row is kept as it came");
}

/// Rows that applied before quarantine existed and broke every read of their table after.
#[test]
fn rows_that_reads_could_not_take_are_quarantined() {
    let laptop = connected();
    let ws = workspace(&laptop, "home");
    let c = chat(&laptop, ws.id, "Plans");
    let q = say(&laptop, c.id, None, Role::User, "hello");
    let flow = laptop
        .write(|w| w.create_workflow(&NewWorkflow { name: "Flow".into(), description: String::new(), graph: Graph::default() }))
        .unwrap();
    let desktop = connected();
    let rows = [
        server_row(&laptop, "workspaces", &ws.id.to_string(), json!({})),
        server_row(&laptop, "chats", &c.id.to_string(), json!({})),
        server_row(&laptop, "messages", &q.id.to_string(), json!({})),
        server_row(&laptop, "workflows", &flow.id.to_string(), json!({})),
    ];
    desktop.apply_pull(&rows, None, 1).unwrap();

    let poisoned = |table: &str, id: String, field: &str, value: serde_json::Value| {
        let mut row = server_row(&laptop, table, &id, json!({ field: "0000000000009:00000:aa" }));
        row.row.insert(field.into(), value);
        row
    };
    let bad = [
        poisoned("workspaces", ws.id.to_string(), "handle", json!("")),
        poisoned("workspaces", ws.id.to_string(), "settings", json!([1, 2])),
        poisoned("workflows", flow.id.to_string(), "graph", json!("a graph")),
        poisoned("messages", q.id.to_string(), "role", json!("wizard")),
    ];
    for (row, field) in bad.into_iter().zip(["handle", "settings", "graph", "role"]) {
        let report = desktop.apply_pull(std::slice::from_ref(&row), None, 2).unwrap();
        assert_eq!((report.quarantined, report.updated), (1, 0), "{field}");
        let kept = desktop.read(|r| r.quarantined()).unwrap();
        assert!(kept.iter().any(|k| k.row_id == row.row["id"] && k.reason.starts_with(field)), "{field}: {kept:?}");
    }
    assert_eq!(desktop.read(|r| r.quarantined()).unwrap().len(), 3, "one entry per row: the second workspace row replaced the first");
    // Every read still works, with the values from before.
    let workspaces = desktop.read(|r| r.workspaces()).unwrap();
    assert_eq!((workspaces[0].handle.as_str(), workspaces[0].settings.len()), ("home", 0));
    assert_eq!(desktop.read(|r| r.workflows()).unwrap()[0].graph, Graph::default());
    assert_eq!(desktop.read(|r| r.thread(c.id)).unwrap().messages[0].message.role, Role::User);

    // A fixed version applies and settles its row's entry.
    let fixed = poisoned("workspaces", ws.id.to_string(), "handle", json!("house"));
    desktop.apply_pull(&[fixed], None, 3).unwrap();
    assert_eq!(desktop.read(|r| r.workspaces()).unwrap()[0].handle.as_str(), "house");
    let mut left: Vec<String> = desktop.read(|r| r.quarantined()).unwrap().into_iter().map(|q| q.table).collect();
    left.sort();
    assert_eq!(left, ["messages", "workflows"]);
}

/// A message row as another device (or anyone with the user's session) could write it.
fn message_row(chat: ChatId, id: &str, parent: Option<&str>, key: Option<&str>) -> crate::PulledRow {
    let row = json!({
        "id": id, "chat_id": chat.to_string(), "parent_id": parent, "role": "user", "content": format!("text of {id}"),
        "status": "complete", "idempotency_key": key, "created_at": "2026-01-01T00:00:00Z", "field_hlc": {},
    });
    crate::PulledRow { table: "messages".into(), row: row.as_object().unwrap().clone() }
}

#[test]
fn a_message_that_closes_a_cycle_is_quarantined_and_the_tree_stays_readable() {
    let laptop = connected();
    let ws = workspace(&laptop, "home");
    let c = chat(&laptop, ws.id, "Plans");
    let q = say(&laptop, c.id, None, Role::User, "question");
    let a = say(&laptop, c.id, Some(q.id), Role::Assistant, "answer");
    let desktop = connected();
    let rows: Vec<_> =
        [("workspaces", ws.id.to_string()), ("chats", c.id.to_string()), ("messages", q.id.to_string()), ("messages", a.id.to_string())]
            .iter()
            .map(|(t, id)| server_row(&laptop, t, id, json!({})))
            .collect();
    desktop.apply_pull(&rows, None, 1).unwrap();

    // The root is moved under its own reply (a PATCH of parent_id), one message names
    // itself, and two new messages each name the other, the second closing the loop.
    let mut moved = server_row(&laptop, "messages", &q.id.to_string(), json!({ "parent_id": "0000000000009:00000:aa" }));
    moved.row.insert("parent_id".into(), json!(a.id.to_string()));
    let own = MessageId::new().to_string();
    let (x, y) = (MessageId::new().to_string(), MessageId::new().to_string());
    let page =
        [moved, message_row(c.id, &own, Some(&own), None), message_row(c.id, &x, Some(&y), None), message_row(c.id, &y, Some(&x), None)];
    let report = desktop.apply_pull(&page, Some(&crate::Cursor { version: 2, id: y.clone() }), 2).unwrap();
    assert_eq!((report.inserted, report.quarantined), (1, 3), "x applies (its parent is unknown yet); the others close loops");
    let kept = desktop.read(|r| r.quarantined()).unwrap();
    let why = |id: &str| kept.iter().find(|k| k.row_id == id).map(|k| k.reason.clone()).unwrap_or_default();
    assert!(why(&q.id.to_string()).contains("cycle"), "{kept:?}");
    assert!(why(&own).contains("the message itself"), "{kept:?}");
    assert!(why(&y).contains("cycle"), "{kept:?}");
    let thread: Vec<String> = desktop.read(|r| r.thread(c.id)).unwrap().messages.into_iter().map(|m| m.message.content).collect();
    assert_eq!(thread, ["question", "answer"]);
    assert_eq!(desktop.read(|r| r.sync_state()).unwrap().unwrap().cursor.version, 2);

    // A loop built across chats: a reply arrives first in another chat, then its parent moves
    // to that chat under it. The move is refused, whatever the parent.
    let other = chat(&laptop, ws.id, "Other");
    desktop.apply_pull(&[server_row(&laptop, "chats", &other.id.to_string(), json!({}))], None, 3).unwrap();
    let z = MessageId::new().to_string();
    desktop.apply_pull(&[message_row(other.id, &z, Some(&x), None)], None, 4).unwrap();
    let report = desktop.apply_pull(&[message_row(other.id, &x, Some(&z), None)], None, 5).unwrap();
    assert_eq!(report.quarantined, 1);
    let kept = desktop.read(|r| r.quarantined()).unwrap();
    assert!(kept.iter().any(|k| k.row_id == x && k.reason.contains("moves the message")), "{kept:?}");
}

#[test]
fn a_second_message_with_a_chats_idempotency_key_is_quarantined() {
    let laptop = connected();
    let ws = workspace(&laptop, "home");
    let c = chat(&laptop, ws.id, "Plans");
    let desktop = connected();
    let rows =
        [server_row(&laptop, "workspaces", &ws.id.to_string(), json!({})), server_row(&laptop, "chats", &c.id.to_string(), json!({}))];
    desktop.apply_pull(&rows, None, 1).unwrap();
    let (first, second) = (MessageId::new().to_string(), MessageId::new().to_string());
    let report =
        desktop.apply_pull(&[message_row(c.id, &first, None, Some("k1")), message_row(c.id, &second, None, Some("k1"))], None, 2).unwrap();
    assert_eq!((report.inserted, report.quarantined), (1, 1));
    let kept = desktop.read(|r| r.quarantined()).unwrap();
    assert_eq!(kept[0].row_id, second);
    assert!(kept[0].reason.contains("idempotency key \"k1\""), "{}", kept[0].reason);
}

/// A loop stored by an older version (or written behind the store's back): every walk of the
/// tree ends, and pulling into that chat ends too.
#[test]
fn walks_of_a_tree_that_already_loops_end() {
    let store = connected();
    let ws = workspace(&store, "home");
    let c = chat(&store, ws.id, "Plans");
    let q = say(&store, c.id, None, Role::User, "question");
    let a = say(&store, c.id, Some(q.id), Role::Assistant, "answer");
    let b = say(&store, c.id, Some(a.id), Role::User, "again");
    store.lock().execute("UPDATE messages SET parent_id = ?1 WHERE id = ?2", (b.id.to_string(), q.id.to_string())).unwrap();

    let thread: Vec<String> = store.read(|r| r.thread(c.id)).unwrap().messages.into_iter().map(|m| m.message.content).collect();
    assert_eq!(thread, ["question", "answer", "again"], "each message once, ending at the leaf");
    assert_eq!(store.read(|r| r.branch_to(b.id)).unwrap().len(), 3);
    store.write(|w| w.switch_branch(c.id, q.id)).unwrap();
    let x = MessageId::new().to_string();
    store.apply_pull(&[message_row(c.id, &x, Some(&b.id.to_string()), None)], None, 1).unwrap();
    store.write(|w| w.delete_message(a.id)).unwrap();
    assert!(store.read(|r| r.message(b.id)).is_err(), "the loop was deleted as one subtree");
}

#[test]
fn pulling_moves_the_clock_past_what_it_saw_but_not_far_into_the_future() {
    let laptop = connected();
    let ws = workspace(&laptop, "home");
    let ahead = Timestamp::now().as_millisecond() as u64 + 60 * 60 * 1000;
    let soon = format!("{ahead:013}:00042:ff");
    let desktop = connected();
    desktop.apply_pull(&[server_row(&laptop, "workspaces", &ws.id.to_string(), json!({ "name": soon }))], None, 1).unwrap();
    desktop.write(|w| w.update_workspace(ws.id, &WorkspacePatch { name: Some("Later".into()), ..Default::default() })).unwrap();
    let patch = &desktop.read(|r| r.pending_transactions(1)).unwrap()[0].changes[0].patch;
    assert!(patch["field_hlc"]["name"].as_str().unwrap() > soon.as_str(), "{patch}");

    // A stamp from the year 2255 moves the clock one day ahead at most.
    let far = "9000000000000:00042:ff";
    let other = workspace(&laptop, "other");
    desktop.apply_pull(&[server_row(&laptop, "workspaces", &other.id.to_string(), json!({ "name": far }))], None, 2).unwrap();
    desktop.write(|w| w.update_workspace(ws.id, &WorkspacePatch { name: Some("Later still".into()), ..Default::default() })).unwrap();
    let txs = desktop.read(|r| r.pending_transactions(10)).unwrap();
    let stamp: Hlc = txs.last().unwrap().changes[0].patch["field_hlc"]["name"].as_str().unwrap().parse().unwrap();
    let day = 24 * 60 * 60 * 1000;
    assert!(stamp.wall_ms <= Timestamp::now().as_millisecond() as u64 + day, "{stamp}");
    assert!(stamp.wall_ms > ahead, "the clock still moved as far as it may: {stamp}");
}

#[test]
fn reconnecting_keeps_the_device_and_cursor_but_another_project_starts_over() {
    let store = connected();
    let first = store.read(|r| r.sync_state()).unwrap().unwrap();
    store.apply_pull(&[], Some(&crate::Cursor { version: 5, id: crate::Cursor::START_ID.into() }), 5).unwrap();
    let same =
        crate::SyncConnection { rest_url: first.connection.rest_url.clone(), auth_url: Some("http://a/auth/v1".into()), anon_key: None };
    let again = store.connect_sync(&same).unwrap();
    assert_eq!((again.client_id.as_str(), again.cursor.version), (first.client_id.as_str(), 5));
    let other = crate::SyncConnection { rest_url: "http://other/rest/v1".into(), auth_url: None, anon_key: None };
    let fresh = store.connect_sync(&other).unwrap();
    assert_ne!(fresh.client_id, first.client_id);
    assert_eq!(fresh.cursor, crate::Cursor::start());
}

#[test]
fn a_chat_pulled_after_its_messages_takes_their_activity() {
    let laptop = connected();
    let ws = workspace(&laptop, "home");
    let clock = PinnedClock::now();
    let c = chat(&laptop, ws.id, "Plans");
    clock.advance(5);
    let m = say(&laptop, c.id, None, Role::User, "later");
    assert!(m.created_at > c.created_at, "the message is later than the chat");
    let desktop = connected();
    let rows = [
        server_row(&laptop, "workspaces", &ws.id.to_string(), json!({})),
        server_row(&laptop, "messages", &m.id.to_string(), json!({})),
        server_row(&laptop, "chats", &c.id.to_string(), json!({})),
    ];
    desktop.apply_pull(&rows, None, 1).unwrap();
    let listed = desktop.read(|r| r.chats(ws.id, false)).unwrap();
    assert_eq!(listed[0].activity_at, m.created_at, "the message's time, not the chat's creation");
    assert_eq!(desktop.read(|r| r.thread(c.id)).unwrap().messages.len(), 1);
}

#[test]
fn a_conversation_continued_elsewhere_shows_on_this_device() {
    let laptop = connected();
    let ws = workspace(&laptop, "home");
    let c = chat(&laptop, ws.id, "Plans");
    let q = say(&laptop, c.id, None, Role::User, "question");
    let row = |table: &str, id: String| server_row(&laptop, table, &id, json!({}));
    let desktop = connected();
    desktop
        .apply_pull(&[row("workspaces", ws.id.to_string()), row("chats", c.id.to_string()), row("messages", q.id.to_string())], None, 1)
        .unwrap();
    assert_eq!(thread_text(&desktop, c.id), vec![("question".to_owned(), 1, 1)]);
    // The laptop gets an answer; the desktop, still showing the question, follows it.
    let a = say(&laptop, c.id, Some(q.id), Role::Assistant, "answer");
    desktop.apply_pull(&[row("messages", a.id.to_string())], None, 2).unwrap();
    assert_eq!(thread_text(&desktop, c.id), vec![("question".to_owned(), 1, 1), ("answer".to_owned(), 1, 1)]);
}

#[test]
fn another_project_gets_every_row_queued_again() {
    let store = connected();
    let ws = workspace(&store, "home");
    let c = chat(&store, ws.id, "Plans");
    say(&store, c.id, None, Role::User, "hello");
    store.write(|w| w.delete_chat(c.id)).unwrap();
    // Everything went to the first project.
    let seqs: Vec<i64> = store.read(|r| r.pending_transactions(100)).unwrap().iter().map(|t| t.tx_seq).collect();
    store.acknowledge(&seqs.iter().map(|s| (*s, crate::TxOutcome::Applied)).collect::<Vec<_>>()).unwrap();
    assert_eq!(outbox_len(&store), 0);
    // The same project again queues nothing; another one gets all three rows, tombstone included.
    let same = store.read(|r| r.sync_state()).unwrap().unwrap().connection;
    store.connect_sync(&same).unwrap();
    assert_eq!(outbox_len(&store), 0);
    store.connect_sync(&crate::SyncConnection { rest_url: "http://other/rest/v1".into(), auth_url: None, anon_key: None }).unwrap();
    let txs = store.read(|r| r.pending_transactions(100)).unwrap();
    let tables: Vec<&str> = txs.iter().map(|t| t.changes[0].table.as_str()).collect();
    assert_eq!(tables, ["workspaces", "chats", "messages"], "parents first, one transaction each");
    assert!(txs.windows(2).all(|w| w[0].tx_seq < w[1].tx_seq) && txs[0].tx_seq > *seqs.last().unwrap());
    let chat_patch = &txs[1].changes[0].patch;
    assert!(chat_patch["deleted_at"].is_string(), "the tombstone travels: {chat_patch}");
    assert_eq!(chat_patch["title"], "Plans");
    assert!(chat_patch["field_hlc"]["deleted_at"].is_string(), "with its stamps");
    // The next action still gets a fresh sequence number.
    workspace(&store, "later");
    let last = store.read(|r| r.pending_transactions(100)).unwrap();
    assert_eq!(last.last().unwrap().tx_seq, txs.last().unwrap().tx_seq + 1);
}

#[test]
fn another_account_gets_a_fresh_sync_state_and_the_user_says_what_becomes_of_the_data() {
    use crate::LocalData;
    let store = connected();
    store.set_sync_user(Some("user-a"), Some("a@example.com")).unwrap();
    let ws = workspace(&store, "home");
    store.apply_pull(&[], Some(&crate::Cursor { version: 9, id: crate::Cursor::START_ID.into() }), 9).unwrap();
    let first = store.read(|r| r.sync_state()).unwrap().unwrap();
    store.set_sync_user(None, None).unwrap();
    assert_eq!(store.read(|r| r.sync_state()).unwrap().unwrap().owner_id.as_deref(), Some("user-a"), "kept after signing out");
    store.set_sync_user(Some("user-a"), None).unwrap();

    // Another account cannot simply take over the state of the first.
    let err = store.set_sync_user(Some("user-b"), None).unwrap_err();
    assert!(matches!(err, Error::Conflict { field: "local_data", .. }), "{err:?}");

    // Kept local: a new device id, the pull from the start, nothing queued for the new account.
    let kept = store.switch_sync_account("user-b", LocalData::Keep).unwrap();
    assert_ne!(kept.client_id, first.client_id);
    assert_eq!(
        (kept.cursor.clone(), kept.head, kept.owner_id.as_deref(), kept.user_id.as_deref()),
        (crate::Cursor::start(), 0, Some("user-b"), None)
    );
    assert_eq!(outbox_len(&store), 0);
    store.set_sync_user(Some("user-b"), Some("b@example.com")).unwrap();
    assert_eq!(store.read(|r| r.workspace(ws.id)).unwrap().name, "Workspace home", "the data stays on the device");

    // Pushed: every row is queued for the account that signs in.
    let pushed = store.switch_sync_account("user-c", LocalData::Push).unwrap();
    assert_eq!(pushed.owner_id.as_deref(), Some("user-c"));
    let queued = store.read(|r| r.pending_transactions(10)).unwrap();
    let copies = store.read(|r| r.workspaces()).unwrap();
    assert_eq!(copies.len(), 1);
    assert_ne!(copies[0].id, ws.id, "a copy under a new id: the old id is the first account's on the server");
    let c = chat(&store, copies[0].id, "Plans");
    let q = say(&store, c.id, None, Role::User, "question");
    say(&store, c.id, Some(q.id), Role::Assistant, "answer");
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].changes[0].row_id, copies[0].id.to_string());

    // A chat, its messages and its shown branch follow their new ids together.
    let before = thread_text(&store, c.id);
    store.switch_sync_account("user-d", LocalData::Push).unwrap();
    let ws2 = store.read(|r| r.workspaces()).unwrap().remove(0);
    let c2 = store.read(|r| r.chats(ws2.id, true)).unwrap().remove(0);
    assert_ne!(c2.id, c.id);
    assert_eq!(thread_text(&store, c2.id), before);
    let found = store.read(|r| r.search("question", Some(ws2.id), 10)).unwrap();
    assert_eq!(found.len(), 1, "the search index follows");
}

/// A row an older build kept aside (it did not know a value this one reads) applies at the next
/// retry; one that is still bad stays aside.
#[test]
fn kept_rows_are_tried_again_and_apply_once_they_can() {
    let laptop = connected();
    let ws = workspace(&laptop, "home");
    let desktop = connected();
    let good = server_row(&laptop, "workspaces", &ws.id.to_string(), json!({}));
    let mut bad = good.clone();
    bad.row.insert("id".into(), json!(WorkspaceId::new().to_string()));
    bad.row.insert("handle".into(), json!(""));
    for row in [&good, &bad] {
        desktop
            .lock()
            .execute(
                "INSERT INTO sync_quarantine (tbl, row_id, reason, row, quarantined_at) VALUES ('workspaces', ?1, 'older build', ?2, 0)",
                (row.row["id"].as_str().unwrap(), serde_json::Value::Object(row.row.clone()).to_string()),
            )
            .unwrap();
    }
    let report = desktop.retry_quarantined().unwrap();
    assert_eq!((report.inserted, report.quarantined), (1, 1));
    assert_eq!(desktop.read(|r| r.workspace(ws.id)).unwrap().handle.as_str(), "home");
    let left = desktop.read(|r| r.quarantined()).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].row_id, bad.row["id"].as_str().unwrap());
    assert!(left[0].reason.starts_with("handle"), "{}", left[0].reason);
}

// ---------------------------------------------------------------- documents sync

/// A two-section Markdown document with its chunks (each exactly a piece of the text) and,
/// when `model` is given, a vector per chunk.
fn document(ws: WorkspaceId, path: &str, model: Option<&str>) -> NewDocument {
    let text = "# Soil\nBlueberries want acidic soil.\n\n# Water\nWater them weekly in summer.\n".to_owned();
    let piece = |heading: &str, from: &str, to: &str| {
        let (start, end) = (text.find(from).unwrap(), text.find(to).unwrap() + to.len());
        NewChunk { text: text[start..end].to_owned(), heading: heading.into(), page: None, start: start as u32, end: end as u32 }
    };
    let chunks = vec![piece("Soil", "# Soil", "soil."), piece("Water", "# Water", "summer.")];
    let embeddings = model.map(|m| ChunkEmbeddings { model: m.into(), vectors: vec![vec![1.0, 0.0], vec![0.0, 1.0]] });
    NewDocument {
        workspace_id: ws,
        path: path.into(),
        title: "Blueberries".into(),
        format: DocFormat::Markdown,
        sha256: format!("{:x}", Sha256::digest(text.as_bytes())),
        size: text.len() as u64,
        text,
        chunks,
        embeddings,
    }
}

fn chunk_rows(store: &Store, doc: DocumentId) -> Vec<(String, String)> {
    store
        .read(|r| {
            let mut stmt = r.conn.prepare("SELECT text, heading FROM chunks WHERE document_id = ?1 ORDER BY ord")?;
            Ok(stmt.query_map([doc.to_string()], |row| Ok((row.get(0)?, row.get(1)?)))?.collect::<rusqlite::Result<_>>()?)
        })
        .unwrap()
}

fn stamped(table: &str, stamp: &str) -> serde_json::Value {
    crate::synced_columns(table).unwrap().iter().map(|c| (c.to_string(), json!(stamp))).collect()
}

#[test]
fn a_document_syncs_as_one_row_and_the_device_that_pulls_it_rebuilds_its_chunks() {
    let laptop = connected();
    let ws = workspace(&laptop, "garden");
    let doc = laptop.write(|w| w.put_document(&document(ws.id, "/notes/berries.md", Some("m")))).unwrap();

    // One change carries the document whole: its text and where each chunk sits, no vectors.
    let outbox = laptop.read(|r| r.outbox(10)).unwrap();
    let change = outbox.iter().find(|c| c.table == "documents").expect("the document is queued");
    assert_eq!(change.row_id, doc.id.to_string());
    assert!(change.patch["text"].as_str().unwrap().contains("acidic soil"));
    assert_eq!(change.patch["outline"].as_array().unwrap().len(), 2);
    assert_eq!(change.patch["outline"][1]["heading"], "Water");
    assert!(change.patch.get("vector").is_none() && change.patch.get("chunks").is_none());

    // Another device pulls it: the same chunks, found by their words at once, and a job to
    // embed them there.
    let desktop = connected();
    let rows = [
        server_row(&laptop, "workspaces", &ws.id.to_string(), stamped("workspaces", "0000000000001:00000:aa")),
        server_row(&laptop, "documents", &doc.id.to_string(), stamped("documents", "0000000000001:00000:aa")),
    ];
    let report = desktop.apply_pull(&rows, None, 1).unwrap();
    assert_eq!((report.inserted, report.quarantined), (2, 0));
    let pulled = desktop.read(|r| r.document(doc.id)).unwrap();
    assert_eq!((pulled.title.as_str(), pulled.chunks, pulled.sha256.as_str()), ("Blueberries", 2, doc.sha256.as_str()));
    assert_eq!(chunk_rows(&desktop, doc.id), chunk_rows(&laptop, doc.id));
    let hits = desktop.read(|r| r.search_chunks(ws.id, "weekly", 5)).unwrap();
    assert_eq!((hits.len(), hits[0].heading.as_str()), (1, "Water"));
    let jobs = desktop.read(|r| r.jobs(10)).unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!((jobs[0].kind, jobs[0].status, jobs[0].workspace_id), (JobKind::Embed, JobStatus::Queued, Some(ws.id)));
    assert_eq!(desktop.read(|r| r.unembedded_documents(ws.id, "m")).unwrap().len(), 1);
    assert!(laptop.read(|r| r.unembedded_documents(ws.id, "m")).unwrap().is_empty(), "the laptop embedded it as it stored it");

    // The job's vectors: for the version it read; a changed document is left for the next.
    let vectors = ChunkEmbeddings { model: "m".into(), vectors: vec![vec![1.0, 0.0], vec![0.0, 1.0]] };
    assert!(!desktop.write(|w| w.put_document_vectors(doc.id, "another version", &vectors)).unwrap());
    assert!(desktop.write(|w| w.put_document_vectors(doc.id, &doc.sha256, &vectors)).unwrap());
    assert!(desktop.read(|r| r.unembedded_documents(ws.id, "m")).unwrap().is_empty());
    assert_eq!(desktop.read(|r| r.chunk_vectors(ws.id, "m")).unwrap().len(), 2);

    // A change to its title alone leaves the chunks and their vectors as they are.
    let mut renamed = server_row(&laptop, "documents", &doc.id.to_string(), stamped("documents", "0000000000002:00000:aa"));
    renamed.row.insert("title".into(), json!("Berries"));
    desktop.apply_pull(&[renamed], None, 2).unwrap();
    assert_eq!(desktop.read(|r| r.document(doc.id)).unwrap().title, "Berries");
    assert_eq!(desktop.read(|r| r.chunk_vectors(ws.id, "m")).unwrap().len(), 2, "nothing to embed again");
    assert_eq!(desktop.read(|r| r.jobs(10)).unwrap().len(), 1, "no second job");
    assert_eq!(outbox_len(&desktop), 0, "pulled rows are not pushed back");
}

#[test]
fn a_removed_document_is_a_tombstone_that_removes_it_everywhere() {
    let laptop = connected();
    let ws = workspace(&laptop, "garden");
    let doc = laptop.write(|w| w.put_document(&document(ws.id, "/notes/berries.md", None))).unwrap();
    let desktop = connected();
    let first = [
        server_row(&laptop, "workspaces", &ws.id.to_string(), stamped("workspaces", "0000000000001:00000:aa")),
        server_row(&laptop, "documents", &doc.id.to_string(), stamped("documents", "0000000000001:00000:aa")),
    ];
    desktop.apply_pull(&first, None, 1).unwrap();

    laptop.write(|w| w.delete_document(doc.id)).unwrap();
    let change = laptop.read(|r| r.outbox(10)).unwrap().into_iter().rev().find(|c| c.table == "documents").unwrap();
    assert!(change.patch["deleted_at"].is_string());
    assert_eq!((change.patch["text"].as_str(), change.patch["outline"].as_array().map(Vec::len)), (Some(""), Some(0)), "no text kept");
    assert!(matches!(laptop.read(|r| r.document(doc.id)), Err(Error::NotFound { .. })));
    assert!(laptop.read(|r| r.documents(ws.id)).unwrap().is_empty());

    let tombstone = server_row(&laptop, "documents", &doc.id.to_string(), stamped("documents", "0000000000002:00000:aa"));
    desktop.apply_pull(&[tombstone], None, 2).unwrap();
    assert!(desktop.read(|r| r.documents(ws.id)).unwrap().is_empty());
    assert!(chunk_rows(&desktop, doc.id).is_empty());
    assert!(desktop.read(|r| r.search_chunks(ws.id, "weekly", 5)).unwrap().is_empty());

    // Added again at the same path: the same document comes back, everywhere.
    let again = laptop.write(|w| w.put_document(&document(ws.id, "/notes/berries.md", None))).unwrap();
    assert_eq!(again.id, doc.id);
    desktop
        .apply_pull(&[server_row(&laptop, "documents", &doc.id.to_string(), stamped("documents", "0000000000003:00000:aa"))], None, 3)
        .unwrap();
    assert_eq!(desktop.read(|r| r.document(doc.id)).unwrap().chunks, 2);
}

#[test]
fn the_same_file_added_on_two_devices_is_one_document() {
    let laptop = connected();
    let ws = workspace(&laptop, "garden");
    let desktop = connected();
    desktop
        .apply_pull(&[server_row(&laptop, "workspaces", &ws.id.to_string(), stamped("workspaces", "0000000000001:00000:aa"))], None, 1)
        .unwrap();
    let a = laptop.write(|w| w.put_document(&document(ws.id, "/notes/berries.md", None))).unwrap();
    let b = desktop.write(|w| w.put_document(&document(ws.id, "/notes/berries.md", None))).unwrap();
    assert_eq!(a.id, b.id, "one id for one path in one workspace");
    let other = laptop.write(|w| w.put_document(&document(ws.id, "/notes/other.md", None))).unwrap();
    assert_ne!(other.id, a.id);
}

#[test]
fn a_pulled_document_whose_outline_does_not_fit_its_text_is_quarantined() {
    let laptop = connected();
    let ws = workspace(&laptop, "garden");
    let doc = laptop.write(|w| w.put_document(&document(ws.id, "/notes/berries.md", None))).unwrap();
    let desktop = connected();
    desktop
        .apply_pull(&[server_row(&laptop, "workspaces", &ws.id.to_string(), stamped("workspaces", "0000000000001:00000:aa"))], None, 1)
        .unwrap();
    let bad = |outline: serde_json::Value| {
        let mut row = server_row(&laptop, "documents", &doc.id.to_string(), stamped("documents", "0000000000001:00000:aa"));
        row.row.insert("outline".into(), outline);
        row
    };
    let cases = [
        json!([{ "heading": "", "page": null, "start": 0, "end": 100_000 }]),
        json!([{ "heading": "", "page": null, "start": 9, "end": 3 }]),
        json!([{ "heading": "", "page": null, "start": 10, "end": 20 }, { "heading": "", "page": null, "start": 2, "end": 5 }]),
        json!([{ "heading": "", "start": "zero", "end": 5 }]),
        json!({ "not": "a list" }),
    ];
    for outline in cases {
        let report = desktop.apply_pull(&[bad(outline.clone())], None, 1).unwrap();
        assert_eq!(report.quarantined, 1, "{outline}");
        assert!(matches!(desktop.read(|r| r.document(doc.id)), Err(Error::NotFound { .. })), "nothing half-stored for {outline}");
        assert!(desktop.read(|r| r.jobs(10)).unwrap().is_empty());
    }
    // A multi-byte character cut in two is no piece of the text either.
    let mut cut = server_row(&laptop, "documents", &doc.id.to_string(), stamped("documents", "0000000000001:00000:aa"));
    cut.row.insert("text".into(), json!("café"));
    cut.row.insert("outline".into(), json!([{ "heading": "", "page": null, "start": 0, "end": 4 }]));
    assert_eq!(desktop.apply_pull(&[cut], None, 1).unwrap().quarantined, 1);
    // The good row applies over the kept one.
    let good = server_row(&laptop, "documents", &doc.id.to_string(), stamped("documents", "0000000000001:00000:aa"));
    assert_eq!(desktop.apply_pull(&[good], None, 1).unwrap().inserted, 1);
    assert!(desktop.read(|r| r.quarantined()).unwrap().is_empty());
}

#[test]
fn documents_follow_their_workspace_to_another_account() {
    let store = connected();
    store.set_sync_user(Some("user-a"), None).unwrap();
    let ws = workspace(&store, "garden");
    store.write(|w| w.put_document(&document(ws.id, "/notes/berries.md", Some("m")))).unwrap();
    store.write(|w| w.create_job(JobKind::Ingest, Some(ws.id), &serde_json::Map::new())).unwrap();
    store.switch_sync_account("user-b", crate::LocalData::Push).unwrap();
    let copy = store.read(|r| r.workspaces()).unwrap().remove(0);
    assert_ne!(copy.id, ws.id);
    let docs = store.read(|r| r.documents(copy.id)).unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(chunk_rows(&store, docs[0].id).len(), 2, "its chunks follow");
    assert_eq!(store.read(|r| r.chunk_vectors(copy.id, "m")).unwrap().len(), 2, "and their vectors");
    assert_eq!(store.read(|r| r.jobs(10)).unwrap()[0].workspace_id, Some(copy.id), "a job follows its workspace");
    let queued = store.read(|r| r.pending_transactions(100)).unwrap();
    assert!(queued.iter().any(|t| t.changes.iter().any(|c| c.table == "documents" && c.row_id == docs[0].id.to_string())));
}

#[test]
fn documents_stored_before_they_synced_are_queued_when_the_store_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let doc = {
        let store = Store::open(&path).unwrap();
        let ws = workspace(&store, "garden");
        let doc = store.write(|w| w.put_document(&document(ws.id, "/notes/berries.md", None))).unwrap();
        store.write(|w| w.put_document(&document(ws.id, "/notes/other.md", None))).unwrap();
        // As a store of schema version 9 left it: no stamps, nothing queued.
        store
            .read(|r| {
                r.conn.execute_batch("UPDATE documents SET field_hlc = '{}'; DELETE FROM outbox;")?;
                Ok(())
            })
            .unwrap();
        doc
    };
    let store = Store::open(&path).unwrap();
    let outbox = store.read(|r| r.outbox(10)).unwrap();
    assert_eq!(outbox.len(), 2);
    let first = outbox.iter().find(|c| c.row_id == doc.id.to_string()).expect("the document is queued");
    assert_eq!(first.table, "documents");
    assert!(first.patch["text"].as_str().unwrap().contains("acidic"));
    assert!(first.patch["field_hlc"]["outline"].is_string());
    assert_ne!(outbox[0].tx_seq, outbox[1].tx_seq, "a push transaction each, so pushes can spread them");
    drop(store);
    assert_eq!(Store::open(&path).unwrap().read(|r| r.outbox(10)).unwrap().len(), 2, "queued once");
}
