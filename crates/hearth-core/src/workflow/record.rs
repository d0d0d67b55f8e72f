//! The recorder: numbers a run's events, keeps its run and node records, publishes events
//! to live readers at once and writes progress to the database in batches.
//!
//! Writing every event in its own transaction would cost more than a node of a long chain
//! does, so the recorder batches: the driver flushes every 250 ms and at the end. A batch
//! holds the run row, the node rows that changed and the new events, in one transaction on a
//! blocking thread. Live readers never wait for a flush: they read the in-memory log
//! ([`LiveRun`]), with one exception: `run_finished` is published only after the end is
//! written (or the writes have failed for good), so a reader that sees it and asks for the
//! run reads the same outcome.
//!
//! If another process ends the run's row (it thought this one dead and marked it
//! interrupted), the store refuses further batches; the recorder stops writing and says so
//! in the log, and readers of this process still get the run's real outcome.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hearth_store::{NodeRecord, Store};
use hearth_types::{NodeRun, NodeStatus, Run, RunDetail, RunEvent, RunEventKind, RunStatus, Timestamp};
use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How long the recorder goes without writing while nothing changes: the heartbeat that
/// tells other processes this run is alive (see the migration's `heartbeat_at`).
const HEARTBEAT: Duration = Duration::from_secs(2);
/// Waits between attempts to write a run's end.
const FINAL_RETRIES: [Duration; 3] = [Duration::from_millis(50), Duration::from_millis(500), Duration::from_secs(2)];

/// A run going on in this process: its event log so far, for readers, and its outcome once
/// it has one.
#[derive(Debug)]
pub(crate) struct LiveRun {
    log: Mutex<Vec<RunEvent>>,
    /// The log's length, bumped on every push; readers wait on it.
    len: watch::Sender<usize>,
    /// Set once nothing more will be published (the run ended, or its task did).
    ended: AtomicBool,
    outcome: Mutex<Option<RunDetail>>,
    pub(crate) cancel: CancellationToken,
}

impl LiveRun {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            log: Mutex::new(Vec::new()),
            len: watch::channel(0).0,
            ended: AtomicBool::new(false),
            outcome: Mutex::new(None),
            cancel: CancellationToken::new(),
        })
    }

    fn push(&self, event: RunEvent) {
        let len = {
            let mut log = self.log.lock().expect("the log lock is never poisoned");
            log.push(event);
            log.len()
        };
        self.len.send_replace(len);
    }

    /// Marks the log complete and wakes every reader.
    pub(crate) fn end(&self) {
        self.ended.store(true, Ordering::SeqCst);
        self.len.send_modify(|_| {});
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.ended.load(Ordering::SeqCst)
    }

    /// The events after `after` (a seq), and whether the log is complete.
    pub(crate) fn since(&self, after: u64) -> (Vec<RunEvent>, bool) {
        // Read `ended` first: a push that lands after it is still returned below.
        let ended = self.is_ended();
        let log = self.log.lock().expect("the log lock is never poisoned");
        let from = (after as usize).min(log.len());
        (log[from..].to_vec(), ended)
    }

    pub(crate) fn watch(&self) -> watch::Receiver<usize> {
        self.len.subscribe()
    }

    /// The run with its node records, once it has ended.
    pub(crate) fn outcome(&self) -> Option<RunDetail> {
        self.outcome.lock().expect("the outcome lock is never poisoned").clone()
    }
}

/// Keeps one run's records (see the module docs).
#[derive(Debug)]
pub(crate) struct Recorder {
    store: Arc<Store>,
    live: Arc<LiveRun>,
    run: Run,
    nodes: Vec<NodeRun>,
    order: HashMap<String, usize>,
    node_ids: Vec<String>,
    started: Instant,
    node_started: HashMap<String, Instant>,
    dirty: BTreeSet<usize>,
    pending: Vec<RunEvent>,
    /// `run_finished`, held back until the end is written.
    last: Option<RunEvent>,
    seq: u64,
    last_flush: Instant,
    /// Another process ended this run's row: nothing more is written.
    lost: bool,
}

impl Recorder {
    /// `node_ids` names the plan's nodes by index (text chunks come by index).
    pub(crate) fn new(store: Arc<Store>, live: Arc<LiveRun>, run: Run, node_ids: Vec<String>) -> Self {
        Self {
            store,
            live,
            run,
            nodes: Vec::new(),
            order: HashMap::new(),
            node_ids,
            started: Instant::now(),
            node_started: HashMap::new(),
            dirty: BTreeSet::new(),
            pending: Vec::new(),
            last: None,
            seq: 0,
            last_flush: Instant::now(),
            lost: false,
        }
    }

    fn node(&mut self, id: &str, kind: &str) -> usize {
        if let Some(&i) = self.order.get(id) {
            return i;
        }
        self.nodes.push(NodeRun {
            node_id: id.to_owned(),
            node_type: kind.to_owned(),
            status: NodeStatus::Running,
            attempts: 0,
            inputs: Value::Null,
            outputs: Map::new(),
            error: None,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            prompt_tokens: 0,
            completion_tokens: 0,
        });
        self.order.insert(id.to_owned(), self.nodes.len() - 1);
        self.nodes.len() - 1
    }

