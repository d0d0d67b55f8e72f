//! The tools a chat's replies may call ([`Toolbox`], Core's `ToolHost`): Hearth's own and
//! those of the attached MCP servers ([`Hub`]).
//!
//! Hearth's own, each one Core use case (the same ones its MCP server offers other agents):
//!
//! | name | does | asks first |
//! |---|---|---|
//! | `current_time` | the date and time in the workspace's time zone (or one named) | no |
//! | `search_knowledge` | passages of this workspace's documents | no |
//! | `search_chats` | the user's messages that match words | no |
//! | `run_workflow` | runs a workflow by name with a text input, and waits for it | yes |
//! | `fetch_url` | a web page's text, through the workflow `http` node's guarded client (public addresses only, 1 MiB), only when [`FETCH_SETTING`] is on | yes |
//!
//! Calls are blocking (a reply runs on a thread of its own) and run on the app's runtime,
//! each with a time limit; cancelling the reply stops the call.

use std::sync::Arc;
use std::time::Duration;

use hearth_core::{Core, ServerHealth, ToolHost, ToolOutput, ToolSpec, WorkspaceRef};
use hearth_llm::CancellationToken;
use hearth_llm::fetch::{Fetch, FetchRequest};
use hearth_types::WorkspaceId;
use serde_json::{Value, json};

use crate::{Context, Hub};

pub use hearth_core::FETCH_TOOL_SETTING as FETCH_SETTING;
/// The most a fetched page may weigh.
const FETCH_BYTES: u64 = 1024 * 1024;
/// How long a built-in tool may take (a workflow run has longer).
const BUILTIN_TIMEOUT: Duration = Duration::from_secs(60);
const WORKFLOW_TIMEOUT: Duration = Duration::from_secs(300);

/// Hearth's tools and the attached servers', for Core's replies.
pub struct Toolbox {
    context: Context,
    hub: Arc<Hub>,
    fetch: Arc<dyn Fetch>,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for Toolbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Toolbox").finish_non_exhaustive()
    }
}

impl Toolbox {
    /// Tools over `context`, with `hub`'s servers; calls run on `runtime`.
    pub fn new(context: Context, hub: Arc<Hub>, fetch: Arc<dyn Fetch>, runtime: tokio::runtime::Handle) -> Self {
        Self { context, hub, fetch, runtime }
    }

    fn builtins(&self) -> Vec<ToolSpec> {
        let tool = |name: &str, description: &str, parameters: Value, asks: bool| ToolSpec {
            name: name.into(),
            description: description.into(),
            parameters,
            asks,
            source: "hearth".into(),
        };
        let query = |what: &str| {
            json!({"type": "object", "properties": {
                "query": {"type": "string", "description": what},
                "limit": {"type": "integer", "minimum": 1, "maximum": 20}
            }, "required": ["query"]})
        };
        let mut tools = vec![
            tool(
                "current_time",
                "The current date and time.",
                json!({"type": "object", "properties": {"timezone": {"type": "string", "description": "An IANA time zone, e.g. Europe/Paris"}}}),
                false,
            ),
            tool("search_knowledge", "Search this workspace's documents; passages best first.", query("What to look for"), false),
            tool("search_chats", "Search the user's earlier chat messages by words.", query("Words to find"), false),
            tool(
                "run_workflow",
                "Run one of the user's workflows by name with a text input, and get its outputs.",
                json!({"type": "object", "properties": {
                    "workflow": {"type": "string", "description": "The workflow's name or id"},
                    "input": {"type": "string"}
                }, "required": ["workflow", "input"]}),
                true,
            ),
        ];
        let fetch_on = self.context.core.settings().ok().and_then(|s| s.get(FETCH_SETTING).and_then(Value::as_bool)).unwrap_or(false);
        if fetch_on {
            tools.push(tool(
                "fetch_url",
                "Fetch a public web page or file by URL and get its text.",
                json!({"type": "object", "properties": {"url": {"type": "string", "description": "An http or https URL"}}, "required": ["url"]}),
                true,
            ));
        }
        tools
    }

