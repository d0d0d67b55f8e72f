//! The write transaction: HLC stamps, the outbox, and the generic insert/update of synced rows.
//!
//! A [`Writer`] is one user action. The first change it makes reads the device's clock row,
//! ticks the hybrid logical clock once and takes the next `tx_seq`; every field it then writes
//! is stamped with that HLC in the row's `field_hlc`, and every row it changes gets an outbox
//! entry under that `tx_seq`. The clock row update, the changes and the outbox entries are in
//! the same SQLite transaction, so they commit together or vanish together.

use hearth_types::{Hlc, NodeId, ValidationError};
use rusqlite::{Connection, Transaction, TransactionBehavior, params_from_iter};
use serde_json::{Map, Value};

use crate::rows::{Val, now_ms, ts};
use crate::{Error, Reader, Result};

hearth_types::text_enum! {
    /// The synced tables.
    pub(crate) enum Table: "table" {
        Workspaces = "workspaces",
        Chats = "chats",
        Messages = "messages",
        Workflows = "workflows",
        Documents = "documents",
    }
}

/// The stamp and transaction identity shared by every change in one action.
#[derive(Clone, Copy, Debug)]
struct Action {
    hlc: Hlc,
    tx_seq: i64,
    tx_id: uuid::Uuid,
}

/// One pending change in the outbox, as sync will push it.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    /// The user action this change belongs to; sync pushes one action as one transaction.
    pub tx_seq: i64,
    /// The same action's globally unique id (UUIDv7), safe against copied or restored files.
    pub tx_id: String,
    pub table: String,
    pub row_id: String,
    /// `{"id": ..., <changed fields>, "field_hlc": {field: stamp}}`.
    pub patch: Value,
    pub created_at: hearth_types::Timestamp,
}

/// A write transaction: the only way to change a synced table. See the module docs.
#[derive(Debug)]
pub struct Writer<'c> {
    tx: Transaction<'c>,
    now_ms: i64,
    action: Option<Action>,
}

impl<'c> Writer<'c> {
    pub(crate) fn begin(conn: &'c mut Connection) -> Result<Self> {
        // IMMEDIATE takes the write lock now, under the busy timeout, instead of failing
        // later when a read transaction tries to upgrade.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        Ok(Writer { tx, now_ms: now_ms(), action: None })
    }

    pub(crate) fn commit(self) -> Result<()> {
        self.tx.commit()?;
        Ok(())
    }

