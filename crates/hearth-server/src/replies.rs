//! Replies running in the background, and their event logs.
//!
//! Sending a message starts a reply that belongs to the server, not to the HTTP connection
//! that asked for it: a dropped connection does not stop it, and a client can read (or
//! re-read) its events at any time. Each reply has a log of numbered events
//! (`message_start`, `delta`..., `citations` when the workspace's knowledge gave it passages,
//! then `message_end` or `error`; a reply that calls tools adds, per call, `tool_call` (and
//! `approval` once a person answered one that asks), `tool_result`, then a `message_start`
//! for the message that goes on after the results); a reader asks for the events
//! after the last id it saw (`Last-Event-ID`) and then waits for more. Logs of finished
//! replies are kept, up to a bound, so a client that lost the end can still read it.
//!
//! Every reply task is owned here (a `TaskTracker`): [`Replies::shutdown`] waits for each to
//! save what it has, after the server's closing token (each reply's token is a child of it)
//! has cancelled them. A reply holds its place in the room (`limits.rs`) from before its
//! messages are stored until it has saved its outcome.
//!
//! A tool call that asks first waits for [`Replies::approve`] (the approval route), for at
//! most [`APPROVAL_WAIT`]; cancelling the reply, or no answer in time, denies it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use hearth_core::{Approval, ApprovalRequest, Approver, Core, ReplyStep, StartedReply};
use hearth_llm::{CancellationToken, ChatModel};
use hearth_types::MessageId;
use serde_json::json;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use crate::error::ApiError;
use crate::limits::{Room, Slot};
use crate::metrics::Metrics;

/// How many finished replies keep their logs.
const KEEP_FINISHED: usize = 256;
/// How long a tool call waits for a person's approval before it is denied.
pub(crate) const APPROVAL_WAIT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

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
    cancel: CancellationToken,
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
    /// By each of a reply's assistant messages (a reply that called tools has several).
    entries: Mutex<HashMap<MessageId, Arc<Entry>>>,
    /// Tool calls waiting for a person, by their `tool` message: where the answer goes, and
    /// where the reply reads it. Both are made before the `tool_call` event is logged, so an
    /// answer that comes right after it is never lost.
    waiting: Mutex<HashMap<MessageId, std::sync::mpsc::Sender<Approval>>>,
    answers: Mutex<HashMap<MessageId, std::sync::mpsc::Receiver<Approval>>>,
    finished: Mutex<VecDeque<MessageId>>,
    /// Places for the replies running at once.
    room: Room,
    /// Every reply task, and every task that is storing a reply before it starts.
    tasks: TaskTracker,
}

impl Replies {
    pub(crate) fn new(room: Room) -> Self {
        Self {
            entries: Mutex::default(),
            waiting: Mutex::default(),
            answers: Mutex::default(),
            finished: Mutex::default(),
            room,
            tasks: TaskTracker::new(),
        }
    }

    /// A place for a new reply, taken before its messages are stored; 429 when every place
    /// is taken. Dropped unused (the store refused), it frees the place.
    pub(crate) fn reserve(&self) -> Result<Slot, ApiError> {
        self.room.take()
    }

    /// Runs `start` as a task shutdown waits for (storing a reply, then spawning it).
    pub(crate) fn track<F: std::future::Future + Send + 'static>(&self, start: F) -> tokio::task::JoinHandle<F::Output>
    where
        F::Output: Send + 'static,
    {
        self.tasks.spawn(start)
    }

