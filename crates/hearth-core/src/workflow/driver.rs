//! The async driver: performs what the [`Machine`] asks (model calls, code, HTTP), enforces
//! the time limits, feeds results back, and hands every event to the [`Recorder`].
//!
//! Each IO node runs as a task of the driver's own `JoinSet`, with a stop token: a stop
//! from the machine (cancel, a failed node, the wall-time limit) or the node's own timeout
//! cancels the token, and the task ends its work (a model stream's cancel flag, the
//! sandbox's interrupt, dropping the HTTP future) before it reports back. The driver returns
//! only when every task has, so no work outlives its run.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hearth_llm::fetch::{Fetch, FetchError, FetchRequest};
use hearth_llm::{CancellationToken, ChatEvent, ChatMessage, ChatModel, ChatRequest, SamplingParams};
use hearth_secrets::SecretStore;
use hearth_types::{Role, RunStatus};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::machine::{Effect, Failure, Input, Machine, Outcome, Task};
use super::record::Recorder;

/// What IO nodes need from the world.
#[derive(Clone)]
pub struct Services {
    /// Every model (the router in the app).
    pub models: Arc<dyn ChatModel>,
    /// The model an llm node without one uses; `None` asks `models` for its default.
    pub default_model: Option<String>,
    pub http: Arc<dyn Fetch>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").field("default_model", &self.default_model).finish_non_exhaustive()
    }
}

/// How a refused local address can be allowed, for the node's error.
const LOCAL_OPT_IN: &str = "to reach it, turn on \"Allow local and private network addresses\" for this node (allow_local) \
     or the setting workflows.allow_local_network for every node";

/// How often progress is written to the database while a run goes.
const FLUSH_EVERY: Duration = Duration::from_millis(250);

/// What one run may use beyond [`Services`], read when it starts.
#[derive(Clone, Default)]
pub(crate) struct RunOptions {
    /// Every http node may reach local and private addresses (the
    /// `workflows.allow_local_network` setting), not only those that allow it themselves.
    pub(crate) allow_local_network: bool,
    /// Where `{{secret:NAME}}` in header values is looked up, and the origin each secret may go
    /// to: `Err` says why there is no keychain (a node that names a secret fails with it).
    pub(crate) secrets: Option<Result<Secrets, String>>,
    /// Where knowledge nodes search and tool nodes find their tools (the engine's Core);
    /// `None` fails them.
    pub(crate) knowledge: Option<Arc<crate::Core>>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("allow_local_network", &self.allow_local_network)
            .field("secrets", &self.secrets)
            .field("knowledge", &self.knowledge.is_some())
            .finish()
    }
}

/// What a node's attempt works with: the services, Core for knowledge nodes, and where a
/// model's text goes as it streams.
struct Io {
    services: Services,
    knowledge: Option<Arc<crate::Core>>,
    chunks: mpsc::UnboundedSender<(usize, String)>,
}

/// The keychain and the origin each workflow secret is bound to.
#[derive(Clone)]
pub(crate) struct Secrets {
    pub(crate) store: Arc<dyn SecretStore>,
    pub(crate) origins: Map<String, Value>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets").field("names", &self.origins.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

/// Runs `machine` to its end. Returns the final status.
pub(crate) async fn drive(
    mut machine: Machine<'_>,
    workflow_id: Option<hearth_types::WorkflowId>,
    services: &Services,
    recorder: &mut Recorder,
    cancel: CancellationToken,
    wall_time: Duration,
    options: &RunOptions,
) -> RunStatus {
    let mut tasks: JoinSet<(usize, Result<Outcome, Failure>)> = JoinSet::new();
    let mut task_nodes: HashMap<tokio::task::Id, usize> = HashMap::new();
    let mut stops: HashMap<usize, CancellationToken> = HashMap::new();
    let (chunks_tx, mut chunks) = mpsc::unbounded_channel::<(usize, String)>();
    let io = Arc::new(Io { services: services.clone(), knowledge: options.knowledge.clone(), chunks: chunks_tx });
    let deadline = tokio::time::Instant::now() + wall_time;
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut cancel_sent, mut abort_sent) = (false, false);
    let mut effects = machine.start(workflow_id);
    loop {
        for effect in effects.drain(..) {
            match effect {
                Effect::Emit(kind) => recorder.emit(kind),
                Effect::Execute { node, attempt, mut task, timeout, delay } => {
                    if let Task::Http { allow_local, .. } = &mut task {
                        *allow_local |= options.allow_local_network;
                    }
                    let stop = CancellationToken::new();
                    stops.insert(node, stop.clone());
                    let io = io.clone();
                    let secrets = options.secrets.clone();
                    let handle = tasks.spawn(async move {
                        let result = match with_secrets(task, secrets).await {
                            Ok(task) => perform(node, task, timeout, delay, &io, stop).await,
                            Err(e) => Err(Failure::Error(e)),
                        };
                        (node, result)
                    });
                    task_nodes.insert(handle.id(), node);
                    tracing::debug!(node, attempt, "node started");
                }
                Effect::Stop { node } => {
                    if let Some(stop) = stops.get(&node) {
                        stop.cancel();
                    }
                }
                Effect::Finish { status, outputs, error } => {
                    debug_assert!(tasks.is_empty(), "the machine finishes only when nothing runs");
                    recorder.finish(status, outputs, error, machine.steps()).await;
                    return status;
                }
            }
        }
        tokio::select! {
            joined = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let (node, result) = match joined.expect("the set is not empty") {
                    Ok((_, done)) => done,
                    Err(e) => {
                        let node = task_nodes.get(&e.id()).copied().expect("every task is registered");
                        (node, Err(Failure::Error("the node crashed".to_owned())))
                    }
                };
                // The node's text came before its result: publish what is still queued first.
                while let Ok((n, text)) = chunks.try_recv() {
                    recorder.chunk(n, text);
                }
                stops.remove(&node);
                effects = machine.handle(Input::Done { node, result });
            }
            Some((node, text)) = chunks.recv() => recorder.chunk(node, text),
            () = cancel.cancelled(), if !cancel_sent => {
                cancel_sent = true;
                effects = machine.handle(Input::Cancel);
            }
            () = tokio::time::sleep_until(deadline), if !abort_sent => {
                abort_sent = true;
                let reason = format!("the run went past its {} limit", human(wall_time));
                effects = machine.handle(Input::Abort(reason));
            }
            _ = flush.tick() => {
                recorder.flush(false).await;
            }
        }
    }
}

fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(60_000) && ms >= 60_000 {
        format!("{} min", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

/// An http task with the `{{secret:NAME}}` of its header values filled in from the keychain
/// (on a blocking thread: the keychain answers over D-Bus), each only for the origin it is
/// bound to. Other tasks as they are.
async fn with_secrets(task: Task, secrets: Option<Result<Secrets, String>>) -> Result<Task, String> {
    let Task::Http { method, url, headers, body, max_bytes, allow_local } = task else { return Ok(task) };
    if !headers.iter().any(|(_, v)| !super::secrets::references(v).is_empty()) {
        return Ok(Task::Http { method, url, headers, body, max_bytes, allow_local });
    }
    let secrets = match secrets {
        Some(Ok(secrets)) => secrets,
        Some(Err(why)) => return Err(format!("a header names a secret, but the keychain cannot be used: {why}")),
        None => return Err("a header names a secret, but this run has no keychain".to_owned()),
    };
    let to = hearth_llm::fetch::origin(&url)
        .ok_or_else(|| format!("{:?} has no origin to send a secret to", hearth_llm::fetch::redact_url(&url)))?;
    let headers = tokio::task::spawn_blocking(move || {
        headers
            .into_iter()
            .map(|(k, v)| super::secrets::resolve(&v, &to, &secrets.origins, secrets.store.as_ref()).map(|v| (k, v)))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| format!("reading the secrets failed: {e}"))?
    .map_err(|e| e.to_string())?;
    Ok(Task::Http { method, url, headers, body, max_bytes, allow_local })
}

/// Runs one attempt of one node, within its timeout.
async fn perform(
    node: usize,
    task: Task,
    timeout: Option<Duration>,
    delay: Duration,
    io: &Io,
    stop: CancellationToken,
) -> Result<Outcome, Failure> {
    if !delay.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stop.cancelled() => return Err(Failure::Stopped),
        }
    }
    // The sandbox keeps code to its own time limit (and says so in its error); the driver's
    // is only the backstop for it.
    let limit = match &task {
        Task::Code { .. } => timeout.map(|t| t + Duration::from_secs(3)),
        _ => timeout,
    };
    let work = attempt(node, task, timeout, io, stop.clone());
    tokio::pin!(work);
    let Some(limit) = limit else { return work.await };
    tokio::select! {
        result = &mut work => result,
        () = tokio::time::sleep(limit) => {
            // Stop the work and wait for it to let go, then report the timeout.
            stop.cancel();
            let _ = work.await;
            Err(Failure::Error(format!("timed out after {}", human(limit))))
        }
    }
}

async fn attempt(node: usize, task: Task, timeout: Option<Duration>, io: &Io, stop: CancellationToken) -> Result<Outcome, Failure> {
    let services = &io.services;
    match task {
        Task::Llm { model, system_prompt, prompt, temperature, max_tokens } => {
            let model = match model.or_else(|| services.default_model.clone()) {
                Some(m) => m,
                None => return Err(Failure::Error("no model: choose one for this node, or set a default model".to_owned())),
            };
            let mut messages = Vec::new();
            if !system_prompt.trim().is_empty() {
                messages.push(ChatMessage::new(Role::System, system_prompt));
            }
            messages.push(ChatMessage::new(Role::User, prompt));
            let mut params = SamplingParams::default();
            if let Some(t) = temperature {
                params.temperature = t;
            }
            if let Some(m) = max_tokens {
                params.max_tokens = m;
            }
            let request = ChatRequest::new(model.clone(), messages, params);
            let flag = CancellationToken::new();
            let models = services.models.clone();
            let chunks = io.chunks.clone();
            let worker_flag = flag.clone();
            // The model API is blocking: read the stream on a blocking thread.
            let mut reading = tokio::task::spawn_blocking(move || -> Result<(String, u32, u32), Failure> {
                let stream = models.chat(request, worker_flag.clone()).map_err(|e| Failure::Error(e.to_string()))?;
                let mut text = String::new();
                for event in stream {
                    match event.map_err(|e| Failure::Error(e.to_string()))? {
                        ChatEvent::Delta(d) => {
                            text.push_str(&d);
                            let _ = chunks.send((node, d));
                        }
                        ChatEvent::Finished { usage, .. } => return Ok((text, usage.prompt_tokens, usage.completion_tokens)),
                        ChatEvent::ToolCall { .. } | ChatEvent::Fallback { .. } => {}
                    }
                }
                Err(Failure::Error("the model's reply ended without finishing".to_owned()))
            });
            let joined = tokio::select! {
                joined = &mut reading => joined,
                () = stop.cancelled() => {
                    flag.cancel();
                    let _ = reading.await;
                    return Err(Failure::Stopped);
                }
            };
            let (text, prompt_tokens, completion_tokens) = joined.map_err(|e| Failure::Error(format!("the model crashed: {e}")))??;
            let mut outputs = Map::new();
            outputs.insert("text".into(), Value::String(text));
            outputs.insert("model".into(), Value::String(model));
            outputs.insert("prompt_tokens".into(), Value::from(prompt_tokens));
            outputs.insert("completion_tokens".into(), Value::from(completion_tokens));
            Ok(Outcome { outputs })
        }
        Task::Code { code, inputs, memory_mb } => {
            let limits = hearth_sandbox::Limits {
                memory_bytes: memory_mb as usize * (1 << 20),
                timeout: timeout.unwrap_or(hearth_sandbox::Limits::default().timeout),
                ..hearth_sandbox::Limits::default()
            };
            let flag = hearth_sandbox::Cancel::new();
            let worker_flag = flag.clone();
            let mut running = tokio::task::spawn_blocking(move || hearth_sandbox::run(&code, &inputs, &limits, &worker_flag));
            let joined = tokio::select! {
                joined = &mut running => joined,
                () = stop.cancelled() => {
                    flag.cancel();
                    let _ = running.await;
                    return Err(Failure::Stopped);
                }
            };
            let outputs =
                joined.map_err(|e| Failure::Error(format!("the sandbox crashed: {e}")))?.map_err(|e| Failure::Error(e.to_string()))?;
            Ok(Outcome { outputs })
        }
        Task::Knowledge { workspace, query, limit } => {
            let Some(core) = io.knowledge.clone() else {
                return Err(Failure::Error("knowledge is not available to this run".to_owned()));
            };
            // SQLite and the embedding model are blocking; a stop leaves the search to finish
            // on its own (it is short) and reports at once.
            let searching = tokio::task::spawn_blocking(move || knowledge_outputs(&core, &workspace, &query, limit));
            tokio::select! {
                joined = searching => joined.map_err(|e| Failure::Error(format!("the search crashed: {e}")))?.map(|outputs| Outcome { outputs }),
                () = stop.cancelled() => Err(Failure::Stopped),
            }
        }
        Task::Tool { tool, arguments, workspace } => {
            let Some(core) = io.knowledge.clone() else {
                return Err(Failure::Error("tools are not available to this run".to_owned()));
            };
            // The call blocks (a reply's tools run on a thread of their own); a stop reaches
            // the call through its token and reports at once.
            let token = stop.clone();
            let calling = tokio::task::spawn_blocking(move || tool_outputs(&core, &workspace, &tool, arguments, &token));
            tokio::select! {
                joined = calling => joined.map_err(|e| Failure::Error(format!("the tool crashed: {e}")))?.map(|outputs| Outcome { outputs }),
                () = stop.cancelled() => Err(Failure::Stopped),
            }
        }
        Task::Http { method, url, headers, body, max_bytes, allow_local } => {
            let request = FetchRequest { method, url, headers, body, max_bytes, allow_local };
            let response = tokio::select! {
                r = services.http.fetch(request) => r.map_err(|e| match e {
                    FetchError::LocalAddress { .. } => Failure::Error(format!("{e}; {LOCAL_OPT_IN}")),
                    e => Failure::Error(e.to_string()),
                })?,
                () = stop.cancelled() => return Err(Failure::Stopped),
            };
            let is_json = response.headers.iter().any(|(k, v)| k == "content-type" && v.contains("json"));
            let text = String::from_utf8_lossy(&response.body).into_owned();
            let body = if is_json { serde_json::from_str(&text).unwrap_or(Value::String(text)) } else { Value::String(text) };
            let mut headers = Map::new();
            // Cookies a server sets are session credentials: they stay out of the outputs, and
            // so out of later nodes and the run's record.
            for (k, v) in response.headers.into_iter().filter(|(k, _)| k != "set-cookie" && k != "set-cookie2") {
                headers.entry(k).or_insert(Value::String(v));
            }
            let mut outputs = Map::new();
            outputs.insert("status".into(), Value::from(response.status));
            outputs.insert("headers".into(), Value::Object(headers));
            outputs.insert("body".into(), body);
            Ok(Outcome { outputs })
        }
    }
}

/// A knowledge node's outputs: the workspace's passages for `query`, best first (`chunks`),
/// how many (`count`), and `text`, the passages numbered as sources for an llm node's prompt.
fn knowledge_outputs(core: &crate::Core, workspace: &str, query: &str, limit: u32) -> Result<Map<String, Value>, Failure> {
    let fail = |e: crate::Error| Failure::Error(e.to_string());
    let workspace: crate::WorkspaceRef = workspace.parse().map_err(|e: hearth_types::ValidationError| Failure::Error(e.to_string()))?;
    let workspace = core.workspace(&workspace).map_err(fail)?;
    let how = if core.embedder_for(&workspace).map_err(fail)?.is_some() { crate::Retrieval::Hybrid } else { crate::Retrieval::Words };
    let hits = core.retrieve(&crate::WorkspaceRef::Id(workspace.id), query, limit, how).map_err(fail)?;
    let text: Vec<String> = hits
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let page = h.page.map(|p| format!(" (page {p})")).unwrap_or_default();
            format!("[{}] {}{page}\n{}", i + 1, h.title, h.text.trim())
        })
        .collect();
    let mut outputs = Map::new();
    outputs.insert("count".into(), Value::from(hits.len()));
    outputs.insert("text".into(), Value::String(text.join("\n\n")));
    outputs.insert("chunks".into(), serde_json::to_value(&hits).unwrap_or(Value::Array(Vec::new())));
    Ok(outputs)
}

