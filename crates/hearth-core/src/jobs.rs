//! Background jobs: the runner that claims queued jobs and runs them, one at a time, on a
//! thread of its own, and what a job's work sees while it runs ([`JobContext`]).
//!
//! Jobs are rows (`hearth_store` jobs): they outlive the process. The runner of the app's
//! long-lived process (`hearth serve`, the desktop app) claims the oldest queued job, runs
//! it, and ends it `succeeded`, `failed` or `cancelled`. While it runs, the work reports
//! progress through its context; each report is also the heartbeat that tells other
//! processes the job is alive, and brings back a cancel asked from another process. A job
//! whose process died (its heartbeat stale) is queued again by the next runner to look, and
//! resumes: its work must be safe to redo (ingestion skips files whose hash it already has).
//! A graceful stop queues the running job again at once.
//!
//! A command can also run one job in its own process ([`Core::run_job`]), as `hearth
//! knowledge add` does when no app is running; if another process already took it, the
//! command follows it instead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use hearth_store::JobEnd;
use hearth_types::{Job, JobId, JobKind, JobStatus};
use serde_json::{Map, Value};

use crate::{Core, Error, Result};

/// A running job whose heartbeat is older than this was left by a process that stopped.
pub const STALE: Duration = Duration::from_secs(15);
/// How often an idle runner looks for jobs other processes queued.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Why a job's work should stop.
const GO_ON: u8 = 0;
const CANCELLED: u8 = 1;
const SHUTTING_DOWN: u8 = 2;

/// What a job's work sees while it runs.
#[derive(Debug)]
pub struct JobContext<'a> {
    core: &'a Core,
    job: JobId,
    stop: &'a AtomicU8,
}

/// The work of a job stopped before its end: cancelled, or the app is stopping.
#[derive(Debug)]
pub struct Stopped;

impl JobContext<'_> {
    /// Records progress (`done` of `total`, and what it does now) and beats the heartbeat.
    /// Call it at least every few seconds. `Err(Stopped)` when the work should stop now:
    /// a cancel came (from this process or another), or the app is stopping.
    pub fn progress(&self, done: u64, total: Option<u64>, message: &str) -> std::result::Result<(), Stopped> {
        match self.core.store.write(|w| w.job_progress(self.job, done, total, message)) {
            Ok(true) => {
                let _ = self.stop.compare_exchange(GO_ON, CANCELLED, Ordering::SeqCst, Ordering::SeqCst);
            }
            Ok(false) => {}
            // No longer running here: another process took it back as stale. Stop; it owns it.
            Err(hearth_store::Error::NotFound { .. }) => {
                tracing::warn!(job = %self.job, "this job was taken back by another process; stopping here");
                let _ = self.stop.compare_exchange(GO_ON, SHUTTING_DOWN, Ordering::SeqCst, Ordering::SeqCst);
            }
            // A write that failed (the database busy): the next report tries again.
            Err(e) => tracing::warn!(job = %self.job, error = %e, "could not record a job's progress"),
        }
        self.check()
    }

    /// `Err(Stopped)` when the work should stop now.
    pub fn check(&self) -> std::result::Result<(), Stopped> {
        if self.stop.load(Ordering::SeqCst) == GO_ON { Ok(()) } else { Err(Stopped) }
    }
}

/// A command watching the job it runs: its Ctrl-C flag (the job is queued again) and what
/// to call with each change of the job.
type Watch<'a> = (&'a AtomicBool, &'a mut dyn FnMut(&Job));

/// What a job's work ends with: its output and a summary, or why it failed.
#[derive(Debug)]
pub struct JobOutcome {
    pub output: Map<String, Value>,
    pub message: String,
    /// Set when the job as a whole failed (its output may still say what was done).
    pub failed: Option<String>,
}

impl Core {
    /// Queues a job.
    pub(crate) fn queue_job(&self, kind: JobKind, workspace: Option<hearth_types::WorkspaceId>, input: Map<String, Value>) -> Result<Job> {
        Ok(self.store.write(|w| w.create_job(kind, workspace, &input))?)
    }

