//! The registry of local model files. Local only: plain writes, no HLC, no outbox.

use hearth_types::{LocalModel, ModelId, NewModel};
use rusqlite::{OptionalExtension, Row};

use crate::rows::{get_id, get_opt, get_parsed, get_time};
use crate::{Error, Reader, Result, Writer};

/// The settings key that names the default model.
const DEFAULT_KEY: &str = "default_model";

const COLUMNS: &str = "id, name, path, size, sha256, architecture, parameters, quantization, context_length, \
                       chat_template, source, created_at";

fn from_row(row: &Row<'_>, default: Option<&str>) -> rusqlite::Result<LocalModel> {
    let name: String = row.get("name")?;
    Ok(LocalModel {
        id: get_id(row, "id")?,
        is_default: default == Some(name.as_str()),
        name,
        path: row.get::<_, String>("path")?.into(),
        size: row.get::<_, i64>("size")?.max(0) as u64,
        sha256: row.get("sha256")?,
        architecture: row.get("architecture")?,
        parameters: row.get::<_, i64>("parameters")?.max(0) as u64,
        quantization: row.get("quantization")?,
        context_length: get_opt::<i64>(row, "context_length")?.map(|n| n.max(0) as u64),
        chat_template: get_opt(row, "chat_template")?,
        source: get_parsed(row, "source")?,
        created_at: get_time(row, "created_at")?,
    })
}

impl Writer<'_> {
    /// Registers a model file under a name not yet taken.
    pub fn register_model(&mut self, new: &NewModel) -> Result<LocalModel> {
        if self.read().model(&new.name).is_ok() {
            return Err(Error::Conflict { field: "name", message: format!("a model named {:?} is already registered", new.name) });
        }
        let id = ModelId::new();
        let path = new.path.to_str().ok_or_else(|| Error::Invalid(hearth_types::ValidationError::new("path", "must be valid UTF-8")))?;
        self.conn()
            .prepare_cached(&format!("INSERT INTO models ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"))?
            .execute(rusqlite::params![
                id.to_string(),
                new.name,
                path,
                new.size.min(i64::MAX as u64) as i64,
                new.sha256,
                new.architecture,
                new.parameters.min(i64::MAX as u64) as i64,
                new.quantization,
                new.context_length.map(|n| n.min(i64::MAX as u64) as i64),
                new.chat_template,
                new.source.as_str(),
                self.now_ms(),
            ])?;
        tracing::info!(model = %new.name, "registered model");
        self.read().model(&new.name)
    }

    /// Forgets a model (the file stays where it is). It stops being the default.
    pub fn remove_model(&mut self, name: &str) -> Result<()> {
        self.read().model(name)?;
        self.conn().prepare_cached("DELETE FROM models WHERE name = ?1")?.execute([name])?;
        if self.read().default_model_name()?.as_deref() == Some(name) {
            self.conn().prepare_cached("DELETE FROM settings WHERE key = ?1")?.execute([DEFAULT_KEY])?;
        }
        Ok(())
    }

    pub fn set_default_model(&mut self, name: &str) -> Result<LocalModel> {
        self.read().model(name)?;
        self.set_setting(DEFAULT_KEY, &serde_json::Value::String(name.to_owned()))?;
        self.read().model(name)
    }
}

impl Reader<'_> {
    pub fn model(&self, name: &str) -> Result<LocalModel> {
        let default = self.default_model_name()?;
        self.conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM models WHERE name = ?1"))?
            .query_row([name], |r| from_row(r, default.as_deref()))
            .optional()?
            .ok_or_else(|| Error::NotFound { field: "model", entity: "model", id: name.to_owned() })
    }

    /// Every registered model, by name.
    pub fn models(&self) -> Result<Vec<LocalModel>> {
        let default = self.default_model_name()?;
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM models ORDER BY name"))?;
        let rows = stmt.query_map([], |r| from_row(r, default.as_deref()))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn default_model_name(&self) -> Result<Option<String>> {
        Ok(self.setting(DEFAULT_KEY)?.and_then(|v| v.as_str().map(str::to_owned)))
    }
}
