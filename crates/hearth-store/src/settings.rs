//! Local settings: a key and a JSON value. They never sync.

use rusqlite::OptionalExtension;
use serde_json::Value;

use crate::{Reader, Result, Writer};

impl Writer<'_> {
    pub fn set_setting(&mut self, key: &str, value: &Value) -> Result<()> {
        self.conn()
            .prepare_cached("INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")?
            .execute((key, value.to_string()))?;
        Ok(())
    }
}

impl Reader<'_> {
    pub fn setting(&self, key: &str) -> Result<Option<Value>> {
        let text: Option<String> =
            self.conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")?.query_row([key], |r| r.get(0)).optional()?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Every setting, by key.
    pub fn settings(&self) -> Result<serde_json::Map<String, Value>> {
        let mut stmt = self.conn.prepare_cached("SELECT key, value FROM settings ORDER BY key")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = serde_json::Map::new();
        for row in rows {
            let (key, text) = row?;
            out.insert(key, serde_json::from_str(&text).unwrap_or(Value::Null));
        }
        Ok(out)
    }
}
