//! Remote providers, the call log and the price table. Local only: plain writes, no HLC, no
//! outbox. Checking a provider (its kind, its base URL) is Core's job; this is storage.

use hearth_types::{NewCall, Price, Provider, ProviderPatch, Timestamp, UsageRow};
use rusqlite::{OptionalExtension, Row, params};
use serde_json::Value;

use crate::rows::{get_json, get_time, ts};
use crate::{Error, Reader, Result, Writer};

const COLUMNS: &str = "name, kind, base_url, default_model, headers, enabled, models, models_fetched_at, created_at, updated_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Provider> {
    let models: String = row.get("models")?;
    Ok(Provider {
        name: row.get("name")?,
        kind: row.get("kind")?,
        base_url: row.get("base_url")?,
        default_model: row.get("default_model")?,
        headers: get_json(row, "headers")?,
        enabled: row.get::<_, i64>("enabled")? != 0,
        models: serde_json::from_str(&models).unwrap_or_default(),
        models_fetched_at: row.get::<_, Option<i64>>("models_fetched_at")?.map(ts),
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
    })
}

fn not_found(name: &str) -> Error {
    Error::NotFound { field: "provider", entity: "provider", id: name.to_owned() }
}

impl Writer<'_> {
    /// Adds a provider under a name not yet taken.
    pub fn add_provider(&mut self, p: &Provider) -> Result<Provider> {
        if self.read().provider(&p.name).is_ok() {
            return Err(Error::Conflict { field: "name", message: format!("a provider named {:?} exists already", p.name) });
        }
        let now = self.now_ms();
        self.conn()
            .prepare_cached(&format!("INSERT INTO providers ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, '[]', NULL, ?7, ?7)"))?
            .execute(params![
                p.name,
                p.kind,
                p.base_url,
                p.default_model,
                Value::Object(p.headers.clone()).to_string(),
                p.enabled as i64,
                now
            ])?;
        self.read().provider(&p.name)
    }

    pub fn update_provider(&mut self, name: &str, patch: &ProviderPatch) -> Result<Provider> {
        let mut p = self.read().provider(name)?;
        if let Some(url) = &patch.base_url {
            p.base_url = url.clone();
        }
        if let Some(model) = &patch.default_model {
            p.default_model = model.clone();
        }
        if let Some(headers) = &patch.headers {
            p.headers = headers.clone();
        }
        if let Some(enabled) = patch.enabled {
            p.enabled = enabled;
        }
        let now = self.now_ms();
        self.conn()
            .prepare_cached(
                "UPDATE providers SET base_url = ?2, default_model = ?3, headers = ?4, enabled = ?5, updated_at = ?6 WHERE name = ?1",
            )?
            .execute(params![name, p.base_url, p.default_model, Value::Object(p.headers).to_string(), p.enabled as i64, now])?;
        self.read().provider(name)
    }

    /// Keeps the model list a provider answered with.
    pub fn set_provider_models(&mut self, name: &str, models: &[String]) -> Result<Provider> {
        self.read().provider(name)?;
        let now = self.now_ms();
        self.conn().prepare_cached("UPDATE providers SET models = ?2, models_fetched_at = ?3 WHERE name = ?1")?.execute(params![
            name,
            serde_json::to_string(models).expect("strings serialize"),
            now
        ])?;
        self.read().provider(name)
    }

    pub fn remove_provider(&mut self, name: &str) -> Result<()> {
        match self.conn().prepare_cached("DELETE FROM providers WHERE name = ?1")?.execute([name])? {
            0 => Err(not_found(name)),
            _ => Ok(()),
        }
    }

    /// Logs one model call.
    pub fn record_call(&mut self, call: &NewCall) -> Result<()> {
        let now = self.now_ms();
        let clamp = |n: u64| n.min(i64::MAX as u64) as i64;
        self.conn()
            .prepare_cached(
                "INSERT INTO calls (at, provider, model, prompt_tokens, completion_tokens, ttft_ms, duration_ms, outcome, error) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                now,
                call.provider,
                call.model,
                call.prompt_tokens,
                call.completion_tokens,
                call.time_to_first_token_ms.map(clamp),
                clamp(call.duration_ms),
                call.outcome.as_str(),
                call.error,
            ])?;
        Ok(())
    }

    /// Sets (or replaces) a price.
    pub fn set_price(&mut self, price: &Price) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT INTO prices (provider, model, input_per_million, output_per_million) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (provider, model) DO UPDATE SET input_per_million = ?3, output_per_million = ?4",
            )?
            .execute(params![price.provider, price.model, price.input_per_million, price.output_per_million])?;
        Ok(())
    }

    pub fn remove_price(&mut self, provider: &str, model: &str) -> Result<()> {
        match self.conn().prepare_cached("DELETE FROM prices WHERE provider = ?1 AND model = ?2")?.execute([provider, model])? {
            0 => Err(Error::NotFound { field: "model", entity: "price", id: format!("{provider}/{model}") }),
            _ => Ok(()),
        }
    }
}

