//! Applying a pulled page: each row is checked, merged (see the parent module's docs for the
//! rule) and written in a savepoint of its own, so a row that would hang or break this device
//! is kept aside in `sync_quarantine` while the rest of the page applies and the cursor moves
//! on. Before this, one such row stopped every pull for good, or worse:
//! - a message whose `parent_id` closes a cycle (or names the message itself) made every walk
//!   up or down the chat tree spin forever, inside the pull's write transaction, at every start;
//! - a second message with a chat's idempotency key failed the unique index, so the page never
//!   applied;
//! - a `settings` or `graph` that is not an object, an empty or invalid handle, a role or status
//!   this build does not know: the row applied, and every read of its table failed after.
//!
//! A quarantined row is never applied. A newer version of it (fixed on the server or by the
//! device that wrote it) replaces its entry, or clears it when it applies.

use std::borrow::Borrow;
use std::collections::HashSet;

use hearth_types::{Graph, Handle, Hlc, MessageStatus, Role};
use rusqlite::types::Value as Sql;
use rusqlite::{ErrorCode, OptionalExtension, Transaction, params_from_iter};
use serde_json::{Map, Value};

use super::{ApplyReport, Cursor, Kind, PulledRow, columns, stamps, stamps_of};
use crate::jobs::queue_embedding;
use crate::knowledge::{Span, chunks_of, write_chunks};
use crate::rows::{now_ms, ts};
use crate::writer::Table;
use crate::{Error, Reader, Result, Store};

/// How many ancestors a message may have. Walks of the chat tree stop here, so no data, however
/// it got in, can make one run forever.
pub(crate) const MAX_THREAD_DEPTH: usize = 100_000;

/// How far ahead of this device's wall clock a pulled stamp may move its clock. The server
/// clamps what devices push to its own clock plus five minutes, so a stamp further ahead than
/// this was written around it (directly in the database, or by a broken server) and would
/// otherwise make every later local write carry that far-future time.
pub(crate) const MAX_CLOCK_LEAD_MS: u64 = 24 * 60 * 60 * 1000;

/// A pulled row kept aside instead of applied, as the sync status shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Quarantined {
    pub table: String,
    pub row_id: String,
    /// Why it was not applied.
    pub reason: String,
    /// The row as the server sent it. Kept here, not in the sync status (it may hold a whole
    /// message, and the status goes out on every change).
    #[serde(skip_serializing)]
    pub row: Value,
    pub quarantined_at: hearth_types::Timestamp,
}

/// Why one row was not applied.
enum Refusal {
    /// The row itself is bad: quarantine it and go on.
    Row(String),
    /// The database failed: stop the pull (it is retried whole).
    Store(Error),
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        Refusal::Store(e)
    }
}

impl From<rusqlite::Error> for Refusal {
    fn from(e: rusqlite::Error) -> Self {
        // A constraint the checks below did not foresee is still the row's fault.
        match e.sqlite_error_code() {
            Some(ErrorCode::ConstraintViolation) => Refusal::Row(e.to_string()),
            _ => Refusal::Store(e.into()),
        }
    }
}

type RowResult<T> = std::result::Result<T, Refusal>;

fn refuse<T>(reason: impl Into<String>) -> RowResult<T> {
    Err(Refusal::Row(reason.into()))
}

