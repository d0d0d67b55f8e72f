//! Background jobs: durable rows the runner (hearth-core) claims, reports progress on and
//! ends. Local to the device; nothing here syncs.
//!
//! A running job's process touches `heartbeat_at` as it works. [`Writer::requeue_stale_jobs`]
//! puts back in the queue the running jobs whose heartbeat is older than a limit (their
//! process died), so they resume; [`Writer::claim_job`] takes the oldest queued one. A cancel
//! asked for a running job is a flag ([`Writer::request_job_cancel`]) that its process reads
//! with each heartbeat; a queued job is cancelled at once.

use hearth_types::{Job, JobId, JobKind, JobStatus, WorkspaceId};
use rusqlite::{OptionalExtension, Row};
use serde_json::{Map, Value};

use crate::rows::{get_id, get_json, get_opt_id, get_parsed, get_time, ts};
use crate::{Error, Reader, Result, Writer};

const COLUMNS: &str = "id, kind, status, workspace_id, input, output, done, total, message, error, attempts, \
                       cancel_requested, created_at, updated_at, started_at, finished_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Job> {
    let opt_time = |col: &str| -> rusqlite::Result<Option<hearth_types::Timestamp>> { Ok(row.get::<_, Option<i64>>(col)?.map(ts)) };
    Ok(Job {
        id: get_id(row, "id")?,
        kind: get_parsed(row, "kind")?,
        status: get_parsed(row, "status")?,
        workspace_id: get_opt_id(row, "workspace_id")?,
        input: get_json(row, "input")?,
        output: get_json(row, "output")?,
        done: row.get::<_, i64>("done")?.max(0) as u64,
        total: row.get::<_, Option<i64>>("total")?.map(|t| t.max(0) as u64),
        message: row.get("message")?,
        error: row.get("error")?,
        attempts: row.get::<_, i64>("attempts")?.max(0) as u32,
        cancel_requested: row.get::<_, i64>("cancel_requested")? != 0,
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
        started_at: opt_time("started_at")?,
        finished_at: opt_time("finished_at")?,
    })
}

fn not_found(id: JobId) -> Error {
    Error::not_found("job_id", "job", id)
}

/// How a job ends.
#[derive(Clone, Debug, PartialEq)]
pub struct JobEnd {
    pub status: JobStatus,
    pub output: Map<String, Value>,
    pub message: String,
    pub error: Option<String>,
}

/// Queues an `embed` job for a workspace unless one is already queued there: documents that
/// arrived without vectors (pulled from another device) get theirs. In the caller's
/// transaction, so the job is there exactly when the documents are.
pub(crate) fn queue_embedding(conn: &rusqlite::Connection, workspace: &str) -> Result<()> {
    let now = crate::rows::now_ms();
    conn.prepare_cached(
        "INSERT INTO jobs (id, kind, status, workspace_id, input, created_at, updated_at) \
         SELECT ?1, ?2, 'queued', ?3, '{}', ?4, ?4 \
         WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE kind = ?2 AND status = 'queued' AND workspace_id = ?3)",
    )?
    .execute(rusqlite::params![JobId::new().to_string(), JobKind::Embed.as_str(), workspace, now])?;
    Ok(())
}

