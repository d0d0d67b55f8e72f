//! Conversions between SQLite values and Hearth's types, in both directions.
//!
//! [`Val`] is a column value that knows its SQL form (for the write) and its JSON form (for
//! the outbox patch, in the shape the server tables take: booleans as booleans, times as
//! RFC 3339). Reading rows back goes through the `get_*` helpers, which turn stored text into
//! typed ids and validated values.

use hearth_types::Timestamp;
use rusqlite::types::{FromSql, ToSqlOutput, Value};
use rusqlite::{Row, ToSql};
use uuid::Uuid;

/// Milliseconds since the Unix epoch, the form every time column stores.
pub(crate) fn now_ms() -> i64 {
    #[cfg(test)]
    if let Some(ms) = TEST_NOW_MS.get() {
        return ms;
    }
    Timestamp::now().as_millisecond()
}

#[cfg(test)]
thread_local! {
    /// The time [`now_ms`] reads on this thread while a unit test pins it, so a test can put
    /// rows at distinct times without sleeping; `None` reads the wall clock.
    pub(crate) static TEST_NOW_MS: std::cell::Cell<Option<i64>> = const { std::cell::Cell::new(None) };
}

pub(crate) fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A value for one synced column.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Text(String),
    OptText(Option<String>),
    Int(Option<i64>),
    Bool(bool),
    Time(Option<i64>),
    /// A JSON column (an object or a list), sent as JSON, stored as its text.
    Json(serde_json::Value),
}

impl Val {
    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Val::Text(s) => J::String(s.clone()),
            Val::OptText(s) => s.clone().map_or(J::Null, J::String),
            Val::Int(i) => i.map_or(J::Null, J::from),
            Val::Bool(b) => J::Bool(*b),
            Val::Time(t) => t.map_or(J::Null, |ms| J::String(ts(ms).to_string())),
            Val::Json(v) => v.clone(),
        }
    }
}

impl ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Val::Text(s) => ToSqlOutput::from(s.as_str()),
            Val::OptText(s) => s.as_deref().map_or(ToSqlOutput::Owned(Value::Null), ToSqlOutput::from),
            Val::Int(i) | Val::Time(i) => i.map_or(ToSqlOutput::Owned(Value::Null), ToSqlOutput::from),
            Val::Bool(b) => ToSqlOutput::from(*b as i64),
            Val::Json(v) => ToSqlOutput::Owned(Value::Text(v.to_string())),
        })
    }
}

fn conversion_error(col: &str, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, format!("{col}: {e}").into())
}

/// A typed id from a TEXT column.
pub(crate) fn get_id<T: From<Uuid>>(row: &Row<'_>, col: &str) -> rusqlite::Result<T> {
    let s: String = row.get(col)?;
    Uuid::parse_str(&s).map(T::from).map_err(|e| conversion_error(col, e))
}

pub(crate) fn get_opt_id<T: From<Uuid>>(row: &Row<'_>, col: &str) -> rusqlite::Result<Option<T>> {
    let s: Option<String> = row.get(col)?;
    s.map(|s| Uuid::parse_str(&s).map(T::from).map_err(|e| conversion_error(col, e))).transpose()
}

/// A value validated by its type's `FromStr`/`TryFrom<String>` (handles, timezones, roles).
pub(crate) fn get_parsed<T>(row: &Row<'_>, col: &str) -> rusqlite::Result<T>
where
    T: TryFrom<String, Error = hearth_types::ValidationError>,
{
    let s: String = row.get(col)?;
    T::try_from(s).map_err(|e| conversion_error(col, e))
}

pub(crate) fn get_time(row: &Row<'_>, col: &str) -> rusqlite::Result<Timestamp> {
    row.get::<_, i64>(col).map(ts)
}

/// A JSON column as the type it holds (an object, a list of citations).
pub(crate) fn get_json<T: serde::de::DeserializeOwned>(row: &Row<'_>, col: &str) -> rusqlite::Result<T> {
    let s: String = row.get(col)?;
    serde_json::from_str(&s).map_err(|e| conversion_error(col, e))
}

pub(crate) fn get_u32(row: &Row<'_>, col: &str) -> rusqlite::Result<Option<u32>> {
    get_opt::<i64>(row, col).map(|v| v.map(|n| n.clamp(0, u32::MAX as i64) as u32))
}

pub(crate) fn get_opt<T: FromSql>(row: &Row<'_>, col: &str) -> rusqlite::Result<Option<T>> {
    row.get(col)
}
