//! `make bench` (workflow part): the engine's own cost, measured against the same work done
//! without it in the same run.
//!
//! 1. A chain of 1,000 `variable` nodes, each reading the one before (`{{#v0041.x#}}` plus a
//!    transform), run through [`WorkflowRuns`] on a file database: validation, the state
//!    machine, reference resolution, every event and record written. The reference does the
//!    same substitutions in a plain loop over a map. Goal: under 0.1 ms per node.
//! 2. A fan-out of 100 `code` nodes (a fresh QuickJS sandbox each, at most 4 at once) into
//!    one output. The reference runs the same 100 scripts through `hearth_sandbox::run` on 4
//!    threads, with no engine. Goal: under 5 ms per node, sandbox start included.
//! 3. What the sandbox's process costs: the same 100 scripts on 4 threads through
//!    `hearth_sandbox::run` (a locked-down child process each, as the engine runs them) and
//!    through `hearth_sandbox::run_in_process` (the same engine on a thread, no isolation).
//!    The `hearth-sandbox` program must be built (`make bench` builds it first).
//!
//! Each side runs 5 times; the medians are printed with the ratio (engine/reference,
//! process/in-process), and go to `bench-results/workflow.json` (or `$HEARTH_BENCH_OUT`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_core::workflow::{RunLimits, RunSource, Services, WorkflowRuns};
use hearth_core::{Core, CoreConfig};
use hearth_llm::fetch::{Fetch, FetchError, FetchFuture, FetchRequest};
use hearth_llm::{CancellationToken, ChatModel, ChatRequest, ChatStream, EmbedInput, Embeddings, LlmError};
use hearth_types::{Graph, RunStatus};
use serde_json::{Map, Value, json};

const CHAIN: usize = 1000;
const FAN_OUT: usize = 100;
const ROUNDS: usize = 5;

/// Neither benchmark calls a model or the network.
#[derive(Debug)]
struct Nothing;

impl ChatModel for Nothing {
    fn chat(&self, _: ChatRequest, _: CancellationToken) -> Result<ChatStream, LlmError> {
        Err(LlmError::Unsupported("no model in this benchmark".into()))
    }
    fn embed(&self, _: &str, _: &[EmbedInput]) -> Result<Embeddings, LlmError> {
        Err(LlmError::Unsupported("no model in this benchmark".into()))
    }
}

impl Fetch for Nothing {
    fn fetch(&self, _: FetchRequest) -> FetchFuture<'_> {
        Box::pin(async { Err(FetchError::Invalid("no network in this benchmark".into())) })
    }
}

fn node(id: &str, kind: &str, x: usize, config: Value) -> Value {
    json!({"id": id, "type": kind, "position": {"x": x * 200, "y": 0}, "config": config})
}

fn edge(source: &str, target: &str) -> Value {
    json!({"id": format!("{source}>{target}"), "source": source, "target": target})
}

fn chain() -> Graph {
    let mut nodes = vec![node("start", "start", 0, json!({"inputs": [{"name": "seed", "type": "string", "required": true}]}))];
    let mut edges = Vec::new();
    let mut previous = "{{#start.seed#}}".to_owned();
    let mut last = "start".to_owned();
    for i in 0..CHAIN {
        let id = format!("v{i:04}");
        // Alternate transforms so each step really reads and rewrites the value.
        let transform = if i % 2 == 0 { "upper" } else { "lower" };
        nodes.push(node(
            &id,
            "variable",
            i + 1,
            json!({"variables": [{"name": "x", "value": format!("{previous}"), "transform": transform}]}),
        ));
        edges.push(edge(&last, &id));
        previous = format!("{{{{#{id}.x#}}}}");
        last = id;
    }
    nodes.push(node("out", "output", CHAIN + 1, json!({"outputs": {"x": previous}})));
    edges.push(edge(&last, "out"));
    serde_json::from_value(json!({"nodes": nodes, "edges": edges})).unwrap()
}

fn script(i: usize) -> String {
    format!("function main(inputs) {{ let s = 0; for (let k = 0; k < 1000; k++) s += k % ({i} + 1); return {{v: s, n: inputs.n}}; }}")
}

fn fan_out() -> Graph {
    let mut nodes = vec![node("start", "start", 0, json!({"inputs": []}))];
    let mut edges = Vec::new();
    let mut outputs = Map::new();
    for i in 0..FAN_OUT {
        let id = format!("c{i:03}");
        nodes.push(node(&id, "code", 1, json!({"code": script(i), "inputs": {"n": i}})));
        edges.push(edge("start", &id));
        edges.push(edge(&id, "out"));
        outputs.insert(id.clone(), json!(format!("{{{{#{id}.v#}}}}")));
    }
    nodes.push(node("out", "output", 2, json!({ "outputs": outputs })));
    serde_json::from_value(json!({"nodes": nodes, "edges": edges})).unwrap()
}

