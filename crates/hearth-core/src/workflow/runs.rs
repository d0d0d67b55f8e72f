//! [`WorkflowRuns`]: the service that starts runs, owns them while they go, serves their events
//! (live from memory, or replayed from the database) and stops them all at shutdown.
//!
//! Every run is a tokio task held here; [`WorkflowRuns::shutdown`] refuses new runs, cancels
//! each and waits for it to record its end. A run another process started (the CLI beside
//! the app) is followed through the database: its events are polled until it finishes.
//!
//! A process that dies leaves its runs `running`. Each running run's recorder writes a
//! heartbeat every 2 s; one whose heartbeat is older than 15 s is ended as failed
//! ("interrupted") by [`WorkflowRuns::sweep`], which runs when the service starts and before
//! runs are read, listed, cancelled or followed. A process never sweeps its own live runs.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::Stream;
use hearth_types::{Graph, Run, RunDetail, RunEvent, RunEventKind, RunId, RunStatus, Timestamp, WorkflowId};
use serde_json::{Map, Value};
use tokio::task::JoinHandle;

use super::driver::{RunOptions, Secrets, Services, drive};
use super::graph::{Step, plan};
use super::machine::{Machine, RunLimits, check_inputs};
use super::record::{LiveRun, Recorder};
use crate::{Core, Error, Result};

/// A `running` run whose heartbeat is older than this was left by a process that stopped.
const STALE: Duration = Duration::from_secs(15);
/// How often a run of another process is polled.
const POLL: Duration = Duration::from_millis(300);
/// Runs of this process going at once, by default: each holds its values in memory and may
/// run several IO nodes, and runs arrive from any API client.
pub(crate) const MAX_RUNS_AT_ONCE: usize = 16;

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

#[derive(Default)]
struct State {
    live: HashMap<RunId, Live>,
    /// Set by shutdown: no new run starts.
    closed: bool,
}

/// The runs of this process (see the module docs). Cheap to share behind an `Arc`.
pub struct WorkflowRuns {
    core: Arc<Core>,
    services: Services,
    limits: RunLimits,
    /// Runs of this process at once; one more is refused (see [`MAX_RUNS_AT_ONCE`]).
    max_runs: usize,
    state: Mutex<State>,
}

impl std::fmt::Debug for WorkflowRuns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowRuns").field("limits", &self.limits).finish_non_exhaustive()
    }
}

/// Ends a run's live entry however its task ends (a panic or an abort included), so no
/// reader waits for a log that will not grow.
struct Ending {
    workflows: Arc<WorkflowRuns>,
    live: Arc<LiveRun>,
    run: RunId,
}

impl Drop for Ending {
    fn drop(&mut self) {
        if !self.live.is_ended() {
            tracing::error!(run = %self.run, "a run's task ended without finishing the run");
            self.live.end();
        }
        self.workflows.state().live.remove(&self.run);
    }
}

impl WorkflowRuns {
    /// The service, after ending the runs a stopped process left `running` (a failure to is
    /// logged: the next sweep tries again).
    pub fn new(core: Arc<Core>, services: Services) -> Self {
        let this = Self { core, services, limits: RunLimits::default(), max_runs: MAX_RUNS_AT_ONCE, state: Mutex::new(State::default()) };
        if let Err(e) = this.sweep() {
            tracing::warn!(error = %e, "could not end the runs a stopped process left running");
        }
        this
    }

    pub fn with_limits(mut self, limits: RunLimits) -> Self {
        self.limits = RunLimits { max_parallel: limits.max_parallel.max(1), ..limits };
        self
    }

