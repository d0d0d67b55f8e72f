//! Workflows, their runs, node runs and run events.
//!
//! Workflows sync like the other data: every write is stamped and queued in the outbox, the
//! whole graph being one field (the last saved graph wins as a unit). A delete is a
//! tombstone, so the runs that name a deleted workflow still read. Runs never sync.
//! Runs are written by the engine's recorder in batches: [`Writer::save_run`] upserts the run
//! row and the node rows it is given and appends events, in the caller's transaction, so a
//! batch lands whole or not at all.

use hearth_types::{
    Graph, NewWorkflow, NodeRun, Run, RunDetail, RunEvent, RunEventKind, RunId, RunStatus, Workflow, WorkflowId, WorkflowPatch,
};
use rusqlite::{OptionalExtension, Row};
use serde_json::Value;

use crate::rows::{Val, get_id, get_json, get_opt_id, get_parsed, get_time, ts};
use crate::writer::Table;
use crate::{Error, Reader, Result, Writer};

const COLUMNS: &str = "id, name, description, graph, created_at, updated_at";
const RUN_COLUMNS: &str = "id, workflow_id, workflow_name, status, inputs, outputs, error, steps, prompt_tokens, \
                           completion_tokens, started_at, finished_at";
const NODE_COLUMNS: &str = "node_id, node_type, status, attempts, inputs, outputs, error, started_at, finished_at, \
                            prompt_tokens, completion_tokens";

/// What an interrupted run says: the app stopped while it ran.
pub const INTERRUPTED: &str = "interrupted: the app stopped while this run was going";

fn u32_of(row: &Row<'_>, col: &str) -> rusqlite::Result<u32> {
    Ok(row.get::<_, i64>(col)?.clamp(0, u32::MAX as i64) as u32)
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Workflow> {
    Ok(Workflow {
        id: get_id(row, "id")?,
        name: row.get("name")?,
        description: row.get("description")?,
        graph: get_json(row, "graph")?,
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
    })
}

fn duration(start: i64, end: Option<i64>) -> Option<u64> {
    end.map(|e| (e - start).max(0) as u64)
}

fn run_from_row(row: &Row<'_>) -> rusqlite::Result<Run> {
    let started: i64 = row.get("started_at")?;
    let finished: Option<i64> = row.get("finished_at")?;
    Ok(Run {
        id: get_id(row, "id")?,
        workflow_id: get_opt_id(row, "workflow_id")?,
        workflow_name: row.get("workflow_name")?,
        status: get_parsed(row, "status")?,
        inputs: get_json(row, "inputs")?,
        outputs: get_json(row, "outputs")?,
        error: row.get("error")?,
        steps: u32_of(row, "steps")?,
        prompt_tokens: u32_of(row, "prompt_tokens")?,
        completion_tokens: u32_of(row, "completion_tokens")?,
        started_at: ts(started),
        finished_at: finished.map(ts),
        duration_ms: duration(started, finished),
    })
}

fn node_from_row(row: &Row<'_>) -> rusqlite::Result<NodeRun> {
    let started: Option<i64> = row.get("started_at")?;
    let finished: Option<i64> = row.get("finished_at")?;
    Ok(NodeRun {
        node_id: row.get("node_id")?,
        node_type: row.get("node_type")?,
        status: get_parsed(row, "status")?,
        attempts: u32_of(row, "attempts")?,
        inputs: get_json(row, "inputs")?,
        outputs: get_json(row, "outputs")?,
        error: row.get("error")?,
        started_at: started.map(ts),
        finished_at: finished.map(ts),
        duration_ms: started.and_then(|s| duration(s, finished)),
        prompt_tokens: u32_of(row, "prompt_tokens")?,
        completion_tokens: u32_of(row, "completion_tokens")?,
    })
}

fn graph_text(graph: &Graph) -> String {
    serde_json::to_string(graph).expect("a graph is plain JSON")
}

fn graph_object(graph: &Graph) -> serde_json::Map<String, Value> {
    match serde_json::to_value(graph).expect("a graph is plain JSON") {
        Value::Object(o) => o,
        _ => unreachable!("a graph serializes as an object"),
    }
}

fn ms(t: Option<hearth_types::Timestamp>) -> Option<i64> {
    t.map(|t| t.as_millisecond())
}

/// One node's record in a batch, with its place in the run's order.
#[derive(Clone, Debug)]
pub struct NodeRecord<'a> {
    pub ord: u32,
    pub node: &'a NodeRun,
}

