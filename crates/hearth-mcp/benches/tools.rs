//! `make bench` (tools part): what a tool round trip adds to a chat reply, model time
//! excluded, measured against calling the same tool directly in the same run.
//!
//! The model is scripted (it calls the tool, then answers, in no time), so a reply's time is
//! Hearth's own: the loop's stores (the call's message, its `tool` message, the result, the
//! next message), the argument check against the schema, the call itself and the event
//! steps. Each reply with a call is paired with the same reply without one; the difference is
//! the round trip. The reference is the tool called directly:
//!
//! 1. Built-in `current_time` (through the toolbox, the reply's own path): reference
//!    `Toolbox::call`.
//! 2. An MCP stdio tool, `get_current_time` of `mcp-server-time` (PyPI; its path in
//!    `$HEARTH_BENCH_MCP_TIME`, `make bench` takes it from the API suite's venv), started by
//!    the hub as the app starts it: reference a bare `rmcp` session's `call_tool` on its own
//!    process (`client::Connection::call`).
//!
//! Each side runs [`ROUNDS`] times; the medians go to stdout with the ratio (added by the
//! loop / the direct call), and to `bench-results/tools.json` (or `$HEARTH_BENCH_OUT`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_core::workflow::{Services, WorkflowRuns};
use hearth_core::{
    Approval, ApprovalRequest, Approver, Core, CoreConfig, CoreServices, McpTransport, ModelRouter, NewMcpServer, ReplyRequest,
    TOOLS_SETTING, ToolHost, WorkspaceRef,
};
use hearth_llm::testing::ScriptedModel;
use hearth_llm::{CancellationToken, SamplingParams, ToolChoice};
use hearth_mcp::{Context, Hub, Toolbox, client};
use hearth_types::{Handle, NewWorkspace, ToolCall, WorkspacePatch};
use serde_json::{Value, json};

const ROUNDS: usize = 30;

/// Says yes at once: the time a person takes is not Hearth's.
struct Yes;

