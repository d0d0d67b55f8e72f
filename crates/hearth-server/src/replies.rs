//! Replies running in the background, and their event logs.
//!
//! Sending a message starts a reply that belongs to the server, not to the HTTP connection
//! that asked for it: a dropped connection does not stop it, and a client can read (or
//! re-read) its events at any time. Each reply has a log of numbered events
//! (`message_start`, `delta`..., then `message_end` or `error`); a reader asks for the events
//! after the last id it saw (`Last-Event-ID`) and then waits for more. Logs of finished
//! replies are kept, up to a bound, so a client that lost the end can still read it.
//!
//! Every reply task is owned here: [`Replies::shutdown`] cancels them all and waits for each
//! to save what it has.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use hearth_core::{Core, StartedReply};
use hearth_llm::{CancelToken, ChatModel};
use hearth_types::MessageId;
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::ApiError;
use crate::metrics::Metrics;

/// How many finished replies keep their logs.
const KEEP_FINISHED: usize = 256;

/// One server-sent event of a reply.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ReplyEvent {
    pub(crate) id: u64,
    pub(crate) name: &'static str,
    pub(crate) data: serde_json::Value,
}

#[derive(Debug)]
struct Log {
    events: Vec<ReplyEvent>,
    done: bool,
}

impl Log {
    fn push(&mut self, name: &'static str, data: serde_json::Value) {
        let id = self.events.len() as u64 + 1;
        self.events.push(ReplyEvent { id, name, data });
    }
}

#[derive(Debug)]
struct Entry {
    log: Mutex<Log>,
    /// Bumped after every change to the log; readers wait on it.
    changed: watch::Sender<u64>,
    cancel: CancelToken,
}

impl Entry {
    fn update(&self, f: impl FnOnce(&mut Log)) {
        let len = {
            let mut log = self.log.lock().expect("reply log lock");
            f(&mut log);
            log.events.len() as u64
        };
        self.changed.send_replace(len);
    }
}

/// A reply's events as a stream.
pub(crate) type EventStream = std::pin::Pin<Box<dyn futures_util::Stream<Item = ReplyEvent> + Send>>;

/// Where a reader of a reply's log is.
struct Reader {
    entry: Arc<Entry>,
    changed: watch::Receiver<u64>,
    /// The id of the last event handed out.
    next: u64,
    pending: VecDeque<ReplyEvent>,
    ended: bool,
}

/// The replies this server runs or ran.
#[derive(Debug)]
pub(crate) struct Replies {
    entries: Mutex<HashMap<MessageId, Arc<Entry>>>,
    finished: Mutex<VecDeque<MessageId>>,
    tasks: Mutex<Tasks>,
    /// Most replies running at once.
    limit: usize,
}

#[derive(Debug, Default)]
struct Tasks {
    running: Vec<JoinHandle<()>>,
    /// Set by shutdown: a reply started after it is cancelled at once (it still runs, to
    /// store itself as `cancelled`, and shutdown waits for it).
    closing: bool,
}

impl Replies {
    pub(crate) fn new(limit: usize) -> Self {
        Self { entries: Mutex::default(), finished: Mutex::default(), tasks: Mutex::default(), limit }
    }

    /// Refuses (429) when `limit` replies already run.
    pub(crate) fn check_room(&self) -> Result<(), ApiError> {
        let mut tasks = self.tasks.lock().expect("replies lock");
        tasks.running.retain(|t| !t.is_finished());
        if tasks.running.len() < self.limit { Ok(()) } else { Err(crate::openai::busy(self.limit)) }
    }

