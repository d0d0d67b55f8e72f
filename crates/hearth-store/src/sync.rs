//! The store's side of sync: the connection and cursor, pending transactions read from the
//! outbox, acknowledgements, dead letters, and applying pulled rows with the per-field merge.
//!
//! Nothing here speaks HTTP; `hearth-sync` drives these calls. Each call that changes state is
//! one SQLite transaction, so a crash leaves either the old state or the new one:
//! - [`Store::acknowledge`] removes pushed transactions from the outbox (or moves a refused one
//!   to `sync_rejected`) in one go; a crash before it means the push is sent again, which the
//!   server answers as a duplicate.
//! - [`Store::apply_pull`] applies a page and saves the cursor after it together, so a page is
//!   applied exactly once. A row that would hang or break this device is quarantined instead
//!   (`pull.rs`), so it can never stop the pull.
//!
//! **The merge.** The server already merged every field by HLC (newest wins, future stamps
//! clamped), so its row is the truth for every field this device has no unpushed change to.
//! For a field with a change still in the outbox, the local value stays when its stamp is newer
//! than the server's; that change is pushed next and the server merges it by the same rule.
//! Taking the server's value (not comparing stamps) for settled fields is what makes a device
//! whose clock ran ahead converge: the server clamped its stamp, so a later write elsewhere can
//! win on the server while losing a plain stamp comparison on that device.

mod pull;

use hearth_types::{Hlc, Timestamp};
use rusqlite::types::Value as Sql;
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior};
use serde_json::{Map, Value};

pub(crate) use pull::MAX_THREAD_DEPTH;
pub use pull::Quarantined;

use crate::rows::{Val, now_ms, ts};
use crate::writer::{OutboxRow, Table, outbox_row};
use crate::{Error, Reader, Result, Store};

/// Where to reach the user's project, and who is signed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// The PostgREST root (`https://PROJECT.supabase.co/rest/v1`).
    pub rest_url: String,
    /// The Supabase Auth (GoTrue) root; `None` when tokens are handed over directly.
    pub auth_url: Option<String>,
    /// The project's public anon key, sent as `apikey`.
    pub anon_key: Option<String>,
}

/// A pull position: the `(server_version, id)` of the last row applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub version: i64,
    pub id: String,
}

impl Cursor {
    pub const START_ID: &'static str = "00000000-0000-0000-0000-000000000000";

    pub fn start() -> Self {
        Cursor { version: 0, id: Self::START_ID.to_owned() }
    }
}

/// The saved sync state of this device.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncState {
    pub connection: Connection,
    pub client_id: String,
    /// The signed-in user (`None` after signing out).
    pub user_id: Option<String>,
    pub email: Option<String>,
    /// The account this state belongs to: the first user to sign in, kept after signing out.
    pub owner_id: Option<String>,
    pub cursor: Cursor,
    /// The server's newest version at the last pull: with the cursor, how far along a pull is.
    pub head: i64,
    pub last_push_at: Option<Timestamp>,
    pub last_pull_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_error_at: Option<Timestamp>,
    pub connected_at: Timestamp,
}

/// One user action waiting to be pushed: all its changes, which apply together or not at all.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingTx {
    pub tx_seq: i64,
    pub tx_id: String,
    pub changes: Vec<OutboxRow>,
}

/// What becomes of this device's data when a different account signs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalData {
    /// It stays on this device and is not sent to the new account (changes not yet pushed to
    /// the old one stay unsent too). Its rows keep the first account's ids, so a later change
    /// to one of them is refused by the server (row-level security, or a parent the new account
    /// does not have) and listed with the refused changes: it never lands in either account.
    Keep,
    /// It is sent to the new account, every row as it stands.
    Push,
}

/// What the server did with one pushed transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxOutcome {
    Applied,
    /// Already applied by an earlier push whose answer never arrived.
    Duplicate,
    /// Refused (bad data, a constraint, row-level security); kept as a dead letter.
    Rejected {
        sqlstate: Option<String>,
        message: String,
    },
}

/// How much waits in the outbox.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Pending {
    pub changes: u64,
    pub transactions: u64,
    pub oldest: Option<Timestamp>,
}