impl Writer<'_> {
    pub fn create_workflow(&mut self, new: &NewWorkflow) -> Result<Workflow> {
        let id = WorkflowId::new();
        self.insert(
            Table::Workflows,
            &id.to_string(),
            &[
                ("name", Val::Text(new.name.clone())),
                ("description", Val::Text(new.description.clone())),
                ("graph", Val::Json(graph_object(&new.graph).into())),
            ],
            &[],
        )?;
        tracing::debug!(workflow = %id, "created workflow");
        self.read().workflow(id)
    }

    /// Changes the fields the patch names (only those are stamped and synced).
    pub fn update_workflow(&mut self, id: WorkflowId, patch: &WorkflowPatch) -> Result<Workflow> {
        self.read().workflow(id)?;
        let mut fields = Vec::new();
        if let Some(name) = &patch.name {
            fields.push(("name", Val::Text(name.clone())));
        }
        if let Some(description) = &patch.description {
            fields.push(("description", Val::Text(description.clone())));
        }
        if let Some(graph) = &patch.graph {
            fields.push(("graph", Val::Json(graph_object(graph).into())));
        }
        self.update(Table::Workflows, &id.to_string(), &fields)?;
        self.read().workflow(id)
    }

    /// Tombstones a workflow; its runs stay readable.
    pub fn delete_workflow(&mut self, id: WorkflowId) -> Result<()> {
        self.read().workflow(id)?;
        self.tombstone(Table::Workflows, &id.to_string())
    }

    /// Records a new run (status `running`) with the definition it runs.
    pub fn insert_run(&mut self, run: &Run, graph: &Graph) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT INTO workflow_runs (id, workflow_id, workflow_name, graph, status, inputs, started_at, heartbeat_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute((
                run.id.to_string(),
                run.workflow_id.map(|w| w.to_string()),
                &run.workflow_name,
                graph_text(graph),
                run.status.as_str(),
                Value::Object(run.inputs.clone()).to_string(),
                run.started_at.as_millisecond(),
                self.now_ms(),
            ))?;
        Ok(())
    }

    /// Saves a batch of a run's progress: the run row as it is now, the node rows that
    /// changed, and the events since the last batch. Only a run still `running` here takes
    /// it: one another process has ended (marked interrupted) answers `Conflict`, and its
    /// record stays as that process left it.
    pub fn save_run(&mut self, run: &Run, nodes: &[NodeRecord<'_>], events: &[RunEvent]) -> Result<()> {
        let changed = self
            .conn()
            .prepare_cached(
                "UPDATE workflow_runs SET status = ?2, outputs = ?3, error = ?4, steps = ?5, prompt_tokens = ?6, \
                 completion_tokens = ?7, finished_at = ?8, heartbeat_at = ?9 WHERE id = ?1 AND status = 'running'",
            )?
            .execute((
                run.id.to_string(),
                run.status.as_str(),
                Value::Object(run.outputs.clone()).to_string(),
                &run.error,
                run.steps,
                run.prompt_tokens,
                run.completion_tokens,
                ms(run.finished_at),
                self.now_ms(),
            ))?;
        if changed == 0 {
            self.read().run(run.id)?;
            return Err(Error::Conflict { field: "run_id", message: format!("run {} was ended by another process", run.id) });
        }
        let mut upsert = self.conn().prepare_cached(&format!(
            "INSERT INTO workflow_node_runs (run_id, ord, {NODE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
             ON CONFLICT (run_id, node_id) DO UPDATE SET status = excluded.status, attempts = excluded.attempts, \
             inputs = excluded.inputs, outputs = excluded.outputs, error = excluded.error, started_at = excluded.started_at, \
             finished_at = excluded.finished_at, prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens"
        ))?;
        for NodeRecord { ord, node } in nodes {
            upsert.execute(rusqlite::params![
                run.id.to_string(),
                ord,
                node.node_id,
                node.node_type,
                node.status.as_str(),
                node.attempts,
                node.inputs.to_string(),
                Value::Object(node.outputs.clone()).to_string(),
                node.error,
                ms(node.started_at),
                ms(node.finished_at),
                node.prompt_tokens,
                node.completion_tokens,
            ])?;
        }
        let mut append = self.conn().prepare_cached("INSERT INTO workflow_run_events (run_id, seq, event) VALUES (?1, ?2, ?3)")?;
        for event in events {
            let text = serde_json::to_string(event).expect("events are plain JSON");
            append.execute((event.run_id.to_string(), event.seq as i64, text))?;
        }
        Ok(())
    }

    /// Ends the runs a stopped process left `running`: those whose heartbeat is older than
    /// `stale_ms`, except `keep` (the caller's own). Each becomes `failed` ("interrupted"), its
    /// running nodes `cancelled`, and its log gets the `run_finished` it never had. Returns how
    /// many there were.
    pub fn interrupt_runs(&mut self, stale_ms: i64, keep: &[RunId]) -> Result<u64> {
        let ids: Vec<RunId> = self.read().stale_runs(stale_ms)?.into_iter().filter(|id| !keep.contains(id)).collect();
        let now = self.now_ms();
        for run_id in &ids {
            let (run_id, id) = (*run_id, run_id.to_string());
            let id = &id;
            self.conn()
                .prepare_cached(
                    "UPDATE workflow_node_runs SET status = 'cancelled', error = ?2, finished_at = ?3 \
                     WHERE run_id = ?1 AND status = 'running'",
                )?
                .execute((id, INTERRUPTED, now))?;
            self.conn()
                .prepare_cached("UPDATE workflow_runs SET status = 'failed', error = ?2, finished_at = ?3 WHERE id = ?1")?
                .execute((id, INTERRUPTED, now))?;
            let run = self.read().run(run_id)?.run;
            let seq = self.read().last_event_seq(run_id)? + 1;
            let event = RunEvent {
                seq,
                run_id,
                kind: RunEventKind::RunFinished {
                    status: RunStatus::Failed,
                    outputs: run.outputs,
                    error: Some(INTERRUPTED.to_owned()),
                    duration_ms: run.duration_ms.unwrap_or(0),
                },
            };
            self.conn().prepare_cached("INSERT INTO workflow_run_events (run_id, seq, event) VALUES (?1, ?2, ?3)")?.execute((
                id,
                seq as i64,
                serde_json::to_string(&event).expect("events are plain JSON"),
            ))?;
        }
        if !ids.is_empty() {
            tracing::warn!(runs = ids.len(), "marked runs interrupted by a stop as failed");
        }
        Ok(ids.len() as u64)
    }
}

