//! The recorder: numbers a run's events, keeps its run and node records, publishes events
//! to live readers at once and writes progress to the database in batches.
//!
//! Writing every event in its own transaction would cost more than a node of a long chain
//! does, so the recorder batches: the driver flushes every 250 ms and at the end. A batch
//! holds the run row, the node rows that changed and the new events, in one transaction.
//! Live readers never wait for a flush: they read the in-memory log ([`LiveRun`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hearth_store::{NodeRecord, Store};
use hearth_types::{NodeRun, NodeStatus, Run, RunEvent, RunEventKind, RunId, RunStatus, Timestamp};
use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How long a batch may wait while nothing else changes: the heartbeat that tells other
/// processes this run is alive (see the migration's `heartbeat_at`).
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(2);

/// A run going on in this process: its event log so far, for readers.
#[derive(Debug)]
pub(crate) struct LiveRun {
    log: Mutex<Vec<RunEvent>>,
    /// The log's length, bumped on every push; readers wait on it.
    len: watch::Sender<usize>,
    pub(crate) cancel: CancellationToken,
}

impl LiveRun {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self { log: Mutex::new(Vec::new()), len: watch::channel(0).0, cancel: CancellationToken::new() })
    }

    fn push(&self, event: RunEvent) {
        let len = {
            let mut log = self.log.lock().expect("the log lock is never poisoned");
            log.push(event);
            log.len()
        };
        self.len.send_replace(len);
    }

    /// The events after `after` (a seq), and whether the run has finished.
    pub(crate) fn since(&self, after: u64) -> (Vec<RunEvent>, bool) {
        let log = self.log.lock().expect("the log lock is never poisoned");
        let from = (after as usize).min(log.len());
        let events = log[from..].to_vec();
        let done = log.last().is_some_and(|e| matches!(e.kind, RunEventKind::RunFinished { .. }));
        (events, done)
    }

    pub(crate) fn watch(&self) -> watch::Receiver<usize> {
        self.len.subscribe()
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
    seq: u64,
    last_flush: Instant,
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
            seq: 0,
            last_flush: Instant::now(),
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
        self.live.push(event);
    }

    /// A piece of an llm node's answer.
    pub(crate) fn chunk(&mut self, node: usize, text: String) {
        let node_id = self.node_ids[node].clone();
        self.emit(RunEventKind::TextChunk { node_id, text });
    }

    /// Writes what changed since the last batch (`force`: even when it is only the heartbeat
    /// that is due). A failed write is logged and kept for the next batch.
    pub(crate) fn flush(&mut self, force: bool) {
        let idle = self.pending.is_empty() && self.dirty.is_empty();
        if idle && !force && self.last_flush.elapsed() < HEARTBEAT {
            return;
        }
        let records: Vec<NodeRecord<'_>> = self.dirty.iter().map(|&i| NodeRecord { ord: i as u32, node: &self.nodes[i] }).collect();
        match self.store.write(|w| w.save_run(&self.run, &records, &self.pending)) {
            Ok(()) => {
                self.pending.clear();
                self.dirty.clear();
                self.last_flush = Instant::now();
            }
            Err(e) => tracing::error!(run = %self.run.id, error = %e, "could not record the run's progress; trying again"),
        }
    }

    /// Records the end and writes everything.
    pub(crate) fn finish(&mut self, status: RunStatus, outputs: Map<String, Value>, error: Option<String>, steps: u32) {
        self.run.status = status;
        self.run.outputs = outputs;
        self.run.error = error;
        self.run.steps = steps;
        let now = Timestamp::now();
        self.run.finished_at = Some(now);
        self.run.duration_ms = Some(self.started.elapsed().as_millis() as u64);
        self.flush(true);
        if !self.pending.is_empty() {
            // One more try: the run's end is the record people read.
            std::thread::sleep(std::time::Duration::from_millis(50));
            self.flush(true);
        }
        tracing::info!(run = %self.run.id, status = status.as_str(), steps, "run finished");
    }

    pub(crate) fn run_id(&self) -> RunId {
        self.run.id
    }
}