impl Approver for Yes {
    fn approve(&self, _: &ApprovalRequest<'_>, _: &CancellationToken) -> Approval {
        Approval::Once
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One reply in `chat`, timed: the model calls `call` (or just answers).
fn reply(core: &Core, chat: hearth_types::ChatId, call: Option<&ToolCall>) -> Duration {
    let model = match call {
        Some(call) => ScriptedModel::new(["done"]).calling(vec![call.clone()]),
        None => ScriptedModel::new(["done"]),
    };
    let choice = call.map(|c| ToolChoice::Function(c.name.clone())).unwrap_or(ToolChoice::None);
    let request = ReplyRequest { tool_choice: Some(choice), ..ReplyRequest::new(chat, "now?", "m", SamplingParams::greedy(4)) };
    let clock = Instant::now();
    let started = core.start_reply(&request).unwrap();
    let done = core.run_reply_with(started, &model, &CancellationToken::new(), &Yes, |_| {}).unwrap();
    let took = clock.elapsed();
    assert!(done.answer.content == "done", "{:?}", done.answer);
    took
}

/// The median time a call adds to a reply, and the median direct call.
fn measure(core: &Core, chat: hearth_types::ChatId, call: &ToolCall, direct: impl Fn() -> Duration) -> (Duration, Duration) {
    let (mut with, mut without, mut alone) = (Vec::new(), Vec::new(), Vec::new());
    // One of each first, unmeasured: the server's and the database's first touches.
    reply(core, chat, Some(call));
    direct();
    for _ in 0..ROUNDS {
        with.push(reply(core, chat, Some(call)));
        without.push(reply(core, chat, None));
        alone.push(direct());
    }
    (median(with).saturating_sub(median(without)), median(alone))
}

fn main() {
    let server = std::env::var("HEARTH_BENCH_MCP_TIME").expect("HEARTH_BENCH_MCP_TIME: the mcp-server-time program (make bench sets it)");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let core = Arc::new(Core::open(&CoreConfig::new(dir.path()), CoreServices::in_memory()).unwrap());
    let mut settings = serde_json::Map::new();
    settings.insert(TOOLS_SETTING.into(), Value::Bool(true));
    let ws = core.create_workspace(&NewWorkspace::new("Bench", Handle::parse("bench").unwrap()).unwrap()).unwrap();
    core.update_workspace(&WorkspaceRef::Id(ws.id), &WorkspacePatch { settings: Some(settings), ..Default::default() }).unwrap();
    let chat = core.create_chat(&WorkspaceRef::Id(ws.id), "bench", None).unwrap().id;

    let transport =
        McpTransport::Stdio { command: server.clone(), args: vec!["--local-timezone".into(), "UTC".into()], env: Default::default() };
    let new = NewMcpServer { name: "time".into(), transport, workspace: None, enabled: true, secrets: Default::default() };
    core.put_mcp_server(new).unwrap();

    let models = Arc::new(ModelRouter::new(core.clone(), Arc::new(ScriptedModel::new(["x"]))));
    let http = Arc::new(hearth_llm::fetch::HttpFetch::new());
    let workflows = Arc::new(WorkflowRuns::new(core.clone(), Services { models: models.clone(), default_model: None, http: http.clone() }));
    let hub = Hub::new(core.clone());
    let toolbox = Arc::new(Toolbox::new(Context { core: core.clone(), models, workflows }, hub.clone(), http, runtime.handle().clone()));
    core.attach_tools(toolbox.clone());
    let closing = tokio_util::sync::CancellationToken::new();
    runtime.spawn(hub.clone().run(closing.clone()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !hub.health().iter().any(|(_, h)| matches!(h, hearth_core::ServerHealth::Ready { .. })) {
        assert!(Instant::now() < deadline, "mcp-server-time did not start: {:?}", hub.health());
        std::thread::sleep(Duration::from_millis(50));
    }

    let builtin = ToolCall { id: "call_b".into(), name: "current_time".into(), arguments: r#"{"timezone": "UTC"}"#.into() };
    let (builtin_added, builtin_direct) = measure(&core, chat, &builtin, || {
        let clock = Instant::now();
        let out = toolbox.call(ws.id, "current_time", json!({"timezone": "UTC"}), &CancellationToken::new());
        assert!(!out.is_error, "{out:?}");
        clock.elapsed()
    });

    // The reference session: the same server program, a session of its own.
    let launch = core.mcp_launch("time").unwrap();
    let raw = runtime.block_on(client::connect(&launch, client::HANDSHAKE_TIMEOUT)).unwrap();
    let mcp = ToolCall { id: "call_m".into(), name: "time__get_current_time".into(), arguments: r#"{"timezone": "UTC"}"#.into() };
    let (mcp_added, mcp_direct) = measure(&core, chat, &mcp, || {
        let arguments = json!({"timezone": "UTC"}).as_object().unwrap().clone();
        let clock = Instant::now();
        let out = runtime.block_on(raw.call("get_current_time", arguments, client::CALL_TIMEOUT)).unwrap();
        assert!(!out.is_error, "{out:?}");
        clock.elapsed()
    });

    let report = |what: &str, added: Duration, direct: Duration| {
        let ratio = ms(added) / ms(direct).max(1e-6);
        println!("{what:<34} round trip in a reply {:>8.3} ms   called directly {:>8.3} ms   ratio {ratio:>6.2}", ms(added), ms(direct));
        json!({"added_ms": ms(added), "direct_ms": ms(direct), "ratio": ratio})
    };
    println!("tools: the time a tool call adds to a reply (model time excluded), medians of {ROUNDS}");
    let results = json!({
        "rounds": ROUNDS,
        "builtin_current_time": report("built-in current_time", builtin_added, builtin_direct),
        "mcp_stdio_get_current_time": report("MCP stdio get_current_time", mcp_added, mcp_direct),
    });
    closing.cancel();
    let out =
        std::env::var("HEARTH_BENCH_OUT").unwrap_or_else(|_| format!("{}/../../bench-results/tools.json", env!("CARGO_MANIFEST_DIR")));
    if let Some(parent) = std::path::Path::new(&out).parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&out, serde_json::to_string_pretty(&results).unwrap()).unwrap();
    println!("figures written to {out}");
}