impl Reader<'_> {
    pub fn provider(&self, name: &str) -> Result<Provider> {
        self.conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM providers WHERE name = ?1"))?
            .query_row([name], from_row)
            .optional()?
            .ok_or_else(|| not_found(name))
    }

    /// Every provider, by name.
    pub fn providers(&self) -> Result<Vec<Provider>> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM providers ORDER BY name"))?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Calls since `since` summed per UTC day, provider and model, newest day first. Cost uses
    /// the model's price, else the provider's `*` price; local models are free unless priced.
    pub fn usage(&self, since: Option<Timestamp>) -> Result<Vec<UsageRow>> {
        let since = since.map_or(0, |t| t.as_millisecond());
        let mut stmt = self.conn.prepare_cached(
            "SELECT strftime('%Y-%m-%d', c.at / 1000, 'unixepoch') AS day, c.provider, c.model, \
                    count(*) AS calls, sum(c.outcome = 'error') AS errors, \
                    sum(c.prompt_tokens) AS prompt_tokens, sum(c.completion_tokens) AS completion_tokens, \
                    avg(c.ttft_ms) AS ttft, sum(c.duration_ms) AS duration_ms, \
                    coalesce(p.input_per_million, w.input_per_million, CASE WHEN c.provider = 'local' THEN 0.0 END) AS input_price, \
                    coalesce(p.output_per_million, w.output_per_million, CASE WHEN c.provider = 'local' THEN 0.0 END) AS output_price \
             FROM calls c \
             LEFT JOIN prices p ON p.provider = c.provider AND p.model = c.model \
             LEFT JOIN prices w ON w.provider = c.provider AND w.model = '*' \
             WHERE c.at >= ?1 \
             GROUP BY day, c.provider, c.model \
             ORDER BY day DESC, c.provider, c.model",
        )?;
        let rows = stmt.query_map([since], |r| {
            let prompt: i64 = r.get("prompt_tokens")?;
            let completion: i64 = r.get("completion_tokens")?;
            let input: Option<f64> = r.get("input_price")?;
            let output: Option<f64> = r.get("output_price")?;
            Ok(UsageRow {
                day: r.get("day")?,
                provider: r.get("provider")?,
                model: r.get("model")?,
                calls: r.get::<_, i64>("calls")?.max(0) as u64,
                errors: r.get::<_, i64>("errors")?.max(0) as u64,
                prompt_tokens: prompt.max(0) as u64,
                completion_tokens: completion.max(0) as u64,
                avg_time_to_first_token_ms: r.get("ttft")?,
                duration_ms: r.get::<_, i64>("duration_ms")?.max(0) as u64,
                cost: input.zip(output).map(|(i, o)| (prompt as f64 * i + completion as f64 * o) / 1e6),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many calls have been logged (for tests and status).
    pub fn call_count(&self) -> Result<u64> {
        Ok(self.conn.prepare_cached("SELECT count(*) FROM calls")?.query_row([], |r| r.get::<_, i64>(0))?.max(0) as u64)
    }

    pub fn prices(&self) -> Result<Vec<Price>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT provider, model, input_per_million, output_per_million FROM prices ORDER BY provider, model")?;
        let rows = stmt.query_map([], |r| {
            Ok(Price { provider: r.get(0)?, model: r.get(1)?, input_per_million: r.get(2)?, output_per_million: r.get(3)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