/// The chain's data flow without the engine: the same substitutions and transforms.
fn chain_reference(seed: &str) -> String {
    let mut scope: std::collections::HashMap<String, Value> = std::collections::HashMap::new();
    scope.insert("start".into(), json!({"seed": seed}));
    let mut previous = ("start".to_owned(), "seed");
    for i in 0..CHAIN {
        let id = format!("v{i:04}");
        let value = scope[&previous.0][previous.1].as_str().unwrap();
        let value = if i % 2 == 0 { value.to_uppercase() } else { value.to_lowercase() };
        scope.insert(id.clone(), json!({ "x": value }));
        previous = (id, "x");
    }
    scope[&previous.0]["x"].as_str().unwrap().to_owned()
}

/// One sandbox call: `hearth_sandbox::run` or `hearth_sandbox::run_in_process`.
type Runner =
    fn(&str, &Value, &hearth_sandbox::Limits, &hearth_sandbox::Cancel) -> Result<Map<String, Value>, hearth_sandbox::SandboxError>;

/// The fan-out's scripts through the bare sandbox, on 4 threads like the engine's bound.
fn fan_out_reference(runner: Runner) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= FAN_OUT {
                        break;
                    }
                    let out = runner(&script(i), &json!({"n": i}), &hearth_sandbox::Limits::default(), &hearth_sandbox::Cancel::new());
                    assert!(out.is_ok(), "{out:?}");
                }
            });
        }
    });
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let core = Arc::new(Core::open(&CoreConfig::new(dir.path()), hearth_core::CoreServices::in_memory()).unwrap());
    let services = Services { models: Arc::new(Nothing), default_model: None, http: Arc::new(Nothing) };
    // The default limit of 500 steps would (rightly) stop the 1,000-node chain.
    let limits = RunLimits { max_steps: 10_000, ..RunLimits::default() };
    let workflows = Arc::new(WorkflowRuns::new(core, services).with_limits(limits));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    let (chain, fan) = (chain(), fan_out());
    let mut results = Vec::new();
    for (name, graph, nodes, goal_ms, inputs) in
        [("variable chain", chain, CHAIN, 0.1, json!({"seed": "Hearth"})), ("code fan-out", fan, FAN_OUT, 5.0, json!({}))]
    {
        let inputs = inputs.as_object().unwrap().clone();
        let mut engine = Vec::new();
        let mut reference = Vec::new();
        for _ in 0..ROUNDS {
            let started = Instant::now();
            let detail =
                runtime.block_on(workflows.run_to_end(RunSource::Definition { name: name.into(), graph: graph.clone() }, &inputs)).unwrap();
            engine.push(started.elapsed());
            assert_eq!(detail.run.status, RunStatus::Succeeded, "{:?}", detail.run.error);
            assert_eq!(detail.nodes.len(), nodes + 2);

            let started = Instant::now();
            if nodes == CHAIN {
                assert_eq!(Value::String(chain_reference("Hearth")), detail.run.outputs["x"]);
            } else {
                fan_out_reference(hearth_sandbox::run);
            }
            reference.push(started.elapsed());
        }
        let (e, r) = (median(engine), median(reference));
        let per_node = ms(e) / nodes as f64;
        println!(
            "{name:<15} {nodes:>5} nodes: engine {:>8.1} ms ({per_node:.4} ms/node, goal < {goal_ms} ms: {}), reference {:>8.1} ms, ratio {:.1}x",
            ms(e),
            if per_node < goal_ms { "met" } else { "MISSED" },
            ms(r),
            ms(e) / ms(r).max(1e-6),
        );
        results.push(json!({"benchmark": name, "nodes": nodes, "engine_ms": ms(e), "per_node_ms": per_node, "goal_per_node_ms": goal_ms,
                            "reference_ms": ms(r), "ratio": ms(e) / ms(r).max(1e-6)}));
    }

    // The process's cost per code node, both sides in the same run.
    let (mut process, mut thread) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        for (side, runner) in [(&mut process, hearth_sandbox::run as Runner), (&mut thread, hearth_sandbox::run_in_process as Runner)] {
            let started = Instant::now();
            fan_out_reference(runner);
            side.push(started.elapsed());
        }
    }
    let (p, t) = (median(process), median(thread));
    let (p_node, t_node) = (ms(p) / FAN_OUT as f64, ms(t) / FAN_OUT as f64);
    println!(
        "{:<15} {FAN_OUT:>5} runs:  process {:>8.1} ms ({p_node:.4} ms/node), in process {:>8.1} ms ({t_node:.4} ms/node), ratio {:.1}x",
        "code sandbox",
        ms(p),
        ms(t),
        ms(p) / ms(t).max(1e-6),
    );
    results.push(json!({"benchmark": "code sandbox", "runs": FAN_OUT, "process_ms": ms(p), "process_per_node_ms": p_node,
                        "in_process_ms": ms(t), "in_process_per_node_ms": t_node, "ratio": ms(p) / ms(t).max(1e-6)}));

    let out =
        std::env::var("HEARTH_BENCH_OUT").unwrap_or_else(|_| format!("{}/../../bench-results/workflow.json", env!("CARGO_MANIFEST_DIR")));
    if let Some(parent) = std::path::Path::new(&out).parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&out, serde_json::to_string_pretty(&results).unwrap()).unwrap();
    println!("figures written to {out}");
}
