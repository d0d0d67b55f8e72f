//! The wire: the `sync_push` and `sync_pull` RPCs and plain row reads, through the
//! `postgrest` client, with the project's anon key and the user's token.
//!
//! Errors are sorted by what the engine should do: [`Error::Offline`] (retry with backoff),
//! [`Error::Unauthorized`] (refresh the session, then retry), [`Error::Server`] (retry when
//! 5xx), anything else (stop and tell the user).

use std::time::Duration;

use hearth_store::{Cursor, PendingTx, PulledRow, TxOutcome};
use postgrest::Postgrest;
use serde_json::{Value, json};

use crate::auth::{MAX_BODY_BYTES, message, offline, read_body};
use crate::{Error, PROTOCOL_VERSION, Result};

/// A PostgREST root with the project's anon key.
#[derive(Clone)]
pub(crate) struct Rest {
    client: Postgrest,
    root: String,
    timeout: Duration,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest").field("root", &self.root).finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct WirePage {
    rows: Vec<WireRow>,
    next: WireCursor,
    has_more: bool,
    head: i64,
}

#[derive(serde::Deserialize)]
struct WireRow {
    t: String,
    r: serde_json::Map<String, Value>,
}

#[derive(serde::Deserialize)]
struct WireCursor {
    version: i64,
    id: String,
}

/// One pull page.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) rows: Vec<PulledRow>,
    pub(crate) next: Cursor,
    pub(crate) has_more: bool,
    pub(crate) head: i64,
}

impl Rest {
    pub(crate) fn new(root: &str, anon_key: Option<&str>, timeout: Duration) -> Self {
        let mut client = Postgrest::new(root);
        if let Some(key) = anon_key {
            // Checked printable ASCII at connect time, so the header cannot be refused.
            client = client.insert_header("apikey", key);
        }
        Rest { client, root: root.to_owned(), timeout }
    }

    /// Pushes whole transactions; their outcomes in the order sent.
    pub(crate) async fn push(&self, token: &str, client_id: &str, txs: &[PendingTx]) -> Result<Vec<(i64, TxOutcome)>> {
        let body = json!({
            "p_client_id": client_id,
            "p_schema_version": PROTOCOL_VERSION,
            "p_txs": txs.iter().map(|tx| json!({
                "tx_seq": tx.tx_seq,
                "ops": tx.changes.iter().map(|c| json!({ "table": c.table, "row": c.patch })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        let answer = self.rpc(token, "sync_push", body).await?;
        match answer.get("status").and_then(Value::as_str) {
            Some("ok") => {}
            Some("upgrade_required") => return Err(Error::Schema(format!("the server needs protocol {}", answer["min_schema"]))),
            _ => return Err(Error::Protocol(format!("sync_push: {answer}"))),
        }
        let results = answer.get("results").and_then(Value::as_array).ok_or_else(|| Error::Protocol(format!("sync_push: {answer}")))?;
        let mut outcomes = Vec::with_capacity(results.len());
        for r in results {
            let seq = r.get("tx_seq").and_then(Value::as_i64).ok_or_else(|| Error::Protocol(format!("sync_push result: {r}")))?;
            let outcome = match r.get("status").and_then(Value::as_str) {
                Some("applied") => TxOutcome::Applied,
                Some("duplicate") => TxOutcome::Duplicate,
                Some("rejected") => TxOutcome::Rejected {
                    sqlstate: r.get("sqlstate").and_then(Value::as_str).map(str::to_owned),
                    message: r.get("message").and_then(Value::as_str).unwrap_or("refused").to_owned(),
                },
                _ => return Err(Error::Protocol(format!("sync_push result: {r}"))),
            };
            outcomes.push((seq, outcome));
        }
        Ok(outcomes)
    }

    /// The page of changes after `cursor`.
    pub(crate) async fn pull(&self, token: &str, cursor: &Cursor, limit: u32) -> Result<Page> {
        let body = json!({ "p_since_version": cursor.version, "p_since_id": cursor.id, "p_limit": limit });
        let text = self.rpc_text(token, "sync_pull", body).await?;
        // Parsed straight into rows (a page is megabytes; no intermediate `Value` tree).
        let wire: WirePage = serde_json::from_str(&text)
            .map_err(|e| Error::Protocol(format!("sync_pull: {e}: {}", text.chars().take(200).collect::<String>())))?;
        Ok(Page {
            rows: wire.rows.into_iter().map(|r| PulledRow { table: r.t, row: r.r }).collect(),
            next: Cursor { version: wire.next.version, id: wire.next.id },
            has_more: wire.has_more,
            head: wire.head,
        })
    }

    /// The server's current state of some rows of one table.
    pub(crate) async fn rows(&self, token: &str, table: &str, ids: &[String]) -> Result<Vec<PulledRow>> {
        let request = self.client.from(table).auth(token).select("*").in_("id", ids).build().timeout(self.timeout);
        let answer = self.send(request, table).await?;
        let rows = answer.as_array().ok_or_else(|| Error::Protocol(format!("{table}: expected rows")))?;
        Ok(rows.iter().filter_map(Value::as_object).map(|r| PulledRow { table: table.to_owned(), row: r.clone() }).collect())
    }

    async fn rpc(&self, token: &str, name: &str, body: Value) -> Result<Value> {
        let text = self.rpc_text(token, name, body).await?;
        serde_json::from_str(&text).map_err(|e| Error::Protocol(format!("{name}: {e}")))
    }

    async fn rpc_text(&self, token: &str, name: &str, body: Value) -> Result<String> {
        let request = self.client.rpc(name, body.to_string()).auth(token).build().timeout(self.timeout);
        self.send_text(request, name).await
    }

    async fn send(&self, request: reqwest011::RequestBuilder, what: &str) -> Result<Value> {
        let text = self.send_text(request, what).await?;
        serde_json::from_str(&text).map_err(|e| Error::Protocol(format!("{what}: {e}")))
    }

    /// The body of a successful answer; errors sorted as the module docs say.
    async fn send_text(&self, request: reqwest011::RequestBuilder, what: &str) -> Result<String> {
        let url = format!("{}/{what}", self.root);
        let response = request.send().await.map_err(|e| offline(&url, &e))?;
        let status = response.status().as_u16();
        let text = read_body(&url, response, MAX_BODY_BYTES).await?;
        match status {
            200..=299 => Ok(text),
            401 => Err(Error::Unauthorized { detail: message(&text) }),
            // PostgREST answers a missing function (an old or absent schema) with 404/PGRST202.
            404 if text.contains("PGRST202") || text.contains("function") => Err(Error::Schema(message(&text))),
            _ => Err(Error::Server { status, message: message(&text) }),
        }
    }
}