impl Reader<'_> {
    pub fn workflow(&self, id: WorkflowId) -> Result<Workflow> {
        self.conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM workflows WHERE id = ?1 AND deleted_at IS NULL"))?
            .query_row([id.to_string()], from_row)
            .optional()?
            .ok_or_else(|| Error::not_found("workflow_id", "workflow", id))
    }

    /// Every workflow, the most recently changed first.
    pub fn workflows(&self) -> Result<Vec<Workflow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM workflows WHERE deleted_at IS NULL ORDER BY updated_at DESC, id DESC"))?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A run with its node records, in the order they started.
    pub fn run(&self, id: RunId) -> Result<RunDetail> {
        let run = self
            .conn
            .prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM workflow_runs WHERE id = ?1"))?
            .query_row([id.to_string()], run_from_row)
            .optional()?
            .ok_or_else(|| Error::not_found("run_id", "run", id))?;
        let mut stmt =
            self.conn.prepare_cached(&format!("SELECT {NODE_COLUMNS} FROM workflow_node_runs WHERE run_id = ?1 ORDER BY ord"))?;
        let nodes = stmt.query_map([id.to_string()], node_from_row)?.collect::<rusqlite::Result<_>>()?;
        Ok(RunDetail { run, nodes })
    }

    /// The runs of a workflow (or of every workflow), newest first.
    pub fn runs(&self, workflow: Option<WorkflowId>, limit: u32) -> Result<Vec<Run>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM workflow_runs WHERE ?1 IS NULL OR workflow_id = ?1 ORDER BY started_at DESC, id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map((workflow.map(|w| w.to_string()), limit), run_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The events of a run after `after`, in order.
    pub fn run_events(&self, id: RunId, after: u64) -> Result<Vec<RunEvent>> {
        let mut stmt = self.conn.prepare_cached("SELECT event FROM workflow_run_events WHERE run_id = ?1 AND seq > ?2 ORDER BY seq")?;
        let rows = stmt.query_map((id.to_string(), after.min(i64::MAX as u64) as i64), |r| get_json::<RunEvent>(r, "event"))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The `running` runs whose heartbeat is older than `stale_ms`.
    pub fn stale_runs(&self, stale_ms: i64) -> Result<Vec<RunId>> {
        let now = crate::rows::now_ms();
        let mut stmt = self.conn.prepare_cached("SELECT id FROM workflow_runs WHERE status = 'running' AND heartbeat_at < ?1")?;
        let ids: Vec<String> = stmt.query_map([now - stale_ms], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        Ok(ids.iter().map(|id| id.parse()).collect::<std::result::Result<_, _>>()?)
    }

    fn last_event_seq(&self, id: RunId) -> Result<u64> {
        let seq: Option<i64> = self
            .conn
            .prepare_cached("SELECT max(seq) FROM workflow_run_events WHERE run_id = ?1")?
            .query_row([id.to_string()], |r| r.get(0))?;
        Ok(seq.unwrap_or(0).max(0) as u64)
    }
}
