//! [`Workflows`]: the service that starts runs, owns them while they go, serves their events
//! (live from memory, or replayed from the database) and stops them all at shutdown.
//!
//! Every run is a tokio task held here; [`Workflows::shutdown`] cancels each and waits for
//! it to record its end. A run another process started (the CLI beside the app) is followed
//! through the database: its events are polled until it finishes, or until its heartbeat
//! stops, when it is marked interrupted.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::Stream;
use hearth_types::{Graph, Run, RunDetail, RunEvent, RunEventKind, RunId, RunStatus, Timestamp, WorkflowId};
use serde_json::{Map, Value};
use tokio::task::JoinHandle;

use super::driver::{Services, drive};
use super::graph::plan;
use super::machine::{Machine, RunLimits, check_inputs};
use super::record::{LiveRun, Recorder};
use crate::{Core, Error, Result};

/// A `running` run whose heartbeat is older than this was left by a process that stopped.
const STALE: Duration = Duration::from_secs(15);
/// How often a run of another process is polled.
const POLL: Duration = Duration::from_millis(300);

/// What to run.
#[derive(Clone, Debug)]
pub enum RunSource {
    Stored(WorkflowId),
    /// A definition that is not stored (`hearth workflow run FILE`).
    Definition {
        name: String,
        graph: Graph,
    },
}

/// A stream of a run's events.
pub type EventStream = Pin<Box<dyn Stream<Item = RunEvent> + Send>>;

/// A run of this process: its log for readers, and its task until shutdown takes it.
type Live = (Arc<LiveRun>, Option<JoinHandle<()>>);

/// The runs of this process (see the module docs). Cheap to share behind an `Arc`.
pub struct Workflows {
    core: Arc<Core>,
    services: Services,
    limits: RunLimits,
    live: Mutex<HashMap<RunId, Live>>,
}