/// A tool node's outputs: the tool's answer as `text`, and as `json` when it is JSON. A tool
/// that changes things runs only once the person allowed it for good (`tools.allowed`): a
/// workflow may have come by sync or import, and nobody is there to ask. A failed call fails
/// the node (its retries and time limit apply).
fn tool_outputs(
    core: &crate::Core,
    workspace: &str,
    name: &str,
    arguments: Value,
    stop: &tokio_util::sync::CancellationToken,
) -> Result<Map<String, Value>, Failure> {
    let fail = |e: crate::Error| Failure::Error(e.to_string());
    let host = core.tool_host().ok_or_else(|| Failure::Error("tools are not available here".to_owned()))?;
    let workspace = match workspace {
        "" => core.workspaces().map_err(fail)?.into_iter().next().ok_or_else(|| Failure::Error("there is no workspace".to_owned()))?,
        named => {
            let named: crate::WorkspaceRef = named.parse().map_err(|e: hearth_types::ValidationError| Failure::Error(e.to_string()))?;
            core.workspace(&named).map_err(fail)?
        }
    };
    let tools = host.tools(workspace.id);
    let Some(spec) = tools.iter().find(|t| t.name == name) else {
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        return Err(Failure::Error(format!("there is no tool named {name:?} (the tools: {})", names.join(", "))));
    };
    if spec.asks && !core.allowed_tools().map_err(fail)?.iter().any(|a| a == name) {
        return Err(Failure::Error(format!(
            "the tool {name:?} changes things and asks first; a workflow runs it only once you allow it for good \
             (\"Always allow\" on one of its calls in a chat, or the setting {})",
            crate::ALLOWED_TOOLS_SETTING
        )));
    }
    let arguments = crate::check_arguments(spec, &arguments.to_string()).map_err(Failure::Error)?;
    let output = host.call(workspace.id, name, arguments, stop);
    if output.is_error {
        return Err(Failure::Error(output.text));
    }
    let mut outputs = Map::new();
    outputs.insert("json".into(), serde_json::from_str(&output.text).unwrap_or(Value::Null));
    outputs.insert("text".into(), Value::String(output.text));
    Ok(outputs)
}