    /// Read access inside this transaction (it sees this transaction's own changes).
    pub fn read(&self) -> Reader<'_> {
        Reader { conn: &self.tx }
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.tx
    }

    /// The wall time this action records as `created_at`/`updated_at`.
    pub(crate) fn now_ms(&self) -> i64 {
        self.now_ms
    }

    fn action(&mut self) -> Result<Action> {
        if let Some(a) = self.action {
            return Ok(a);
        }
        let (node, last, tx_seq): (String, Option<String>, i64) = self
            .tx
            .prepare_cached("SELECT node, last_hlc, next_tx_seq FROM sync_clock WHERE id = 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        let node: NodeId = node.parse().map_err(corrupt_clock)?;
        let last: Option<Hlc> = last.map(|s| s.parse()).transpose().map_err(corrupt_clock)?;
        let hlc = Hlc::tick(last, self.now_ms.max(0) as u64, node);
        self.tx
            .prepare_cached("UPDATE sync_clock SET last_hlc = ?1, next_tx_seq = ?2 + 1 WHERE id = 1")?
            .execute((hlc.to_string(), tx_seq))?;
        let action = Action { hlc, tx_seq, tx_id: uuid::Uuid::now_v7() };
        self.action = Some(action);
        Ok(action)
    }

    /// Inserts a synced row. `synced` fields are stamped and go to the outbox; `local` columns
    /// (such as a chat's `activity_at`) are written but never leave the device.
    pub(crate) fn insert(&mut self, table: Table, id: &str, synced: &[(&str, Val)], local: &[(&str, Val)]) -> Result<()> {
        let action = self.action()?;
        let stamp = action.hlc.to_string();
        let field_hlc: Map<String, Value> = synced.iter().map(|(c, _)| ((*c).to_owned(), Value::String(stamp.clone()))).collect();

        let cols = synced.iter().chain(local).map(|(c, _)| *c).collect::<Vec<_>>();
        let sql = format!(
            "INSERT INTO {} (id, {}, created_at, updated_at, field_hlc) VALUES (?1, {}, ?{n}, ?{n}, ?{m})",
            table.as_str(),
            cols.join(", "),
            (2..cols.len() + 2).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", "),
            n = cols.len() + 2,
            m = cols.len() + 3,
        );
        let field_hlc_text = Value::Object(field_hlc.clone()).to_string();
        let mut values: Vec<&dyn rusqlite::ToSql> = vec![&id];
        values.extend(synced.iter().chain(local).map(|(_, v)| v as &dyn rusqlite::ToSql));
        values.push(&self.now_ms);
        values.push(&field_hlc_text);
        self.tx.prepare_cached(&sql)?.execute(params_from_iter(values))?;

        let mut patch = Map::new();
        patch.insert("id".into(), Value::String(id.to_owned()));
        for (c, v) in synced {
            patch.insert((*c).to_owned(), v.to_json());
        }
        patch.insert("created_at".into(), Value::String(ts(self.now_ms).to_string()));
        patch.insert("field_hlc".into(), Value::Object(field_hlc));
        self.append_outbox(action, table, id, patch)
    }

    /// Updates synced fields of one live or tombstoned row, stamping each, and records the
    /// change in the outbox. Callers check the row exists first so they can name the field.
    pub(crate) fn update(&mut self, table: Table, id: &str, synced: &[(&str, Val)]) -> Result<()> {
        if synced.is_empty() {
            return Ok(());
        }
        let action = self.action()?;
        let stamp = action.hlc.to_string();
        let n = synced.len();
        let sets = synced.iter().enumerate().map(|(i, (c, _))| format!("{c} = ?{}", i + 2)).collect::<Vec<_>>();
        let hlc_paths = synced.iter().map(|(c, _)| format!("'$.{c}', ?{}", n + 3)).collect::<Vec<_>>();
        let sql = format!(
            "UPDATE {} SET {}, updated_at = ?{}, field_hlc = json_set(field_hlc, {}) WHERE id = ?1",
            table.as_str(),
            sets.join(", "),
            n + 2,
            hlc_paths.join(", "),
        );
        let mut values: Vec<&dyn rusqlite::ToSql> = vec![&id];
        values.extend(synced.iter().map(|(_, v)| v as &dyn rusqlite::ToSql));
        values.push(&self.now_ms);
        values.push(&stamp);
        let changed = self.tx.prepare_cached(&sql)?.execute(params_from_iter(values))?;
        if changed != 1 {
            return Err(Error::not_found("id", table.as_str().trim_end_matches('s'), id));
        }

        let mut patch = Map::new();
        patch.insert("id".into(), Value::String(id.to_owned()));
        let mut field_hlc = Map::new();
        for (c, v) in synced {
            patch.insert((*c).to_owned(), v.to_json());
            field_hlc.insert((*c).to_owned(), Value::String(stamp.clone()));
        }
        patch.insert("field_hlc".into(), Value::Object(field_hlc));
        self.append_outbox(action, table, id, patch)
    }

    /// Marks a row deleted. The row stays (a tombstone) so that sync can tell other devices.
    pub(crate) fn tombstone(&mut self, table: Table, id: &str) -> Result<()> {
        let now = self.now_ms;
        self.update(table, id, &[("deleted_at", Val::Time(Some(now)))])
    }

    fn append_outbox(&mut self, action: Action, table: Table, id: &str, patch: Map<String, Value>) -> Result<()> {
        self.tx
            .prepare_cached("INSERT INTO outbox (tx_seq, tx_id, tbl, row_id, patch, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
            .execute((action.tx_seq, action.tx_id.to_string(), table.as_str(), id, Value::Object(patch).to_string(), self.now_ms))?;
        Ok(())
    }
}

fn corrupt_clock(e: ValidationError) -> Error {
    Error::Sqlite(rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

/// One outbox row from `SELECT id, tx_seq, tx_id, tbl, row_id, patch, created_at`.
pub(crate) fn outbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    let patch: String = r.get(5)?;
    Ok(OutboxRow {
        id: r.get(0)?,
        tx_seq: r.get(1)?,
        tx_id: r.get(2)?,
        table: r.get(3)?,
        row_id: r.get(4)?,
        patch: serde_json::from_str(&patch).unwrap_or(Value::Null),
        created_at: ts(r.get(6)?),
    })
}

impl Reader<'_> {
    /// The oldest `limit` pending changes.
    pub fn outbox(&self, limit: u32) -> Result<Vec<OutboxRow>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT id, tx_seq, tx_id, tbl, row_id, patch, created_at FROM outbox ORDER BY id LIMIT ?1")?;
        let rows = stmt.query_map([limit], outbox_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many changes wait in the outbox.
    pub fn outbox_len(&self) -> Result<u64> {
        Ok(self.conn.prepare_cached("SELECT count(*) FROM outbox")?.query_row([], |r| r.get(0))?)
    }
}