    /// At most `n` runs at once (at least one).
    pub fn with_max_runs(mut self, n: usize) -> Self {
        self.max_runs = n.max(1);
        self
    }

    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("the workflow state lock is never poisoned")
    }

    fn live(&self, id: RunId) -> Option<Arc<LiveRun>> {
        self.state().live.get(&id).map(|(l, _)| l.clone())
    }

    /// Ends the runs of dead processes (see the module docs). Blocking (SQLite).
    pub fn sweep(&self) -> Result<u64> {
        let stale = self.core.store.read(|r| r.stale_runs(STALE.as_millis() as i64))?;
        let keep: Vec<RunId> = self.state().live.keys().copied().collect();
        if stale.iter().all(|id| keep.contains(id)) {
            return Ok(0);
        }
        Ok(self.core.store.write(|w| w.interrupt_runs(STALE.as_millis() as i64, &keep))?)
    }

    /// A run with its node records (after a sweep). Blocking.
    pub fn run(&self, id: RunId) -> Result<RunDetail> {
        self.sweep()?;
        self.core.run(id)
    }

    /// The runs of a workflow (or of all), newest first (after a sweep). Blocking.
    pub fn runs(&self, workflow: Option<WorkflowId>, limit: u32) -> Result<Vec<Run>> {
        self.sweep()?;
        self.core.runs(workflow, limit)
    }

    /// Checks the definition and the inputs, records the run and starts it in the
    /// background. Must be called inside a tokio runtime.
    pub fn start(self: &Arc<Self>, source: RunSource, inputs: &Map<String, Value>) -> Result<Run> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| hearth_types::ValidationError::new("runtime", "a workflow run needs an async runtime to run on"))?;
        let (workflow_id, name, graph) = match source {
            RunSource::Stored(id) => {
                let w = self.core.workflow(id)?;
                (Some(id), w.name, w.graph)
            }
            RunSource::Definition { name, graph } => (None, name, graph),
        };
        let checked = plan(&graph).map_err(Error::Workflow)?;
        let inputs = check_inputs(&checked, inputs).map_err(|e| hearth_types::ValidationError::new("inputs", e.to_string()))?;
        let default_model = self.core.default_model()?.map(|m| m.name);
        let allow_local_network = self.core.settings()?.get(crate::ALLOW_LOCAL_NETWORK_SETTING) == Some(&Value::Bool(true));
        // The keychain is opened only for a run whose http headers name a secret (the only
        // place validation lets one be).
        let names_secret = checked.nodes.iter().any(|n| match &n.step {
            Step::Http { headers, .. } => headers.values().any(|v| v.as_str().is_some_and(|t| !super::secrets::references(t).is_empty())),
            _ => false,
        });
        let secrets = if names_secret {
            let origins = self.core.workflow_secret_origins()?;
            Some(self.core.secrets().map(|store| Secrets { store, origins }).map_err(|e| e.to_string()))
        } else {
            None
        };
        let options = RunOptions { allow_local_network, secrets, knowledge: Some(self.core.clone()) };
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
        let live = LiveRun::new();
        let node_ids = checked.nodes.iter().map(|n| n.id.clone()).collect();
        let mut recorder = Recorder::new(self.core.store.clone(), live.clone(), run.clone(), node_ids);
        let services = Services { default_model: self.services.default_model.clone().or(default_model), ..self.services.clone() };
        let limits = self.limits;
        let cancel = live.cancel.clone();
        // Registered (and the row written) before the task starts, under the lock that
        // shutdown takes: a run either starts before shutdown collects the tasks or not at all.
        let mut state = self.state();
        if state.closed {
            return Err(Error::ShuttingDown);
        }
        if state.live.values().filter(|(live, _)| !live.is_ended()).count() >= self.max_runs {
            return Err(Error::TooManyRuns { limit: self.max_runs });
        }
        self.core.store.write(|w| w.insert_run(&run, &graph))?;
        let ending = Ending { workflows: self.clone(), live: live.clone(), run: run.id };
        let handle = runtime.spawn(async move {
            let _ending = ending;
            let machine = Machine::new(&checked, inputs, limits);
            drive(machine, workflow_id, &services, &mut recorder, cancel, limits.wall_time, &options).await;
        });
        state.live.insert(run.id, (live, Some(handle)));
        drop(state);
        tracing::info!(run = %run.id, workflow = ?workflow_id, "run started");
        Ok(run)
    }

    /// Starts a stored workflow with `text` as its input: the start input named `input`,
    /// else the first declared one (a workflow called as a model).
    pub fn start_with_text(self: &Arc<Self>, id: WorkflowId, text: &str) -> Result<Run> {
        let workflow = self.core.workflow(id)?;
        let checked = plan(&workflow.graph).map_err(Error::Workflow)?;
        let declared = checked.inputs();
        let mut inputs = Map::new();
        if let Some((name, _)) = declared.iter().find(|(n, _)| n == "input").or(declared.first()) {
            inputs.insert(name.clone(), Value::String(text.to_owned()));
        }
        self.start(RunSource::Stored(id), &inputs)
    }

    /// Starts a run and waits for its end: the finished run with its node records.
    pub async fn run_to_end(self: &Arc<Self>, source: RunSource, inputs: &Map<String, Value>) -> Result<RunDetail> {
        let run = self.start(source, inputs)?;
        self.wait(run.id).await
    }

    /// Waits for a run of this process to end and returns its outcome; for any other run,
    /// its record.
    pub async fn wait(&self, id: RunId) -> Result<RunDetail> {
        if let Some(live) = self.live(id) {
            let mut watch = live.watch();
            while !live.is_ended() {
                if watch.changed().await.is_err() {
                    break;
                }
            }
            if let Some(outcome) = live.outcome() {
                return Ok(outcome);
            }
        }
        self.core.run(id)
    }

    /// Asks a run to stop. A run that already ended is left as it is; one of a dead process
    /// is ended as interrupted.
    pub fn cancel(&self, id: RunId) -> Result<()> {
        if let Some(live) = self.live(id) {
            live.cancel.cancel();
            return Ok(());
        }
        let run = self.run(id)?.run;
        if run.status == RunStatus::Running {
            return Err(hearth_types::ValidationError::new("run_id", "this run belongs to another Hearth process (stop it there)").into());
        }
        Ok(())
    }

    /// The events of a run after `after`, then the rest as they happen; the stream ends
    /// after `run_finished`. Blocking to set up (it may read the database).
    pub fn events(self: &Arc<Self>, id: RunId, after: u64) -> Result<EventStream> {
        if let Some(live) = self.live(id) {
            let watch = live.watch();
            let stream = futures_util::stream::unfold((live, watch, after, false), |(live, mut watch, after, done)| async move {
                if done {
                    return None;
                }
                loop {
                    let (events, ended) = live.since(after);
                    if !events.is_empty() {
                        let next = events.last().map_or(after, |e| e.seq);
                        return Some((futures_util::stream::iter(events), (live, watch, next, ended)));
                    }
                    if ended || watch.changed().await.is_err() {
                        return None;
                    }
                }
            });
            return Ok(Box::pin(futures_util::StreamExt::flatten(stream)));
        }
        // Not running here: replay from the database, following it while another process runs it.
        self.run(id)?;
        let this = self.clone();
        let stream = futures_util::stream::unfold((this, after, false), move |(this, after, done)| async move {
            if done {
                return None;
            }
            loop {
                let read = {
                    let this = this.clone();
                    tokio::task::spawn_blocking(move || {
                        let mut events = this.core.store.read(|r| r.run_events(id, after))?;
                        let mut running = false;
                        if events.is_empty() {
                            // Reading the run sweeps: a dead process's run ends now, and its
                            // last event is read right after.
                            running = this.run(id)?.run.status == RunStatus::Running;
                            events = this.core.store.read(|r| r.run_events(id, after))?;
                        }
                        Ok::<_, Error>((events, running))
                    })
                    .await
                };
                let (events, running) = match read {
                    Ok(Ok(read)) => read,
                    Ok(Err(e)) => {
                        tracing::warn!(run = %id, error = %e, "could not read the run's events");
                        return None;
                    }
                    Err(e) => {
                        tracing::warn!(run = %id, error = %e, "reading the run's events crashed");
                        return None;
                    }
                };
                let finished = events.iter().any(|e| matches!(e.kind, RunEventKind::RunFinished { .. }));
                if !events.is_empty() {
                    let next = events.last().map_or(after, |e| e.seq);
                    return Some((futures_util::stream::iter(events), (this, next, finished)));
                }
                if !running {
                    return None;
                }
                tokio::time::sleep(POLL).await;
            }
        });
        Ok(Box::pin(futures_util::StreamExt::flatten(stream)))
    }

    /// Refuses new runs, cancels every run of this process and waits for each to record
    /// its end.
    pub async fn shutdown(&self) {
        let handles: Vec<JoinHandle<()>> = {
            let mut state = self.state();
            state.closed = true;
            state
                .live
                .values_mut()
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