    pub fn job(&self, id: JobId) -> Result<Job> {
        Ok(self.store.read(|r| r.job(id))?)
    }

    /// The queued and running jobs and the latest `limit`, newest first.
    pub fn jobs(&self, limit: u32) -> Result<Vec<Job>> {
        Ok(self.store.read(|r| r.jobs(limit))?)
    }

    /// Asks a job to stop (see `Writer::request_job_cancel`); a runner of this process
    /// stops it at once.
    pub fn cancel_job(&self, id: JobId) -> Result<Job> {
        let job = self.store.write(|w| w.request_job_cancel(id))?;
        if let Some(stop) = self.running_jobs().get(&id) {
            let _ = stop.compare_exchange(GO_ON, CANCELLED, Ordering::SeqCst, Ordering::SeqCst);
        }
        Ok(job)
    }

    fn running_jobs(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, Arc<AtomicU8>>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs job `id` in this thread if it is queued; follows it (polling) if another process
    /// runs it. Returns it as it ended. `progress` sees each state as it changes.
    pub fn run_job(&self, id: JobId, interrupted: &AtomicBool, progress: &mut dyn FnMut(&Job)) -> Result<Job> {
        loop {
            self.store
                .write(|w| w.requeue_stale_jobs(STALE.as_millis() as i64, &self.running_jobs().keys().copied().collect::<Vec<_>>()))?;
            if let Some(job) = self.store.write(|w| w.claim_job(JobKind::ALL, Some(id)))? {
                return self.run_claimed(job, Some((interrupted, progress)));
            }
            let job = self.job(id)?;
            progress(&job);
            if job.status.is_finished() {
                return Ok(job);
            }
            if interrupted.load(Ordering::SeqCst) {
                return Ok(job);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Runs a claimed job to its end and records it. With `watch`, an interrupt flag (a
    /// command's Ctrl-C: the job is queued again) and a progress callback.
    pub(crate) fn run_claimed(&self, job: Job, watch: Option<Watch<'_>>) -> Result<Job> {
        let stop = Arc::new(AtomicU8::new(if job.cancel_requested { CANCELLED } else { GO_ON }));
        self.running_jobs().insert(job.id, stop.clone());
        let id = job.id;
        tracing::info!(job = %id, kind = %job.kind, attempt = job.attempts, "job started");
        let outcome = {
            let ctx = JobContext { core: self, job: id, stop: &stop };
            let work = || {
                // A panic in the work fails its job, not the runner.
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.job_work(&job, &ctx)))
                    .unwrap_or_else(|_| Err(Error::Crashed("the job's work panicked (see the log)".into())))
            };
            match watch {
                None => work(),
                Some((interrupted, progress)) => {
                    // The work runs on a thread of its own; the command's thread turns its
                    // Ctrl-C into the stop flag and shows the job's changes.
                    std::thread::scope(|s| {
                        let work = s.spawn(work);
                        let mut last = None;
                        while !work.is_finished() {
                            if interrupted.load(Ordering::SeqCst) {
                                let _ = stop.compare_exchange(GO_ON, SHUTTING_DOWN, Ordering::SeqCst, Ordering::SeqCst);
                            }
                            if let Ok(now) = self.job(id)
                                && last.as_ref() != Some(&now)
                            {
                                progress(&now);
                                last = Some(now);
                            }
                            std::thread::sleep(Duration::from_millis(100));
                        }
                        work.join().unwrap_or_else(|_| Err(Error::Crashed("the job's work panicked (see the log)".into())))
                    })
                }
            }
        };
        self.running_jobs().remove(&id);
        let end = match outcome {
            Ok(Ok(o)) => JobEnd {
                status: if o.failed.is_some() { JobStatus::Failed } else { JobStatus::Succeeded },
                output: o.output,
                message: o.message,
                error: o.failed,
            },
            Ok(Err(Stopped)) if stop.load(Ordering::SeqCst) == CANCELLED => {
                JobEnd { status: JobStatus::Cancelled, output: Map::new(), message: "cancelled".into(), error: None }
            }
            Ok(Err(Stopped)) => {
                // The app (or the command) is stopping, or another process took the job: it
                // stays to be resumed.
                self.store.write(|w| w.requeue_job(id))?;
                tracing::info!(job = %id, "job stopped; it resumes on the next start");
                return self.job(id);
            }
            Err(e) => JobEnd { status: JobStatus::Failed, output: Map::new(), message: "failed".into(), error: Some(e.to_string()) },
        };
        tracing::info!(job = %id, status = %end.status, "job ended");
        match self.store.write(|w| w.finish_job(id, &end)) {
            Ok(job) => Ok(job),
            // Another process took it back meanwhile; its record is that process's now.
            Err(hearth_store::Error::NotFound { .. }) => self.job(id),
            Err(e) => Err(e.into()),
        }
    }

    /// The work of one job, by kind.
    fn job_work(&self, job: &Job, ctx: &JobContext<'_>) -> Result<std::result::Result<JobOutcome, Stopped>> {
        match job.kind {
            JobKind::Ingest => self.ingest(job, ctx),
            JobKind::Embed => self.embed_documents(job, ctx),
        }
    }
}

/// Runs queued jobs in the background, one at a time, until stopped. One per long-lived
/// process (`hearth serve`, the desktop app).
#[derive(Debug)]
pub struct JobRunner {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug)]
struct Shared {
    core: Arc<Core>,
    /// Set (with the condvar) when a job is queued here or the runner should stop.
    wake: Mutex<bool>,
    ring: Condvar,
    stopping: AtomicBool,
}

impl JobRunner {
    /// Starts the runner's thread. Jobs a stopped process left running are queued again as it
    /// looks for work.
    pub fn start(core: Arc<Core>) -> Self {
        let shared = Arc::new(Shared { core, wake: Mutex::new(false), ring: Condvar::new(), stopping: AtomicBool::new(false) });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("hearth-jobs".into())
            .spawn(move || worker.run())
            .map_err(|e| tracing::error!(error = %e, "could not start the job runner"))
            .ok();
        Self { shared, thread: Mutex::new(thread) }
    }

    /// Tells the runner a job was queued, so it need not wait for its next look.
    pub fn notify(&self) {
        *self.shared.wake.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.shared.ring.notify_all();
    }

    /// Stops the runner: the running job stops and is queued again (the next start resumes
    /// it). Blocking: waits for the job's work to return.
    pub fn stop(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        for stop in self.shared.core.running_jobs().values() {
            let _ = stop.compare_exchange(GO_ON, SHUTTING_DOWN, Ordering::SeqCst, Ordering::SeqCst);
        }
        self.notify();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

impl Drop for JobRunner {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    fn run(&self) {
        while !self.stopping.load(Ordering::SeqCst) {
            match self.next() {
                Ok(Some(job)) => {
                    if let Err(e) = self.core.run_claimed(job, None) {
                        tracing::error!(error = %e, "could not record a job's end");
                    }
                }
                Ok(None) => {
                    let woken = self.wake.lock().unwrap_or_else(|p| p.into_inner());
                    let (mut woken, _) = self.ring.wait_timeout_while(woken, IDLE_POLL, |w| !*w).unwrap_or_else(|p| p.into_inner());
                    *woken = false;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not look for jobs; trying again");
                    std::thread::sleep(IDLE_POLL);
                }
            }
        }
    }

    /// Queues again what dead processes left running, then claims the oldest queued job.
    fn next(&self) -> Result<Option<Job>> {
        let mine: Vec<JobId> = self.core.running_jobs().keys().copied().collect();
        self.core.store.write(|w| w.requeue_stale_jobs(STALE.as_millis() as i64, &mine))?;
        Ok(self.core.store.write(|w| w.claim_job(JobKind::ALL, None))?)
    }
}