/// A transaction the server refused, as the user sees it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Rejection {
    pub tx_seq: i64,
    pub tx_id: String,
    pub sqlstate: Option<String>,
    pub message: String,
    /// `[{"table", "row_id", "patch"}]`: what the transaction would have changed.
    pub changes: Value,
    pub rejected_at: Timestamp,
}

/// A row the server sent, with the table it belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct PulledRow {
    pub table: String,
    pub row: Map<String, Value>,
}

/// What applying rows did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub inserted: u64,
    pub updated: u64,
    /// Fields where a newer, not yet pushed local change was kept over the server's value.
    pub kept_local: u64,
    /// Rows kept aside in quarantine instead of applied.
    pub quarantined: u64,
}

/// How a synced column travels: the JSON the server sends and the SQLite value it becomes.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Text,
    OptText,
    Int,
    Bool,
    Time,
    OptTime,
    Object,
    /// A JSON array (stored as text, `[]` when absent).
    List,
}

/// The synced columns of each table (the server mirror's client-writable columns).
fn columns(table: Table) -> &'static [(&'static str, Kind)] {
    use Kind::*;
    match table {
        Table::Workspaces => &[
            ("name", Text),
            ("handle", Text),
            ("description", Text),
            ("tone", Text),
            ("timezone", Text),
            ("system_prompt", Text),
            ("knowledge_base", Text),
            ("default_model", OptText),
            ("settings", Object),
            ("created_at", Time),
            ("deleted_at", OptTime),
        ],
        Table::Chats => &[
            ("workspace_id", Text),
            ("title", Text),
            ("model", OptText),
            ("pinned", Bool),
            ("archived", Bool),
            ("created_at", Time),
            ("deleted_at", OptTime),
        ],
        Table::Messages => &[
            ("chat_id", Text),
            ("parent_id", OptText),
            ("role", Text),
            ("content", Text),
            ("model", OptText),
            ("provider", OptText),
            ("status", Text),
            ("error", OptText),
            ("prompt_tokens", Int),
            ("completion_tokens", Int),
            ("latency_ms", Int),
            ("idempotency_key", OptText),
            ("notice", OptText),
            ("citations", List),
            ("tool_calls", List),
            ("tool_call_id", OptText),
            ("created_at", Time),
            ("deleted_at", OptTime),
        ],
        Table::Workflows => &[("name", Text), ("description", Text), ("graph", Object), ("created_at", Time), ("deleted_at", OptTime)],
        // The chunks' text travels as the text and the outline (see `knowledge.rs`).
        Table::Documents => &[
            ("workspace_id", Text),
            ("path", Text),
            ("title", Text),
            ("format", Text),
            ("sha256", Text),
            ("size", Int),
            ("text", Text),
            ("outline", List),
            ("created_at", Time),
            ("deleted_at", OptTime),
        ],
    }
}

/// A synced column's value, from its JSON form (as [`Reader::synced_row`] gives it).
fn val_of(kind: Kind, v: Option<&Value>) -> crate::rows::Val {
    let v = v.unwrap_or(&Value::Null);
    let time = || v.as_str().and_then(|s| s.parse::<Timestamp>().ok()).map(|t| t.as_millisecond());
    match kind {
        Kind::Text => Val::Text(v.as_str().unwrap_or_default().to_owned()),
        Kind::OptText => Val::OptText(v.as_str().map(str::to_owned)),
        Kind::Int => Val::Int(v.as_i64()),
        Kind::Bool => Val::Bool(v.as_bool().unwrap_or(false)),
        Kind::Time | Kind::OptTime => Val::Time(time()),
        Kind::Object | Kind::List => Val::Json(v.clone()),
    }
}

/// The synced tables, parents before the rows that name them.
pub fn synced_tables() -> Vec<&'static str> {
    Table::ALL.iter().map(|t| t.as_str()).collect()
}

/// The synced column names of a table, for comparing devices field by field.
pub fn synced_columns(table: &str) -> Option<Vec<&'static str>> {
    table.parse::<Table>().ok().map(|t| columns(t).iter().map(|(c, _)| *c).collect())
}

fn stamps(v: Option<&Value>) -> Map<String, Value> {
    match v {
        Some(Value::Object(m)) => m.clone(),
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_default(),
        _ => Map::new(),
    }
}