impl Writer<'_> {
    /// Queues an `embed` job for the workspace when a live document of it has a chunk without
    /// a vector by `model`, unless one is queued there already. Returns whether it had such
    /// documents.
    pub fn queue_missing_embeddings(&mut self, workspace: WorkspaceId, model: &str) -> Result<bool> {
        let missing = self
            .conn()
            .prepare_cached(
                "SELECT 1 FROM documents d JOIN chunks c ON c.document_id = d.id \
                 LEFT JOIN chunk_vectors v ON v.seq = c.seq AND v.model = ?2 \
                 WHERE d.workspace_id = ?1 AND d.deleted_at IS NULL AND v.seq IS NULL LIMIT 1",
            )?
            .exists(rusqlite::params![workspace.to_string(), model])?;
        if missing {
            queue_embedding(self.conn(), &workspace.to_string())?;
        }
        Ok(missing)
    }

    /// Queues a new job.
    pub fn create_job(&mut self, kind: JobKind, workspace: Option<WorkspaceId>, input: &Map<String, Value>) -> Result<Job> {
        let id = JobId::new();
        let now = self.now_ms();
        self.conn()
            .prepare_cached(
                "INSERT INTO jobs (id, kind, status, workspace_id, input, created_at, updated_at) \
                 VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?5)",
            )?
            .execute(rusqlite::params![
                id.to_string(),
                kind.as_str(),
                workspace.map(|w| w.to_string()),
                Value::Object(input.clone()).to_string(),
                now
            ])?;
        self.read().job(id)
    }

    /// Takes the oldest queued job (of `kinds`) for this process: it becomes `running`, one
    /// more attempt, its heartbeat now. `only`: that job alone (a command running its own).
    pub fn claim_job(&mut self, kinds: &[JobKind], only: Option<JobId>) -> Result<Option<Job>> {
        let now = self.now_ms();
        let queued: Vec<(String, String)> = self
            .conn()
            .prepare_cached("SELECT id, kind FROM jobs WHERE status = 'queued' ORDER BY created_at, id")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let pick =
            queued.into_iter().find(|(id, kind)| only.is_none_or(|o| o.to_string() == *id) && kinds.iter().any(|k| k.as_str() == kind));
        let Some((id, _)) = pick else { return Ok(None) };
        self.conn()
            .prepare_cached(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, heartbeat_at = ?2, updated_at = ?2, \
                 started_at = coalesce(started_at, ?2) WHERE id = ?1",
            )?
            .execute(rusqlite::params![id, now])?;
        let id = JobId::parse_field(&id, "job_id")?;
        Ok(Some(self.read().job(id)?))
    }

    /// Records a running job's progress and touches its heartbeat. Returns whether a cancel
    /// was asked for; `Err(NotFound)` when the job is no longer running here (another process
    /// re-queued it as stale, or it was deleted).
    pub fn job_progress(&mut self, id: JobId, done: u64, total: Option<u64>, message: &str) -> Result<bool> {
        let now = self.now_ms();
        let cancel: Option<i64> = self
            .conn()
            .prepare_cached(
                "UPDATE jobs SET done = ?2, total = ?3, message = ?4, heartbeat_at = ?5, updated_at = ?5 \
                 WHERE id = ?1 AND status = 'running' RETURNING cancel_requested",
            )?
            .query_row(rusqlite::params![id.to_string(), done as i64, total.map(|t| t as i64), message, now], |r| r.get(0))
            .optional()?;
        cancel.map(|c| c != 0).ok_or_else(|| not_found(id))
    }

    /// Ends a running job. `Err(NotFound)` when it is not running (see [`Self::job_progress`]).
    pub fn finish_job(&mut self, id: JobId, end: &JobEnd) -> Result<Job> {
        let now = self.now_ms();
        let changed = self
            .conn()
            .prepare_cached(
                "UPDATE jobs SET status = ?2, output = ?3, message = ?4, error = ?5, finished_at = ?6, updated_at = ?6, \
                 heartbeat_at = NULL WHERE id = ?1 AND status = 'running'",
            )?
            .execute(rusqlite::params![
                id.to_string(),
                end.status.as_str(),
                Value::Object(end.output.clone()).to_string(),
                end.message,
                end.error,
                now
            ])?;
        if changed == 0 {
            return Err(not_found(id));
        }
        self.read().job(id)
    }

    /// Asks a job to stop: a queued one is cancelled now; a running one is flagged, and its
    /// process stops it at its next heartbeat. A finished one is left as it is.
    pub fn request_job_cancel(&mut self, id: JobId) -> Result<Job> {
        let job = self.read().job(id)?;
        let now = self.now_ms();
        match job.status {
            JobStatus::Queued => {
                self.conn()
                    .prepare_cached(
                        "UPDATE jobs SET status = 'cancelled', message = 'cancelled before it started', finished_at = ?2, \
                         updated_at = ?2 WHERE id = ?1",
                    )?
                    .execute(rusqlite::params![id.to_string(), now])?;
            }
            JobStatus::Running => {
                self.conn()
                    .prepare_cached("UPDATE jobs SET cancel_requested = 1, updated_at = ?2 WHERE id = ?1")?
                    .execute(rusqlite::params![id.to_string(), now])?;
            }
            _ => {}
        }
        self.read().job(id)
    }

    /// Puts a running job of this process back in the queue (the app is stopping): the next
    /// start resumes it.
    pub fn requeue_job(&mut self, id: JobId) -> Result<()> {
        let now = self.now_ms();
        self.conn()
            .prepare_cached(
                "UPDATE jobs SET status = 'queued', message = 'queued again: the app stopped while it ran', \
                 updated_at = ?2, heartbeat_at = NULL WHERE id = ?1 AND status = 'running'",
            )?
            .execute(rusqlite::params![id.to_string(), now])?;
        Ok(())
    }

    /// Puts back in the queue the running jobs whose heartbeat is more than `stale_ms` old
    /// (their process stopped) and that `keep` (this process's own) does not name; a cancel
    /// asked of one ends it as cancelled instead. Returns how many were re-queued or ended.
    pub fn requeue_stale_jobs(&mut self, stale_ms: i64, keep: &[JobId]) -> Result<u64> {
        let cutoff = self.now_ms() - stale_ms;
        let stale: Vec<(String, i64)> = self
            .conn()
            .prepare_cached("SELECT id, cancel_requested FROM jobs WHERE status = 'running' AND coalesce(heartbeat_at, 0) < ?1")?
            .query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let now = self.now_ms();
        let mut n = 0;
        for (id, cancel) in stale {
            if keep.iter().any(|k| k.to_string() == id) {
                continue;
            }
            let sql = if cancel != 0 {
                "UPDATE jobs SET status = 'cancelled', message = 'cancelled', finished_at = ?2, updated_at = ?2, \
                 heartbeat_at = NULL WHERE id = ?1"
            } else {
                "UPDATE jobs SET status = 'queued', message = 'queued again: the app stopped while it ran', \
                 updated_at = ?2, heartbeat_at = NULL WHERE id = ?1"
            };
            n += self.conn().prepare_cached(sql)?.execute(rusqlite::params![id, now])? as u64;
        }
        Ok(n)
    }
}

impl Reader<'_> {
    pub fn job(&self, id: JobId) -> Result<Job> {
        self.conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"))?
            .query_row([id.to_string()], from_row)
            .optional()?
            .ok_or_else(|| not_found(id))
    }

    /// Jobs, newest first: the live ones and the last `limit` overall.
    pub fn jobs(&self, limit: u32) -> Result<Vec<Job>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM jobs WHERE status IN ('queued', 'running') \
             OR id IN (SELECT id FROM jobs ORDER BY created_at DESC, id DESC LIMIT ?1) \
             ORDER BY created_at DESC, id DESC"
        ))?;
        Ok(stmt.query_map([limit], from_row)?.collect::<rusqlite::Result<_>>()?)
    }
}