    /// Numbers an event, updates the records it concerns and publishes it.
    pub(crate) fn emit(&mut self, mut kind: RunEventKind) {
        let now = Timestamp::now();
        match &mut kind {
            RunEventKind::RunStarted { .. } | RunEventKind::TextChunk { .. } => {}
            RunEventKind::NodeStarted { node_id, node_type, attempt, inputs } => {
                let i = self.node(node_id, node_type);
                let n = &mut self.nodes[i];
                n.status = NodeStatus::Running;
                n.attempts = *attempt;
                n.inputs = inputs.clone();
                n.error = None;
                n.started_at.get_or_insert(now);
                self.node_started.entry(node_id.clone()).or_insert_with(Instant::now);
                self.dirty.insert(i);
            }
            RunEventKind::NodeFinished { node_id, node_type, status, outputs, error, duration_ms } => {
                let i = self.node(node_id, node_type);
                *duration_ms = self.node_started.get(node_id.as_str()).map_or(0, |s| s.elapsed().as_millis() as u64);
                let n = &mut self.nodes[i];
                n.status = *status;
                n.outputs = outputs.clone();
                n.error = error.clone();
                n.finished_at = Some(now);
                n.duration_ms = n.started_at.map(|_| *duration_ms);
                let tokens = |k: &str| outputs.get(k).and_then(Value::as_u64).unwrap_or(0) as u32;
                if node_type == "llm" {
                    n.prompt_tokens = tokens("prompt_tokens");
                    n.completion_tokens = tokens("completion_tokens");
                    self.run.prompt_tokens += n.prompt_tokens;
                    self.run.completion_tokens += n.completion_tokens;
                }
                self.dirty.insert(i);
            }
            RunEventKind::RunFinished { duration_ms, .. } => *duration_ms = self.started.elapsed().as_millis() as u64,
        }
        self.seq += 1;
        let event = RunEvent { seq: self.seq, run_id: self.run.id, kind };
        self.pending.push(event.clone());
        if matches!(event.kind, RunEventKind::RunFinished { .. }) {
            self.last = Some(event);
        } else {
            self.live.push(event);
        }
    }

    /// A piece of an llm node's answer.
    pub(crate) fn chunk(&mut self, node: usize, text: String) {
        let node_id = self.node_ids[node].clone();
        self.emit(RunEventKind::TextChunk { node_id, text });
    }

    /// Writes what changed since the last batch (`force`: even when only the heartbeat is
    /// due), on a blocking thread. A failed write is logged and kept for the next batch.
    /// Returns whether everything is written.
    pub(crate) async fn flush(&mut self, force: bool) -> bool {
        let idle = self.pending.is_empty() && self.dirty.is_empty();
        if self.lost || (idle && !force && self.last_flush.elapsed() < HEARTBEAT) {
            return idle;
        }
        let (store, run, events) = (self.store.clone(), self.run.clone(), self.pending.clone());
        let nodes: Vec<(u32, NodeRun)> = self.dirty.iter().map(|&i| (i as u32, self.nodes[i].clone())).collect();
        let written = tokio::task::spawn_blocking(move || {
            let records: Vec<NodeRecord<'_>> = nodes.iter().map(|(ord, node)| NodeRecord { ord: *ord, node }).collect();
            store.write(|w| w.save_run(&run, &records, &events))
        })
        .await;
        match written {
            Ok(Ok(())) => {
                self.pending.clear();
                self.dirty.clear();
                self.last_flush = Instant::now();
                true
            }
            Ok(Err(hearth_store::Error::Conflict { message, .. })) => {
                tracing::error!(run = %self.run.id, "{message}; its record stays as that process left it");
                self.lost = true;
                false
            }
            Ok(Err(e)) => {
                tracing::error!(run = %self.run.id, error = %e, "could not record the run's progress; trying again");
                false
            }
            Err(e) => {
                tracing::error!(run = %self.run.id, error = %e, "recording the run's progress crashed; trying again");
                false
            }
        }
    }

    /// Records the end, writes everything (trying a few times), then publishes
    /// `run_finished` and the outcome.
    pub(crate) async fn finish(&mut self, status: RunStatus, outputs: Map<String, Value>, error: Option<String>, steps: u32) {
        self.run.status = status;
        self.run.outputs = outputs;
        self.run.error = error;
        self.run.steps = steps;
        self.run.finished_at = Some(Timestamp::now());
        self.run.duration_ms = Some(self.started.elapsed().as_millis() as u64);
        let mut written = self.flush(true).await;
        for wait in FINAL_RETRIES {
            if written || self.lost {
                break;
            }
            tokio::time::sleep(wait).await;
            written = self.flush(true).await;
        }
        if !written && !self.lost {
            tracing::error!(run = %self.run.id, "could not record the run's end; it will read as interrupted");
        }
        *self.live.outcome.lock().expect("the outcome lock is never poisoned") =
            Some(RunDetail { run: self.run.clone(), nodes: self.nodes.clone() });
        if let Some(last) = self.last.take() {
            self.live.push(last);
        }
        self.live.end();
        tracing::info!(run = %self.run.id, status = status.as_str(), steps, "run finished");
    }
}