impl Reader<'_> {
    /// The saved connection and cursor; `None` when sync was never connected.
    pub fn sync_state(&self) -> Result<Option<SyncState>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT rest_url, auth_url, anon_key, client_id, user_id, email, cursor_version, cursor_id, head, \
             last_push_at, last_pull_at, last_error, last_error_at, connected_at, owner_id FROM sync_state WHERE id = 1",
        )?;
        let state = stmt
            .query_row([], |r| {
                let time = |i: usize| r.get::<_, Option<i64>>(i).map(|t| t.map(ts));
                Ok(SyncState {
                    connection: Connection { rest_url: r.get(0)?, auth_url: r.get(1)?, anon_key: r.get(2)? },
                    client_id: r.get(3)?,
                    user_id: r.get(4)?,
                    email: r.get(5)?,
                    cursor: Cursor { version: r.get(6)?, id: r.get(7)? },
                    head: r.get(8)?,
                    last_push_at: time(9)?,
                    last_pull_at: time(10)?,
                    last_error: r.get(11)?,
                    last_error_at: time(12)?,
                    connected_at: ts(r.get(13)?),
                    owner_id: r.get(14)?,
                })
            })
            .optional()?;
        Ok(state)
    }

    /// The oldest `max` pending transactions, each whole.
    pub fn pending_transactions(&self, max: u32) -> Result<Vec<PendingTx>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, tx_seq, tx_id, tbl, row_id, patch, created_at FROM outbox \
             WHERE tx_seq IN (SELECT DISTINCT tx_seq FROM outbox ORDER BY tx_seq LIMIT ?1) ORDER BY tx_seq, id",
        )?;
        let rows = stmt.query_map([max], outbox_row)?;
        let mut txs: Vec<PendingTx> = Vec::new();
        for row in rows {
            let row = row?;
            match txs.last_mut() {
                Some(tx) if tx.tx_seq == row.tx_seq => tx.changes.push(row),
                _ => txs.push(PendingTx { tx_seq: row.tx_seq, tx_id: row.tx_id.clone(), changes: vec![row] }),
            }
        }
        Ok(txs)
    }

    /// How many changes and transactions wait, and since when.
    pub fn pending(&self) -> Result<Pending> {
        let (changes, transactions, oldest): (u64, u64, Option<i64>) = self
            .conn
            .prepare_cached("SELECT count(*), count(DISTINCT tx_seq), min(created_at) FROM outbox")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(Pending { changes, transactions, oldest: oldest.map(ts) })
    }

    /// Every refused transaction, newest first.
    pub fn rejections(&self) -> Result<Vec<Rejection>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT tx_seq, tx_id, sqlstate, message, changes, rejected_at FROM sync_rejected ORDER BY id DESC")?;
        let rows = stmt.query_map([], |r| {
            let changes: String = r.get(4)?;
            Ok(Rejection {
                tx_seq: r.get(0)?,
                tx_id: r.get(1)?,
                sqlstate: r.get(2)?,
                message: r.get(3)?,
                changes: serde_json::from_str(&changes).unwrap_or(Value::Null),
                rejected_at: ts(r.get(5)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One synced row as the server mirror would hold it: its synced columns, as JSON.
    /// `None` when the row does not exist here. For comparing devices.
    pub fn synced_row(&self, table: &str, id: &str) -> Result<Option<Map<String, Value>>> {
        let t: Table = table.parse()?;
        let cols = columns(t);
        let sql = format!("SELECT {} FROM {} WHERE id = ?1", cols.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", "), t.as_str());
        let row = self
            .conn
            .prepare_cached(&sql)?
            .query_row([id], |r| {
                let mut out = Map::new();
                for (i, (col, kind)) in cols.iter().enumerate() {
                    let v: Sql = r.get(i)?;
                    let json = match (kind, v) {
                        (_, Sql::Null) => Value::Null,
                        (Kind::Bool, Sql::Integer(n)) => Value::Bool(n != 0),
                        (Kind::Time | Kind::OptTime, Sql::Integer(n)) => Value::String(ts(n).to_string()),
                        (Kind::Object | Kind::List, Sql::Text(s)) => serde_json::from_str(&s).unwrap_or(Value::Null),
                        (_, Sql::Integer(n)) => Value::from(n),
                        (_, Sql::Text(s)) => Value::String(s),
                        (_, other) => Value::String(format!("{other:?}")),
                    };
                    out.insert((*col).to_owned(), json);
                }
                Ok(out)
            })
            .optional()?;
        Ok(row)
    }

    /// The ids of every row of a synced table, tombstones included.
    pub fn synced_ids(&self, table: &str) -> Result<Vec<String>> {
        let t: Table = table.parse()?;
        let mut stmt = self.conn.prepare(&format!("SELECT id FROM {} ORDER BY id", t.as_str()))?;
        let ids = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }
}

impl Store {
    /// Stamps and queues for sync every document stored before documents synced (schema
    /// version 10), each as an action of its own: one push transaction per document, so the
    /// push's byte budget can spread them over requests. Returns how many (with none, it is
    /// one read: every open calls it).
    pub(crate) fn queue_unsynced_documents(&self) -> Result<u64> {
        let ids: Vec<String> = self.read(|r| {
            Ok(r.conn
                .prepare_cached("SELECT id FROM documents WHERE field_hlc = '{}' AND deleted_at IS NULL")?
                .query_map([], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?)
        })?;
        for id in &ids {
            self.write(|w| {
                let Some(row) = w.read().synced_row(Table::Documents.as_str(), id)? else { return Ok(()) };
                let fields: Vec<(&str, Val)> = columns(Table::Documents).iter().map(|(c, kind)| (*c, val_of(*kind, row.get(*c)))).collect();
                w.update(Table::Documents, id, &fields)
            })?;
        }
        Ok(ids.len() as u64)
    }

    /// Runs `f` in one immediate transaction outside the user-action machinery: sync's own
    /// bookkeeping stamps nothing and writes no outbox rows.
    fn sync_tx<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let run = || -> Result<T> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        };
        run().map_err(|e| self.locate(e))
    }

    /// Saves where to sync. Reconnecting to the same REST root keeps this device's client id
    /// and cursor; another project starts over with a new client id, pulls from the start, and
    /// gets every local row queued again (the first project's pushes had emptied the outbox).
    pub fn connect_sync(&self, connection: &Connection) -> Result<SyncState> {
        self.sync_tx(|tx| {
            let current: Option<String> = tx.query_row("SELECT rest_url FROM sync_state WHERE id = 1", [], |r| r.get(0)).optional()?;
            if current.as_deref() == Some(connection.rest_url.as_str()) {
                tx.execute(
                    "UPDATE sync_state SET auth_url = ?1, anon_key = ?2, last_error = NULL, last_error_at = NULL WHERE id = 1",
                    (&connection.auth_url, &connection.anon_key),
                )?;
            } else {
                tx.execute("DELETE FROM sync_state", [])?;
                tx.execute(
                    "INSERT INTO sync_state (id, rest_url, auth_url, anon_key, client_id, connected_at) VALUES (1, ?1, ?2, ?3, ?4, ?5)",
                    (&connection.rest_url, &connection.auth_url, &connection.anon_key, uuid::Uuid::new_v4().to_string(), now_ms()),
                )?;
                tx.execute("DELETE FROM sync_quarantine", [])?;
                if current.is_some() {
                    // What the old project received left the outbox; the new one has none of it.
                    requeue_everything(tx)?;
                }
            }
            Ok(())
        })?;
        self.read(|r| r.sync_state())?.ok_or_else(|| Error::not_found("sync", "connection", "1"))
    }

    /// Moves this device's clock past `seen`, a stamp from elsewhere (the HLC receive rule).
    pub fn observe_clock(&self, seen: Hlc) -> Result<()> {
        self.sync_tx(|tx| pull::observe(tx, Some(seen), now_ms()))
    }

    /// Records who is signed in (`None` after signing out). The first user to sign in owns this
    /// sync state; another user is refused here (see [`Store::switch_sync_account`]), so two
    /// accounts never share a cursor and an outbox.
    pub fn set_sync_user(&self, user_id: Option<&str>, email: Option<&str>) -> Result<()> {
        self.sync_tx(|tx| {
            if let Some(user) = user_id {
                let owner: Option<String> =
                    tx.query_row("SELECT owner_id FROM sync_state WHERE id = 1", [], |r| r.get(0)).optional()?.flatten();
                if owner.as_deref().is_some_and(|o| o != user) {
                    return Err(Error::Conflict {
                        field: "local_data",
                        message: format!("this device syncs for another account ({}); switch accounts first", owner.unwrap_or_default()),
                    });
                }
            }
            tx.execute("UPDATE sync_state SET user_id = ?1, email = ?2, owner_id = coalesce(owner_id, ?1) WHERE id = 1", (user_id, email))?;
            Ok(())
        })
    }

    /// Starts a fresh sync state for another account: a new client id, the pull from the start,
    /// no outbox, no quarantine. `local` says what becomes of the rows already here: kept on this
    /// device only, or copied to the new account (new ids, all queued). Refused transactions
    /// stay listed.
    pub fn switch_sync_account(&self, user_id: &str, local: LocalData) -> Result<SyncState> {
        self.sync_tx(|tx| {
            let changed = tx.execute(
                "UPDATE sync_state SET client_id = ?1, owner_id = ?2, user_id = NULL, email = NULL, cursor_version = 0, cursor_id = ?3, \
                 head = 0, last_push_at = NULL, last_pull_at = NULL, last_error = NULL, last_error_at = NULL WHERE id = 1",
                (uuid::Uuid::new_v4().to_string(), user_id, Cursor::START_ID),
            )?;
            if changed == 0 {
                return Err(Error::not_found("sync", "connection", "1"));
            }
            tx.execute("DELETE FROM outbox", [])?;
            tx.execute("DELETE FROM sync_quarantine", [])?;
            if local == LocalData::Push {
                rekey_everything(tx)?;
                requeue_everything(tx)?;
            }
            Ok(())
        })?;
        self.read(|r| r.sync_state())?.ok_or_else(|| Error::not_found("sync", "connection", "1"))
    }

    /// Records a failed round (`None` clears it after a good one).
    pub fn set_sync_error(&self, error: Option<&str>) -> Result<()> {
        self.sync_tx(|tx| {
            tx.execute(
                "UPDATE sync_state SET last_error = ?1, last_error_at = CASE WHEN ?1 IS NULL THEN last_error_at ELSE ?2 END WHERE id = 1",
                (error, now_ms()),
            )?;
            Ok(())
        })
    }

    /// Settles pushed transactions: applied and duplicate ones leave the outbox, refused ones
    /// move to the dead letters with their reason. Returns the rows of duplicate transactions:
    /// their push was answered before but the answer was lost, so their server state must be
    /// fetched again (the pull may have passed them while the change still looked pending).
    pub fn acknowledge(&self, outcomes: &[(i64, TxOutcome)]) -> Result<Vec<(String, String)>> {
        self.sync_tx(|tx| {
            let now = now_ms();
            let mut refetch = Vec::new();
            for (tx_seq, outcome) in outcomes {
                match outcome {
                    TxOutcome::Applied => {}
                    TxOutcome::Duplicate => {
                        let mut stmt = tx.prepare_cached("SELECT tbl, row_id FROM outbox WHERE tx_seq = ?1")?;
                        let rows = stmt.query_map([tx_seq], |r| Ok((r.get(0)?, r.get(1)?)))?;
                        refetch.extend(rows.collect::<rusqlite::Result<Vec<(String, String)>>>()?);
                    }
                    TxOutcome::Rejected { sqlstate, message } => {
                        let (tx_id, changes): (Option<String>, String) = tx.query_row(
                            "SELECT max(tx_id), json_group_array(json_object('table', tbl, 'row_id', row_id, 'patch', json(patch))) \
                             FROM (SELECT * FROM outbox WHERE tx_seq = ?1 ORDER BY id)",
                            [tx_seq],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )?;
                        if let Some(tx_id) = tx_id {
                            tx.execute(
                                "INSERT INTO sync_rejected (tx_seq, tx_id, sqlstate, message, changes, rejected_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                (tx_seq, tx_id, sqlstate, message, changes, now),
                            )?;
                        }
                    }
                }
                tx.prepare_cached("DELETE FROM outbox WHERE tx_seq = ?1")?.execute([tx_seq])?;
            }
            tx.execute("UPDATE sync_state SET last_push_at = ?1 WHERE id = 1", [now])?;
            refetch.sort();
            refetch.dedup();
            Ok(refetch)
        })
    }
}

/// Queues every synced row, tombstones included, as it stands (its values and their stamps),
/// one client transaction per row, parents first. The server merges them by their stamps, so
/// rows it already has change nothing.
fn requeue_everything(tx: &Transaction<'_>) -> Result<()> {
    let reader = Reader { conn: tx };
    let (mut seq, now): (i64, i64) = (tx.query_row("SELECT next_tx_seq FROM sync_clock WHERE id = 1", [], |r| r.get(0))?, now_ms());
    for &table in Table::ALL {
        for id in reader.synced_ids(table.as_str())? {
            let Some(mut patch) = reader.synced_row(table.as_str(), &id)? else { continue };
            let stamps: String =
                tx.prepare_cached(&format!("SELECT field_hlc FROM {} WHERE id = ?1", table.as_str()))?.query_row([&id], |r| r.get(0))?;
            patch.insert("id".into(), Value::String(id.clone()));
            patch.insert("field_hlc".into(), Value::Object(stamps_of(&stamps)));
            tx.prepare_cached("INSERT INTO outbox (tx_seq, tx_id, tbl, row_id, patch, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
                .execute((seq, uuid::Uuid::now_v7().to_string(), table.as_str(), &id, Value::Object(patch).to_string(), now))?;
            seq += 1;
        }
    }
    tx.execute("UPDATE sync_clock SET next_tx_seq = ?1 WHERE id = 1", [seq])?;
    Ok(())
}

/// Gives every synced row a new id, with every reference to it (a chat's workspace and shown
/// branch, a message's chat and parent, a run's workflow, a document's workspace, a chunk's
/// document, a job's workspace) following. The rows become copies for another account: the
/// ids the previous account already stored on the server are its own, and the server
/// (row-level security) refuses them to anyone else. Foreign keys are checked at commit, when
/// every reference has followed.
fn rekey_everything(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch("DROP TABLE IF EXISTS temp.rekey; CREATE TEMP TABLE rekey (old TEXT PRIMARY KEY, new TEXT NOT NULL) STRICT;")?;
    {
        let reader = Reader { conn: tx };
        let mut add = tx.prepare("INSERT INTO temp.rekey (old, new) VALUES (?1, ?2)")?;
        for &table in Table::ALL {
            for id in reader.synced_ids(table.as_str())? {
                add.execute((id, uuid::Uuid::now_v7().to_string()))?;
            }
        }
    }
    let map = |col: &str| format!("coalesce((SELECT new FROM temp.rekey WHERE old = {col}), {col})");
    tx.execute_batch(&format!(
        "PRAGMA defer_foreign_keys = ON;
         UPDATE workspaces SET id = {ws};
         UPDATE chats SET id = {chat}, workspace_id = {chat_ws}, active_leaf_id = {leaf};
         UPDATE messages SET id = {msg}, chat_id = {msg_chat}, parent_id = {parent};
         UPDATE workflows SET id = {flow};
         UPDATE workflow_runs SET workflow_id = {run_flow};
         UPDATE documents SET id = {doc}, workspace_id = {doc_ws};
         UPDATE chunks SET document_id = {chunk_doc};
         UPDATE jobs SET workspace_id = {job_ws};
         DROP TABLE temp.rekey;",
        ws = map("id"),
        chat = map("id"),
        chat_ws = map("workspace_id"),
        leaf = map("active_leaf_id"),
        msg = map("id"),
        msg_chat = map("chat_id"),
        parent = map("parent_id"),
        flow = map("id"),
        run_flow = map("workflow_id"),
        doc = map("id"),
        doc_ws = map("workspace_id"),
        chunk_doc = map("document_id"),
        job_ws = map("workspace_id"),
    ))?;
    Ok(())
}

fn stamps_of(text: &str) -> Map<String, Value> {
    stamps(Some(&Value::String(text.to_owned())))
}