    /// Runs one of Hearth's own tools.
    fn builtin(&self, workspace: WorkspaceId, name: &str, args: &Value, cancel: &CancellationToken) -> ToolOutput {
        let core = &self.context.core;
        let text = |key: &str| args.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        let limit = args.get("limit").and_then(Value::as_u64).unwrap_or(5).clamp(1, 20) as u32;
        let json_or_error = |r: hearth_core::Result<Value>| match r {
            Ok(v) => ToolOutput::ok(v.to_string()),
            Err(e) => ToolOutput::error(e.to_string()),
        };
        match name {
            "current_time" => current_time(core, workspace, args.get("timezone").and_then(Value::as_str)),
            "search_knowledge" => json_or_error(core.search_knowledge(&WorkspaceRef::Id(workspace), &text("query"), limit).map(|hits| {
                Value::from_iter(hits.into_iter().map(|h| json!({"title": h.title, "path": h.path, "page": h.page, "text": h.text})))
            })),
            "search_chats" => json_or_error(core.search(&text("query"), None, limit).map(|hits| {
                Value::from_iter(hits.into_iter().map(|h| json!({"chat": h.chat_title, "chat_id": h.chat_id, "text": h.snippet.text})))
            })),
            "run_workflow" => self.on_runtime(cancel, WORKFLOW_TIMEOUT, self.run_workflow(text("workflow"), text("input"))),
            "fetch_url" => self.on_runtime(cancel, BUILTIN_TIMEOUT, self.fetch_url(text("url"))),
            other => ToolOutput::error(format!("there is no tool named {other:?}")),
        }
    }

    /// Runs `work` on the app's runtime from this (blocking) thread, within `limit`; the
    /// reply's cancelling stops it.
    fn on_runtime(&self, cancel: &CancellationToken, limit: Duration, work: impl Future<Output = ToolOutput>) -> ToolOutput {
        self.runtime.block_on(async {
            tokio::select! {
                _ = cancel.cancelled() => ToolOutput::error("the reply was stopped"),
                done = tokio::time::timeout(limit, work) => {
                    done.unwrap_or_else(|_| ToolOutput::error(format!("the tool did not finish within {} s", limit.as_secs())))
                }
            }
        })
    }

    async fn run_workflow(&self, workflow: String, input: String) -> ToolOutput {
        let core = self.context.core.clone();
        let id = match tokio::task::spawn_blocking(move || crate::tools::find_workflow(&core, &workflow)).await {
            Ok(Ok(id)) => id,
            Ok(Err(e)) => return ToolOutput::error(e),
            Err(e) => return ToolOutput::error(e.to_string()),
        };
        let runs = &self.context.workflows;
        let run = match runs.start_with_text(id, &input) {
            Ok(run) => run,
            Err(e) => return ToolOutput::error(e.to_string()),
        };
        match runs.wait(run.id).await {
            Ok(d) => {
                let value = json!({"run_id": d.run.id, "status": d.run.status, "outputs": d.run.outputs, "error": d.run.error});
                ToolOutput { text: value.to_string(), is_error: d.run.error.is_some() }
            }
            Err(e) => ToolOutput::error(e.to_string()),
        }
    }

    async fn fetch_url(&self, url: String) -> ToolOutput {
        let request = FetchRequest {
            method: "GET".into(),
            url,
            headers: Vec::new(),
            body: String::new(),
            max_bytes: FETCH_BYTES,
            allow_local: false,
        };
        match self.fetch.fetch(request).await {
            Ok(r) => {
                let body = String::from_utf8_lossy(&r.body).into_owned();
                ToolOutput { text: format!("HTTP {}\n\n{body}", r.status), is_error: r.status >= 400 }
            }
            Err(e) => ToolOutput::error(e.to_string()),
        }
    }
}

/// The time now in `zone`, or the workspace's time zone.
fn current_time(core: &Core, workspace: WorkspaceId, zone: Option<&str>) -> ToolOutput {
    let name = match zone {
        Some(zone) => zone.to_owned(),
        None => match core.workspace(&WorkspaceRef::Id(workspace)) {
            Ok(w) => w.timezone.to_string(),
            Err(e) => return ToolOutput::error(e.to_string()),
        },
    };
    match jiff::tz::db().get(&name) {
        Ok(tz) => {
            let now = jiff::Timestamp::now().to_zoned(tz);
            ToolOutput::ok(json!({"now": now.to_string(), "weekday": now.strftime("%A").to_string(), "timezone": name}).to_string())
        }
        Err(_) => ToolOutput::error(format!("{name:?} is not a time zone")),
    }
}

impl ToolHost for Toolbox {
    fn tools(&self, workspace: WorkspaceId) -> Vec<ToolSpec> {
        let mut tools = self.builtins();
        tools.extend(self.hub.tools(workspace));
        tools
    }

    fn call(&self, workspace: WorkspaceId, name: &str, arguments: Value, cancel: &CancellationToken) -> ToolOutput {
        if self.builtins().iter().any(|t| t.name == name) {
            return self.builtin(workspace, name, &arguments, cancel);
        }
        // The hub's calls have the client's own time limit; this one is only a backstop.
        self.on_runtime(cancel, crate::client::CALL_TIMEOUT + Duration::from_secs(5), self.hub.call(name, arguments))
    }

    fn changed(&self) {
        self.hub.changed();
    }

    fn health(&self) -> Vec<(String, ServerHealth)> {
        self.hub.health()
    }
}