    /// Runs a started reply on a blocking thread, in the place `slot` holds, and logs its
    /// events; the place is freed once the reply has saved its outcome.
    pub(crate) fn spawn(
        self: &Arc<Self>,
        slot: Slot,
        core: Arc<Core>,
        model: Arc<dyn ChatModel>,
        metrics: Arc<Metrics>,
        started: StartedReply,
    ) {
        let id = started.answer.id;
        let (changed, _) = watch::channel(0);
        let entry = Arc::new(Entry { log: Mutex::new(Log { events: Vec::new(), done: false }), changed, cancel: slot.cancel_token() });
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
        self.tasks.spawn_blocking(move || {
            let _entered = span.enter();
            metrics.active_streams.inc();
            // A bug in a reply must still end its log, or its readers would wait forever.
            let approver = Waiting { replies: &replies, entry: &entry };
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                core.run_reply_with(started, &*model, &entry.cancel, &approver, |step| match step {
                    ReplyStep::Text(text) => entry.update(|log| log.push("delta", json!({ "text": text }))),
                    ReplyStep::ToolCall { call, message, asks } => {
                        if asks {
                            replies.expect_answer(message.id);
                        }
                        entry.update(|log| {
                            let approval = if asks { "required" } else { "not_needed" };
                            log.push("tool_call", json!({ "message_id": message.id, "call": call, "approval": approval }))
                        })
                    }
                    ReplyStep::ToolResult { message } => entry.update(|log| log.push("tool_result", json!({ "message": message }))),
                    ReplyStep::Continued { message } => {
                        replies.entries.lock().expect("replies lock").insert(message.id, entry.clone());
                        entry.update(|log| {
                            log.push(
                                "message_start",
                                json!({
                                    "message_id": message.id,
                                    "chat_id": message.chat_id,
                                    "parent_id": message.parent_id,
                                    "model": message.model,
                                }),
                            )
                        });
                    }
                })
            }))
            .unwrap_or_else(|_| Err(hearth_llm::LlmError::Engine("the reply failed unexpectedly".into()).into()));
            metrics.active_streams.dec();
            entry.update(|log| {
                match outcome {
                    Ok(reply) => {
                        metrics.observe_reply(&reply.usage, &reply.timings);
                        if !reply.answer.citations.is_empty() {
                            log.push("citations", json!({ "message_id": reply.answer.id, "citations": reply.answer.citations }));
                        }
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
            drop(slot);
            replies.retire(id);
        });
    }

    /// Forgets the oldest finished logs past the bound (under every id a log is known by).
    fn retire(&self, id: MessageId) {
        let mut finished = self.finished.lock().expect("replies lock");
        finished.push_back(id);
        while finished.len() > KEEP_FINISHED {
            if let Some(old) = finished.pop_front() {
                let mut entries = self.entries.lock().expect("replies lock");
                if let Some(entry) = entries.remove(&old) {
                    entries.retain(|_, e| !Arc::ptr_eq(e, &entry));
                }
            }
        }
    }

    /// Makes the place for a person's answer to the call under `message`.
    fn expect_answer(&self, message: MessageId) {
        let (answer, answered) = std::sync::mpsc::channel();
        self.waiting.lock().expect("replies lock").insert(message, answer);
        self.answers.lock().expect("replies lock").insert(message, answered);
    }

    /// A person's answer to a tool call that waits for one; false when no call waits under
    /// that `tool` message here.
    pub(crate) fn approve(&self, message: MessageId, decision: Approval) -> bool {
        match self.waiting.lock().expect("replies lock").remove(&message) {
            Some(answer) => answer.send(decision).is_ok(),
            None => false,
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

    /// Waits until every reply has saved its outcome. The server's closing token, cancelled
    /// first, has cancelled them all (and any started from now on).
    pub(crate) async fn shutdown(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// Asks for a tool call's approval through the approval route, and logs the answer.
struct Waiting<'a> {
    replies: &'a Replies,
    entry: &'a Entry,
}

impl Approver for Waiting<'_> {
    fn approve(&self, request: &ApprovalRequest<'_>, cancel: &CancellationToken) -> Approval {
        let Some(answered) = self.replies.answers.lock().expect("replies lock").remove(&request.message) else {
            // Only a call announced as asking waits; anything else is a bug to refuse safely.
            return Approval::Deny;
        };
        let asked = std::time::Instant::now();
        // Checked often enough for a stop to feel immediate; the wait itself is a person's.
        let decision = loop {
            match answered.recv_timeout(std::time::Duration::from_millis(50)) {
                Ok(decision) => break decision,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) if !cancel.is_cancelled() && asked.elapsed() < APPROVAL_WAIT => {}
                Err(_) => break Approval::Deny,
            }
        };
        self.replies.waiting.lock().expect("replies lock").remove(&request.message);
        self.entry.update(|log| log.push("approval", json!({ "message_id": request.message, "decision": decision })));
        decision
    }
}