    /// Runs a started reply on a blocking thread and logs its events.
    pub(crate) fn spawn(self: &Arc<Self>, core: Arc<Core>, model: Arc<dyn ChatModel>, metrics: Arc<Metrics>, started: StartedReply) {
        let id = started.answer.id;
        let (changed, _) = watch::channel(0);
        let entry = Arc::new(Entry { log: Mutex::new(Log { events: Vec::new(), done: false }), changed, cancel: CancelToken::new() });
        let mut tasks = self.tasks.lock().expect("replies lock");
        if tasks.closing {
            entry.cancel.cancel();
        }
        entry.update(|log| {
            log.push(
                "message_start",
                json!({
                    "message_id": id,
                    "chat_id": started.answer.chat_id,
                    "parent_id": started.question.id,
                    "model": started.answer.model,
                }),
            )
        });
        self.entries.lock().expect("replies lock").insert(id, entry.clone());

        let replies = self.clone();
        // The reply's log lines carry the id of the request that started it.
        let span = tracing::Span::current();
        let task = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            metrics.active_streams.inc();
            // A bug in a reply must still end its log, or its readers would wait forever.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                core.run_reply(started, &*model, &entry.cancel, |text| {
                    entry.update(|log| log.push("delta", json!({ "text": text })));
                })
            }))
            .unwrap_or_else(|_| Err(hearth_llm::LlmError::Engine("the reply failed unexpectedly".into()).into()));
            metrics.active_streams.dec();
            entry.update(|log| {
                match outcome {
                    Ok(reply) => {
                        metrics.observe_reply(&reply.usage, &reply.timings);
                        log.push(
                            "message_end",
                            json!({
                                "message": reply.answer,
                                "finish_reason": reply.finish.map(|f| f.as_str()),
                                "usage": reply.usage,
                            }),
                        );
                    }
                    Err(e) => log.push("error", json!({ "error": ApiError::from(e).object() })),
                }
                log.done = true;
            });
            replies.retire(id);
        });
        tasks.running.retain(|t| !t.is_finished());
        tasks.running.push(task);
    }

    /// Forgets the oldest finished logs past the bound.
    fn retire(&self, id: MessageId) {
        let mut finished = self.finished.lock().expect("replies lock");
        finished.push_back(id);
        while finished.len() > KEEP_FINISHED {
            if let Some(old) = finished.pop_front() {
                self.entries.lock().expect("replies lock").remove(&old);
            }
        }
    }

    /// Stops a running reply; it saves its partial text as `cancelled`. Returns false for a
    /// reply this server is not running.
    pub(crate) fn cancel(&self, id: MessageId) -> bool {
        match self.entries.lock().expect("replies lock").get(&id) {
            Some(entry) => {
                entry.cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// The reply's events after `after`, as they come; the stream ends after the last one.
    /// `None` when the server does not know the reply. The stream is driven by its reader
    /// (no task of its own): it reads the log, then waits for the log to change.
    pub(crate) fn events(&self, id: MessageId, after: u64) -> Option<EventStream> {
        let entry = self.entries.lock().expect("replies lock").get(&id).cloned()?;
        // Subscribed before the first read, so a change after that read still wakes it.
        let changed = entry.changed.subscribe();
        let state = Reader { entry, changed, next: after, pending: VecDeque::new(), ended: false };
        Some(Box::pin(futures_util::stream::unfold(state, |mut r| async move {
            loop {
                if let Some(event) = r.pending.pop_front() {
                    r.next = event.id;
                    return Some((event, r));
                }
                if r.ended {
                    return None;
                }
                let done = {
                    let log = r.entry.log.lock().expect("reply log lock");
                    let from = (r.next as usize).min(log.events.len());
                    r.pending.extend(log.events[from..].iter().cloned());
                    log.done
                };
                // Done: hand out what is left, then end. Otherwise wait for more (unless some
                // arrived with this read).
                if done || (r.pending.is_empty() && r.changed.changed().await.is_err()) {
                    r.ended = true;
                }
            }
        })))
    }

    /// Cancels every running reply, and any started from now on, and waits until each has
    /// saved its outcome.
    pub(crate) async fn shutdown(&self) {
        self.tasks.lock().expect("replies lock").closing = true;
        for entry in self.entries.lock().expect("replies lock").values() {
            entry.cancel.cancel();
        }
        loop {
            let Some(task) = self.tasks.lock().expect("replies lock").running.pop() else { break };
            let _ = task.await;
        }
    }
}