impl std::fmt::Debug for Workflows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workflows").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl Workflows {
    /// The service, after ending the runs a stopped process left `running` (a failure to
    /// is logged: the event stream of such a run tries again).
    pub fn new(core: Arc<Core>, services: Services) -> Self {
        if let Err(e) = core.store.write(|w| w.interrupt_runs(STALE.as_millis() as i64)) {
            tracing::warn!(error = %e, "could not end the runs a stopped process left running");
        }
        Self { core, services, limits: RunLimits::default(), live: Mutex::new(HashMap::new()) }
    }

    pub fn with_limits(mut self, limits: RunLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// Checks the definition and the inputs, records the run and starts it in the
    /// background. Must be called inside a tokio runtime.
    pub fn start(self: &Arc<Self>, source: RunSource, inputs: &Map<String, Value>) -> Result<Run> {
        let (workflow_id, name, graph) = match source {
            RunSource::Stored(id) => {
                let w = self.core.workflow(id)?;
                (Some(id), w.name, w.graph)
            }
            RunSource::Definition { name, graph } => (None, name, graph),
        };
        let checked = plan(&graph).map_err(Error::Workflow)?;
        let inputs = check_inputs(&checked, inputs).map_err(|e| hearth_types::ValidationError::new("inputs", e))?;
        let default_model = self.core.default_model()?.map(|m| m.name);
        let run = Run {
            id: RunId::new(),
            workflow_id,
            workflow_name: name,
            status: RunStatus::Running,
            inputs: inputs.clone(),
            outputs: Map::new(),
            error: None,
            steps: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
            started_at: Timestamp::now(),
            finished_at: None,
            duration_ms: None,
        };
        self.core.store.write(|w| w.insert_run(&run, &graph))?;
        let live = LiveRun::new();
        let node_ids = checked.nodes.iter().map(|n| n.id.clone()).collect();
        let mut recorder = Recorder::new(self.core.store.clone(), live.clone(), run.clone(), node_ids);
        let services = Services { default_model: self.services.default_model.clone().or(default_model), ..self.services.clone() };
        let limits = self.limits;
        let cancel = live.cancel.clone();
        let this = self.clone();
        // Registered before the task starts, so the task's own removal always finds it.
        let mut live_runs = self.live.lock().expect("the live-run lock is never poisoned");
        let handle = tokio::spawn(async move {
            let machine = Machine::new(&checked, inputs, limits);
            drive(machine, workflow_id, &services, &mut recorder, cancel, limits.wall_time).await;
            this.live.lock().expect("the live-run lock is never poisoned").remove(&recorder.run_id());
        });
        live_runs.insert(run.id, (live, Some(handle)));
        tracing::info!(run = %run.id, workflow = ?workflow_id, "run started");
        Ok(run)
    }

    /// Starts a run and waits for its end: the finished run with its node records.
    pub async fn run_to_end(self: &Arc<Self>, source: RunSource, inputs: &Map<String, Value>) -> Result<RunDetail> {
        let run = self.start(source, inputs)?;
        self.wait(run.id).await
    }

    /// Waits for a run of this process to end; then (or for any other run) its record.
    pub async fn wait(&self, id: RunId) -> Result<RunDetail> {
        let live = self.live.lock().expect("the live-run lock is never poisoned").get(&id).map(|(l, _)| l.clone());
        if let Some(live) = live {
            let mut watch = live.watch();
            while !live.since(u64::MAX).1 {
                if watch.changed().await.is_err() {
                    break;
                }
            }
            // The log says finished before the recorder's last write returns: wait for it.
            while self.live.lock().expect("the live-run lock is never poisoned").contains_key(&id) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        self.core.run(id)
    }

    /// Asks a run to stop. A run that already ended is left as it is.
    pub fn cancel(&self, id: RunId) -> Result<()> {
        if let Some((live, _)) = self.live.lock().expect("the live-run lock is never poisoned").get(&id) {
            live.cancel.cancel();
            return Ok(());
        }
        let run = self.core.run(id)?.run;
        if run.status == RunStatus::Running {
            return Err(hearth_types::ValidationError::new("run_id", "this run belongs to another Hearth process (stop it there)").into());
        }
        Ok(())
    }

    /// The events of a run after `after`, then the rest as they happen; the stream ends
    /// after `run_finished`.
    pub fn events(self: &Arc<Self>, id: RunId, after: u64) -> Result<EventStream> {
        let live = self.live.lock().expect("the live-run lock is never poisoned").get(&id).map(|(l, _)| l.clone());
        if let Some(live) = live {
            let watch = live.watch();
            let stream = futures_util::stream::unfold((live, watch, after, false), |(live, mut watch, after, done)| async move {
                if done {
                    return None;
                }
                loop {
                    let (events, finished) = live.since(after);
                    if !events.is_empty() {
                        let next = events.last().map_or(after, |e| e.seq);
                        let batch = futures_util::stream::iter(events);
                        return Some((batch, (live, watch, next, finished)));
                    }
                    if finished || watch.changed().await.is_err() {
                        return None;
                    }
                }
            });
            return Ok(Box::pin(futures_util::StreamExt::flatten(stream)));
        }
        // Not running here: replay from the database, following it while another process runs it.
        self.core.run(id)?;
        let this = self.clone();
        let stream = futures_util::stream::unfold((this, after, false), move |(this, after, done)| async move {
            if done {
                return None;
            }
            loop {
                let events = match this.core.store.read(|r| r.run_events(id, after)) {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::warn!(run = %id, error = %e, "could not read the run's events");
                        return None;
                    }
                };
                let finished = events.iter().any(|e| matches!(e.kind, RunEventKind::RunFinished { .. }));
                if !events.is_empty() {
                    let next = events.last().map_or(after, |e| e.seq);
                    return Some((futures_util::stream::iter(events), (this, next, finished)));
                }
                match this.core.run(id) {
                    Ok(d) if d.run.status == RunStatus::Running => {
                        if let Err(e) = this.core.store.write(|w| w.interrupt_runs(STALE.as_millis() as i64)) {
                            tracing::warn!(error = %e, "could not end interrupted runs");
                        }
                        tokio::time::sleep(POLL).await;
                    }
                    _ => return None,
                }
            }
        });
        Ok(Box::pin(futures_util::StreamExt::flatten(stream)))
    }

    /// Cancels every run of this process and waits for each to record its end.
    pub async fn shutdown(&self) {
        let handles: Vec<JoinHandle<()>> = {
            let mut live = self.live.lock().expect("the live-run lock is never poisoned");
            live.values_mut()
                .filter_map(|(run, handle)| {
                    run.cancel.cancel();
                    handle.take()
                })
                .collect()
        };
        for handle in handles {
            if let Err(e) = handle.await {
                tracing::error!(error = %e, "a workflow run ended badly");
            }
        }
    }
}