impl Reader<'_> {
    /// Every pulled row kept aside, oldest first.
    pub fn quarantined(&self) -> Result<Vec<Quarantined>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT tbl, row_id, reason, row, quarantined_at FROM sync_quarantine ORDER BY quarantined_at, tbl, row_id")?;
        let rows = stmt.query_map([], |r| {
            let row: String = r.get(3)?;
            Ok(Quarantined {
                table: r.get(0)?,
                row_id: r.get(1)?,
                reason: r.get(2)?,
                row: serde_json::from_str(&row).unwrap_or(Value::Null),
                quarantined_at: ts(r.get(4)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl Store {
    /// Applies one pulled page and moves the cursor past it, in one transaction. `cursor` is
    /// `None` for rows fetched outside the pull (re-reads after a duplicate push). A row that
    /// cannot be applied safely is quarantined (see the module docs), never applied.
    pub fn apply_pull(&self, rows: &[PulledRow], cursor: Option<&Cursor>, head: i64) -> Result<ApplyReport> {
        self.sync_tx(|tx| {
            let report = apply_rows(tx, rows)?;
            match cursor {
                Some(c) => tx.execute(
                    "UPDATE sync_state SET cursor_version = ?1, cursor_id = ?2, head = max(?3, ?1), last_pull_at = ?4 WHERE id = 1",
                    (c.version, &c.id, head, now_ms()),
                )?,
                None => tx.execute("UPDATE sync_state SET head = max(head, ?1) WHERE id = 1", [head])?,
            };
            Ok(report)
        })
    }
}

impl Store {
    /// Applies every quarantined row again: a newer Hearth may read what an older one could
    /// not (a role or a graph it did not know), and the cursor has moved past those rows, so
    /// they would otherwise stay out for good. A row that still cannot apply stays.
    pub fn retry_quarantined(&self) -> Result<ApplyReport> {
        // Every round calls this: with nothing kept aside, no write transaction is taken.
        let any = self.read(|r| Ok(r.conn.prepare_cached("SELECT 1 FROM sync_quarantine LIMIT 1")?.exists([])?))?;
        if !any {
            return Ok(ApplyReport::default());
        }
        self.sync_tx(|tx| {
            let kept: Vec<(String, String)> = tx
                .prepare_cached("SELECT tbl, row FROM sync_quarantine ORDER BY quarantined_at, tbl, row_id")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let rows = kept.into_iter().filter_map(|(table, row)| match serde_json::from_str(&row) {
                Ok(Value::Object(row)) => Some(PulledRow { table, row }),
                _ => None,
            });
            apply_rows(tx, rows)
        })
    }
}

/// Applies (or quarantines) each row, then moves the branches on screen and the clock after
/// what applied.
fn apply_rows<R: Borrow<PulledRow>>(tx: &Transaction<'_>, rows: impl IntoIterator<Item = R>) -> Result<ApplyReport> {
    let mut report = ApplyReport::default();
    let mut newest: Option<Hlc> = None;
    let mut chats: Vec<String> = Vec::new();
    for pulled in rows {
        if let Some(chat) = apply_one(tx, pulled.borrow(), &mut report, &mut newest)? {
            chats.push(chat);
        }
    }
    chats.sort();
    chats.dedup();
    for chat in &chats {
        follow_branch(tx, chat)?;
    }
    observe(tx, newest, now_ms())?;
    Ok(report)
}

/// Applies one row in a savepoint, or quarantines it. Returns the chat whose branch may need
/// to follow it.
fn apply_one(tx: &Transaction<'_>, pulled: &PulledRow, report: &mut ApplyReport, newest: &mut Option<Hlc>) -> Result<Option<String>> {
    let id = pulled.row.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
    tx.execute_batch("SAVEPOINT pulled_row")?;
    let mut counted = *report;
    let mut seen = *newest;
    match check_and_apply(tx, pulled, &id, &mut counted, &mut seen) {
        Ok(chat) => {
            tx.execute_batch("RELEASE pulled_row")?;
            *report = counted;
            *newest = seen;
            // A newer version that applies settles the row.
            tx.prepare_cached("DELETE FROM sync_quarantine WHERE tbl = ?1 AND row_id = ?2")?.execute((&pulled.table, &id))?;
            Ok(chat)
        }
        Err(Refusal::Row(reason)) => {
            tx.execute_batch("ROLLBACK TO pulled_row; RELEASE pulled_row")?;
            tracing::warn!(table = %pulled.table, row = %id, %reason, "sync: a pulled row was quarantined, not applied");
            tx.prepare_cached(
                "INSERT INTO sync_quarantine (tbl, row_id, reason, row, quarantined_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (tbl, row_id) DO UPDATE SET reason = excluded.reason, row = excluded.row, quarantined_at = excluded.quarantined_at",
            )?
            .execute((&pulled.table, &id, &reason, Value::Object(pulled.row.clone()).to_string(), now_ms()))?;
            report.quarantined += 1;
            Ok(None)
        }
        Err(Refusal::Store(e)) => {
            tx.execute_batch("ROLLBACK TO pulled_row; RELEASE pulled_row")?;
            Err(e)
        }
    }
}

fn check_and_apply(
    tx: &Transaction<'_>,
    pulled: &PulledRow,
    id: &str,
    report: &mut ApplyReport,
    newest: &mut Option<Hlc>,
) -> RowResult<Option<String>> {
    let Ok(table) = pulled.table.parse::<Table>() else {
        return refuse(format!("{:?} is not a table this version of Hearth syncs", pulled.table));
    };
    if uuid::Uuid::parse_str(id).is_err() {
        return refuse(format!("its id {:?} is not a UUID", pulled.row.get("id").unwrap_or(&Value::Null)));
    }
    if table == Table::Messages {
        check_message(tx, id, &pulled.row)?;
    }
    let document_before = match table {
        Table::Documents => Some(check_document(tx, id, &pulled.row)?),
        _ => None,
    };
    apply_row(tx, table, id, &pulled.row, report, newest)?;
    if let Some(before) = document_before {
        rebuild_chunks(tx, id, before)?;
    }
    let chat = match table {
        Table::Chats => Some(id),
        Table::Messages => pulled.row.get("chat_id").and_then(Value::as_str),
        Table::Workspaces | Table::Workflows | Table::Documents => None,
    };
    Ok(chat.map(str::to_owned))
}

/// Refuses a message that would break the chat tree: a move to another chat, a parent that is
/// itself, one of its own descendants (a cycle) or a message of another chat, and a second use
/// of a chat's idempotency key.
fn check_message(tx: &Transaction<'_>, id: &str, row: &Map<String, Value>) -> RowResult<()> {
    let chat = row.get("chat_id").and_then(Value::as_str).unwrap_or("");
    // A message stays in its chat: moved, it would take its branch (or a loop) along into a
    // chat whose walks do not expect it.
    let stored_chat: Option<String> =
        tx.prepare_cached("SELECT chat_id FROM messages WHERE id = ?1")?.query_row([id], |r| r.get(0)).optional()?;
    if stored_chat.as_deref().is_some_and(|c| c != chat) {
        return refuse(format!("it moves the message from chat {} to chat {chat}", stored_chat.unwrap_or_default()));
    }
    if let Some(key) = row.get("idempotency_key").and_then(Value::as_str) {
        let other: Option<String> = tx
            .prepare_cached("SELECT id FROM messages WHERE chat_id = ?1 AND idempotency_key = ?2 AND id <> ?3")?
            .query_row((chat, key, id), |r| r.get(0))
            .optional()?;
        if let Some(other) = other {
            return refuse(format!("message {other} of the same chat already has idempotency key {key:?}"));
        }
    }
    let Some(parent) = row.get("parent_id").and_then(Value::as_str) else { return Ok(()) };
    if parent == id {
        return refuse("its parent_id is the message itself");
    }
    let parent_chat: Option<String> =
        tx.prepare_cached("SELECT chat_id FROM messages WHERE id = ?1")?.query_row([parent], |r| r.get(0)).optional()?;
    if parent_chat.as_deref().is_some_and(|c| c != chat) {
        return refuse(format!("its parent {parent} belongs to another chat"));
    }
    // Only a message that already has replies here (in any chat: a reply may have come first,
    // naming a chat of its own) can close a cycle; most rows arrive before their replies (pages
    // follow server order), which spares them the walk.
    let current: Option<Option<String>> =
        tx.prepare_cached("SELECT parent_id FROM messages WHERE id = ?1")?.query_row([id], |r| r.get(0)).optional()?;
    if current.as_ref().is_some_and(|p| p.as_deref() == Some(parent)) {
        return Ok(()); // the parent does not change (nor the chat: checked above)
    }
    let has_replies = tx.prepare_cached("SELECT 1 FROM messages WHERE parent_id = ?1 LIMIT 1")?.exists([id])?;
    if !has_replies {
        return Ok(());
    }
    let mut up = tx.prepare_cached("SELECT parent_id FROM messages WHERE id = ?1")?;
    let mut seen: HashSet<String> = HashSet::new();
    let mut at = parent.to_owned();
    for _ in 0..MAX_THREAD_DEPTH {
        let Some(Some(next)) = up.query_row([&at], |r| r.get::<_, Option<String>>(0)).optional()? else { return Ok(()) };
        if next == id {
            return refuse(format!("its parent_id {parent} would make a cycle: {parent} descends from it"));
        }
        if !seen.insert(next.clone()) {
            return refuse(format!("the ancestors of its parent {parent} already loop"));
        }
        at = next;
    }
    refuse(format!("its parent {parent} has more than {MAX_THREAD_DEPTH} ancestors"))
}

/// What a document's chunks are made from: its version, its outline and whether it is live.
type DocumentState = Option<(String, String, Option<i64>)>;

fn document_state(tx: &Transaction<'_>, id: &str) -> RowResult<DocumentState> {
    Ok(tx
        .prepare_cached("SELECT sha256, outline, deleted_at FROM documents WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?)
}

/// Refuses a document whose path in its workspace another document holds here (one added on
/// this device before either synced, under an id from before ids came from the path), and
/// returns its state before the merge.
fn check_document(tx: &Transaction<'_>, id: &str, row: &Map<String, Value>) -> RowResult<DocumentState> {
    let (workspace, path) = (row.get("workspace_id").and_then(Value::as_str), row.get("path").and_then(Value::as_str));
    if let (Some(workspace), Some(path)) = (workspace, path) {
        let other: Option<String> = tx
            .prepare_cached("SELECT id FROM documents WHERE workspace_id = ?1 AND path = ?2 AND id <> ?3")?
            .query_row((workspace, path, id), |r| r.get(0))
            .optional()?;
        if let Some(other) = other {
            return refuse(format!("document {other} of the same workspace already has the path {path:?} here"));
        }
    }
    document_state(tx, id)
}

/// After a pulled document merged: when its text, outline or tombstone changed, its chunks
/// are made again from the text and the outline (none for a tombstone), each checked against
/// the text, and an `embed` job is queued for the workspace, as vectors do not sync. A
/// document is searchable by its words at once, and by meaning once the job ran.
fn rebuild_chunks(tx: &Transaction<'_>, id: &str, before: DocumentState) -> RowResult<()> {
    if document_state(tx, id)? == before {
        return Ok(()); // only its title or stamps moved: the chunks and their vectors stand
    }
    let (workspace, text, outline, deleted): (String, String, String, Option<i64>) = tx
        .prepare_cached("SELECT workspace_id, text, outline, deleted_at FROM documents WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    let doc = hearth_types::DocumentId::parse_field(id, "id").map_err(|e| Refusal::Row(e.to_string()))?;
    if deleted.is_some() {
        write_chunks(tx, doc, &[], None)?;
        return Ok(());
    }
    let spans: Vec<Span> = serde_json::from_str(&outline).map_err(|e| Refusal::Row(format!("outline: not a list of chunks: {e}")))?;
    let chunks = chunks_of(&text, &spans).map_err(|why| Refusal::Row(format!("outline: {why}")))?;
    write_chunks(tx, doc, &chunks, None)?;
    if !chunks.is_empty() {
        queue_embedding(tx, &workspace)?;
    }
    Ok(())
}

/// Checks a value against what reads of its column expect, so a row that applies can be read.
fn check_value(table: Table, col: &str, value: &Sql) -> std::result::Result<(), String> {
    let Sql::Text(text) = value else { return Ok(()) };
    match (table, col) {
        (Table::Workspaces, "handle") => Handle::parse(text).map(drop).map_err(|e| e.reason),
        (Table::Messages, "role") => Role::try_from(text.clone()).map(drop).map_err(|e| e.reason),
        (Table::Messages, "status") => MessageStatus::try_from(text.clone()).map(drop).map_err(|e| e.reason),
        (Table::Documents, "format") => hearth_types::DocFormat::try_from(text.clone()).map(drop).map_err(|e| e.reason),
        (Table::Chats | Table::Documents, "workspace_id") | (Table::Messages, "chat_id" | "parent_id") => {
            uuid::Uuid::parse_str(text).map(drop).map_err(|_| "not a UUID".to_owned())
        }
        (Table::Messages, "citations") => {
            serde_json::from_str::<Vec<hearth_types::Citation>>(text).map(drop).map_err(|e| format!("not a list of citations: {e}"))
        }
        (Table::Messages, "tool_calls") => {
            serde_json::from_str::<Vec<hearth_types::ToolCall>>(text).map(drop).map_err(|e| format!("not a list of tool calls: {e}"))
        }
        (Table::Workflows, "graph") => serde_json::from_str::<Graph>(text).map(drop).map_err(|e| format!("not a workflow graph: {e}")),
        _ => Ok(()),
    }
}

/// The SQLite value of one JSON field from the server.
fn to_sql(table: Table, col: &str, kind: Kind, v: Option<&Value>) -> RowResult<Sql> {
    let v = v.unwrap_or(&Value::Null);
    let bad = |why: &str| Refusal::Row(format!("{col} = {v}: {why}"));
    let sql = match (kind, v) {
        (Kind::Text, Value::Null) => Sql::Text(String::new()),
        (Kind::Text | Kind::OptText, Value::String(s)) => Sql::Text(s.clone()),
        (Kind::OptText | Kind::Int | Kind::OptTime, Value::Null) => Sql::Null,
        (Kind::Int, Value::Number(n)) => Sql::Integer(n.as_i64().ok_or_else(|| bad("not a whole number"))?),
        (Kind::Bool, Value::Bool(b)) => Sql::Integer(*b as i64),
        (Kind::Time | Kind::OptTime, Value::String(s)) => {
            Sql::Integer(s.parse::<hearth_types::Timestamp>().map_err(|_| bad("not a time"))?.as_millisecond())
        }
        (Kind::Object, Value::Object(m)) => Sql::Text(Value::Object(m.clone()).to_string()),
        (Kind::Object, Value::Null) => Sql::Text("{}".into()),
        (Kind::Object, _) => return Err(bad("not an object")),
        (Kind::List, Value::Array(a)) => Sql::Text(Value::Array(a.clone()).to_string()),
        (Kind::List, Value::Null) => Sql::Text("[]".into()),
        (Kind::List, _) => return Err(bad("not a list")),
        _ => return Err(bad("not of this column's type")),
    };
    check_value(table, col, &sql).map_err(|why| bad(&why))?;
    Ok(sql)
}

/// Keeps the branch on screen (a chat's local `active_leaf_id`) up with pulled messages: a
/// chat without one starts at its newest root, and a leaf that gained replies elsewhere moves
/// down to the newest of them, so a conversation continued on another device shows here. The
/// walk down stops at a message it has already passed, so a loop in the tree cannot hold it.
fn follow_branch(tx: &Transaction<'_>, chat: &str) -> Result<()> {
    let Some(leaf): Option<Option<String>> =
        tx.prepare_cached("SELECT active_leaf_id FROM chats WHERE id = ?1")?.query_row([chat], |r| r.get(0)).optional()?
    else {
        return Ok(()); // the chat itself has not arrived yet
    };
    let newest_child = |parent: Option<&str>| -> Result<Option<String>> {
        Ok(tx
            .prepare_cached(
                "SELECT id FROM messages WHERE chat_id = ?1 AND parent_id IS ?2 AND deleted_at IS NULL \
                 ORDER BY created_at DESC, id DESC LIMIT 1",
            )?
            .query_row((chat, parent), |r| r.get(0))
            .optional()?)
    };
    let mut current = match leaf {
        Some(leaf) => leaf,
        None => match newest_child(None)? {
            Some(root) => root,
            None => return Ok(()),
        },
    };
    let mut passed: HashSet<String> = HashSet::from([current.clone()]);
    while let Some(child) = newest_child(Some(&current))? {
        if !passed.insert(child.clone()) || passed.len() > MAX_THREAD_DEPTH {
            break;
        }
        current = child;
    }
    tx.prepare_cached("UPDATE chats SET active_leaf_id = ?2 WHERE id = ?1 AND active_leaf_id IS NOT ?2")?.execute((chat, &current))?;
    Ok(())
}

/// Moves this device's clock past the newest stamp it has seen, so its next write is newer
/// than anything it has pulled (the HLC receive rule), but never more than
/// [`MAX_CLOCK_LEAD_MS`] past its own wall clock `now_ms`.
pub(super) fn observe(tx: &Transaction<'_>, newest: Option<Hlc>, now_ms: i64) -> Result<()> {
    let Some(mut newest) = newest else { return Ok(()) };
    let bound = (now_ms.max(0) as u64).saturating_add(MAX_CLOCK_LEAD_MS);
    if newest.wall_ms > bound {
        tracing::warn!(stamp = %newest, "sync: a pulled clock stamp is far ahead of this device's clock; the clock moves only a day ahead");
        newest = Hlc { wall_ms: bound, counter: 0, node: newest.node };
    }
    let last: Option<String> = tx.query_row("SELECT last_hlc FROM sync_clock WHERE id = 1", [], |r| r.get(0))?;
    let last: Option<Hlc> = last.and_then(|s| s.parse().ok());
    if last.is_none_or(|l| newest > l) {
        // Keep this device's node: only the time and counter are adopted.
        let node: String = tx.query_row("SELECT node FROM sync_clock WHERE id = 1", [], |r| r.get(0))?;
        if let Ok(node) = node.parse() {
            tx.execute("UPDATE sync_clock SET last_hlc = ?1 WHERE id = 1", [Hlc { node, ..newest }.to_string()])?;
        }
    }
    Ok(())
}
/// Merges one server row into the local table (see the parent module's docs for the rule).
fn apply_row(
    tx: &Transaction<'_>,
    table: Table,
    id: &str,
    row: &Map<String, Value>,
    report: &mut ApplyReport,
    newest: &mut Option<Hlc>,
) -> RowResult<()> {
    let server_hlc = stamps(row.get("field_hlc"));
    for stamp in server_hlc.values().filter_map(Value::as_str) {
        if let Ok(h) = stamp.parse::<Hlc>() {
            *newest = Some(newest.map_or(h, |n| n.max(h)));
        }
    }

    let local: Option<String> =
        tx.prepare_cached(&format!("SELECT field_hlc FROM {} WHERE id = ?1", table.as_str()))?.query_row([id], |r| r.get(0)).optional()?;
    let cols = columns(table);
    let now = now_ms();

    let Some(local) = local else {
        // A row this device has never seen: take it whole.
        let mut names: Vec<&str> = vec!["id"];
        let mut values: Vec<Sql> = vec![Sql::Text(id.to_owned())];
        for (col, kind) in cols {
            names.push(col);
            values.push(to_sql(table, col, *kind, row.get(*col))?);
        }
        if table == Table::Chats {
            // Local only: a new chat's activity starts at its creation.
            let created = values[names.iter().position(|c| *c == "created_at").unwrap_or(0)].clone();
            names.push("activity_at");
            values.push(created);
        }
        if table == Table::Documents {
            // Local only: the count of its chunks, made right after (`rebuild_chunks`).
            names.push("chunks");
            values.push(Sql::Integer(0));
        }
        names.extend(["updated_at", "field_hlc"]);
        values.extend([Sql::Integer(now), Sql::Text(Value::Object(server_hlc).to_string())]);
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            table.as_str(),
            names.join(", "),
            (1..=names.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
        );
        tx.prepare_cached(&sql)?.execute(params_from_iter(values))?;
        if table == Table::Chats {
            // Its messages may have come first (pages follow server order): their activity
            // counts, as it would have had the chat been there.
            tx.prepare_cached(
                "UPDATE chats SET activity_at = max(activity_at, coalesce((SELECT max(created_at) FROM messages WHERE chat_id = ?1), 0)) WHERE id = ?1",
            )?
            .execute([id])?;
        }
        report.inserted += 1;
        return Ok(());
    };

    // Fields with a change still waiting in the outbox.
    let mut pending: HashSet<String> = HashSet::new();
    {
        let mut stmt = tx.prepare_cached("SELECT patch FROM outbox WHERE tbl = ?1 AND row_id = ?2")?;
        let patches = stmt.query_map((table.as_str(), id), |r| r.get::<_, String>(0))?;
        for patch in patches {
            let patch: Value = serde_json::from_str(&patch?).unwrap_or(Value::Null);
            for field in stamps(patch.get("field_hlc")).keys() {
                pending.insert(field.clone());
            }
        }
    }
    let local_hlc = stamps_of(&local);
    let mut merged_hlc = server_hlc.clone();
    let mut sets: Vec<String> = Vec::new();
    let mut values: Vec<Sql> = vec![Sql::Text(id.to_owned())];
    for (col, kind) in cols {
        let keep_local = pending.contains(*col) && {
            let mine = local_hlc.get(*col).and_then(Value::as_str).unwrap_or("");
            let theirs = server_hlc.get(*col).and_then(Value::as_str).unwrap_or("");
            mine > theirs
        };
        if keep_local {
            report.kept_local += 1;
            if let Some(stamp) = local_hlc.get(*col) {
                merged_hlc.insert((*col).to_owned(), stamp.clone());
            }
            continue;
        }
        values.push(to_sql(table, col, *kind, row.get(*col))?);
        sets.push(format!("{col} = ?{}", values.len()));
    }
    values.push(Sql::Text(Value::Object(merged_hlc).to_string()));
    sets.push(format!("field_hlc = ?{}", values.len()));
    values.push(Sql::Integer(now));
    sets.push(format!("updated_at = ?{}", values.len()));
    let sql = format!("UPDATE {} SET {} WHERE id = ?1", table.as_str(), sets.join(", "));
    tx.prepare_cached(&sql)?.execute(params_from_iter(values))?;
    report.updated += 1;
    Ok(())
}
