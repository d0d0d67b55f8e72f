//! The engine without IO: validation, references, import, the state machine driven by
//! hand, and the driver over scripted services (a model that streams a fixed reply, a fetch
//! that answers or never does) with paused time.

use std::sync::Arc;
use std::time::Duration;

use hearth_llm::Usage;
use hearth_llm::fetch::{Fetch, FetchError, FetchFuture, FetchRequest, FetchResponse};
use hearth_llm::testing::ScriptedModel;
use hearth_types::{Graph, NodeStatus, RunEvent, RunEventKind, RunStatus};
use serde_json::{Map, Value, json};

use super::graph::{Plan, plan, validate};
use super::import::normalize;
use super::machine::{Effect, Failure, Input, Machine, Outcome, RunLimits, Task, check_inputs};
use super::template::Scope;
use super::{RunSource, Services, WorkflowRuns};
use crate::Core;

fn graph(v: Value) -> Graph {
    serde_json::from_value(v).expect("a test graph parses")
}

fn node(id: &str, kind: &str, config: Value) -> Value {
    json!({"id": id, "type": kind, "position": {"x": 0, "y": 0}, "config": config})
}

fn edge(source: &str, target: &str) -> Value {
    json!({"id": format!("{source}-{target}"), "source": source, "target": target})
}

fn branch(source: &str, target: &str, handle: &str) -> Value {
    json!({"id": format!("{source}-{target}"), "source": source, "target": target, "sourceHandle": handle})
}

fn start(inputs: Value) -> Value {
    node("start", "start", json!({ "inputs": inputs }))
}

fn var(id: &str, name: &str, value: Value) -> Value {
    node(id, "variable", json!({"variables": [{"name": name, "value": value}]}))
}

fn output(outputs: Value) -> Value {
    node("out", "output", json!({ "outputs": outputs }))
}

// ------------------------------------------------------------------ validation

/// Validates a graph and checks each expected problem (node or edge, and a piece of the
/// message) is reported, and nothing else.
fn check(g: Value, expected: &[(&str, &str)]) {
    let problems = validate(&graph(g));
    let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    for (who, text) in expected {
        assert!(
            problems
                .iter()
                .any(|p| (p.node_id.as_deref() == Some(who) || p.edge_id.as_deref() == Some(who) || who.is_empty())
                    && p.message.contains(text)),
            "expected a problem for {who:?} containing {text:?}, got {shown:#?}"
        );
    }
    assert_eq!(problems.len(), expected.len(), "unexpected problems: {shown:#?}");
}

#[test]
fn a_sound_graph_has_no_problems() {
    check(
        json!({"nodes": [start(json!([{"name": "q", "type": "string", "required": true}])),
                         var("v", "x", json!("{{#start.q#}}")), output(json!({"x": "{{#v.x#}}"}))],
               "edges": [edge("start", "v"), edge("v", "out")]}),
        &[],
    );
}

#[test]
fn validation_lists_every_problem_naming_its_node() {
    check(json!({"nodes": [output(json!({"a": 1}))], "edges": []}), &[("", "needs a start node")]);
    check(
        json!({"nodes": [start(json!([])), node("s2", "start", json!({})), output(json!({"a": 1}))],
               "edges": [edge("start", "out"), edge("s2", "out")]}),
        &[("s2", "exactly one start node")],
    );
    check(
        json!({"nodes": [start(json!([])), node("weird", "teleport", json!({})), output(json!({"a": 1}))],
               "edges": [edge("start", "weird"), edge("weird", "out")]}),
        &[("weird", "unknown node type \"teleport\"")],
    );
    // Kahn's algorithm leaves the cycle and everything after it: each is named.
    check(
        json!({"nodes": [start(json!([])), var("a", "x", json!(1)), var("b", "y", json!(2)), output(json!({"a": 1}))],
               "edges": [edge("start", "a"), edge("a", "b"), edge("b", "a"), edge("b", "out")]}),
        &[("a", "cycle"), ("b", "cycle"), ("out", "cycle")],
    );
    check(
        json!({"nodes": [start(json!([])), output(json!({"a": "{{#ghost.text#}}"}))], "edges": [edge("start", "out"), edge("out", "nowhere")]}),
        &[("out", "missing node \"ghost\""), ("out-nowhere", "goes to a missing node \"nowhere\"")],
    );
    check(
        json!({"nodes": [start(json!([])), var("a", "x", json!("{{#b.y#}}")), var("b", "y", json!(1)), output(json!({"a": 1}))],
               "edges": [edge("start", "a"), edge("a", "b"), edge("b", "out")]}),
        &[("a", "does not run before it")],
    );
    check(
        json!({"nodes": [start(json!([])), node("ask", "llm", json!({"temperature": 9})), output(json!({"a": 1}))],
               "edges": [edge("start", "ask"), edge("ask", "out")]}),
        &[("ask", "prompt_template is required"), ("ask", "temperature must be a number")],
    );
    check(
        json!({"nodes": [start(json!([])), node("c", "condition", json!({"rules": [{"left": "a", "op": "like", "right": "b"}]})), output(json!({"a": 1}))],
               "edges": [edge("start", "c"), edge("c", "out")]}),
        &[("c", "unknown op \"like\""), ("c-out", "without saying which branch")],
    );
    check(
        json!({"nodes": [start(json!([])), output(json!({"a": 1})), var("lost", "x", json!(1))], "edges": [edge("start", "out")]}),
        &[("lost", "cannot be reached")],
    );
}

#[test]
fn invalid_json_is_a_problem_not_a_crash() {
    let err = super::parse_definition("{\"nodes\": [").unwrap_err();
    assert!(err[0].message.contains("not valid JSON"), "{err:?}");
    let err = normalize(&json!({"edges": []})).unwrap_err();
    assert!(err[0].message.contains("nodes"), "{err:?}");
}

// ------------------------------------------------------------------ references

#[test]
fn references_resolve_with_their_types() {
    let mut scope = Scope::default();
    scope.set("a", json!({"n": 3, "list": [{"name": "x"}], "s": "hi"}));
    scope.set("skipped", Value::Null);
    assert_eq!(scope.render("{{#a.n#}}").unwrap(), json!(3));
    assert_eq!(scope.render("n={{#a.n#}}, {{#a.s#}}").unwrap(), json!("n=3, hi"));
    assert_eq!(scope.render("{{# a.list.0.name #}}").unwrap(), json!("x"));
    assert_eq!(scope.render("[{{#skipped.text#}}]").unwrap(), json!("[]"));
    assert_eq!(scope.render("{{#a.list#}}").unwrap(), json!([{"name": "x"}]));
    assert_eq!(scope.render("{{#a.n").unwrap(), json!("{{#a.n"), "an unclosed reference is text");
    let err = scope.render("{{#a.missing#}}").unwrap_err().0;
    assert!(err.contains("has no \"missing\""), "{err}");
}

// ------------------------------------------------------------------ import

#[test]
fn the_simple_format_imports_with_placeholders_and_layout() {
    let imported = normalize(&json!({
        "nodes": [{"id": "s", "type": "start"},
                  {"id": "a", "type": "llm", "config": {"prompt_template": "Summarize: {input} (keep {{#s.input#}})"}},
                  {"id": "o", "type": "output"}],
        "edges": [{"source": "s", "target": "a"}, {"source": "a", "target": "o"}]
    }))
    .unwrap();
    let g = &imported.graph;
    assert_eq!(g.nodes[1].config["prompt_template"], json!("Summarize: {{#s.input#}} (keep {{#s.input#}})"));
    assert_eq!(g.nodes[0].config["inputs"], json!([{"name": "input", "type": "string", "required": true}]));
    assert_eq!(g.nodes[2].config["outputs"], json!({"text": "{{#a.text#}}"}));
    assert_eq!((g.nodes[0].position.x, g.nodes[1].position.x, g.nodes[2].position.x), (0.0, 260.0, 520.0));
    assert_eq!(g.edges[0].id, "e1");
    assert!(validate(g).is_empty(), "{:?}", validate(g));
}

#[test]
fn only_the_simple_format_turns_braces_into_inputs() {
    // Named edges: the canonical format, where `{answer}` is just text in a prompt.
    let imported = normalize(&json!({
        "nodes": [start(json!([])), node("a", "llm", json!({"prompt_template": "Reply as {answer}"})), output(json!({"t": "{{#a.text#}}"}))],
        "edges": [edge("start", "a"), edge("a", "out")]
    }))
    .unwrap();
    assert_eq!(imported.graph.nodes[1].config["prompt_template"], json!("Reply as {answer}"));
    assert_eq!(imported.graph.nodes[0].config["inputs"], json!([]));
}

#[test]
fn a_graph_past_the_size_limit_is_refused_before_it_is_checked() {
    let nodes: Vec<Value> = (0..=super::MAX_NODES).map(|i| var(&format!("v{i}"), "x", json!(1))).collect();
    let problems = validate(&graph(json!({"nodes": nodes, "edges": []})));
    assert_eq!(problems.len(), 1);
    assert!(problems[0].message.contains("at most 5000 nodes"), "{problems:?}");
}

#[test]
fn react_flow_exports_keep_their_settings() {
    let imported = normalize(&json!({
        "nodes": [{"id": "s", "type": "start", "position": {"x": 5, "y": 6}, "data": {"label": "Start", "inputs": []}},
                  {"id": "o", "type": "output", "position": {"x": 9, "y": 6}, "data": {"config": {"outputs": {"k": "v"}}}}],
        "edges": [{"id": "x", "source": "s", "target": "o", "sourceHandle": null}],
        "viewport": {"x": 0, "y": 0, "zoom": 1}
    }))
    .unwrap();
    assert_eq!(imported.graph.nodes[0].config, json!({"inputs": []}).as_object().unwrap().clone());
    assert_eq!(imported.graph.nodes[1].config["outputs"], json!({"k": "v"}));
    assert_eq!(imported.graph.nodes[1].position.x, 9.0);
    assert!(validate(&imported.graph).is_empty());
}

// ------------------------------------------------------------------ the machine by hand

fn planned(g: Value) -> Plan {
    plan(&graph(g)).unwrap_or_else(|p| panic!("problems: {p:?}"))
}

/// The events among effects, as `type:node` labels.
fn labels(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Emit(RunEventKind::NodeStarted { node_id, .. }) => Some(format!("start:{node_id}")),
            Effect::Emit(RunEventKind::NodeFinished { node_id, status, .. }) => Some(format!("{}:{node_id}", status.as_str())),
            Effect::Emit(RunEventKind::RunFinished { status, .. }) => Some(format!("run:{}", status.as_str())),
            Effect::Execute { node, attempt, .. } => Some(format!("exec:{node}#{attempt}")),
            Effect::Stop { node } => Some(format!("stop:{node}")),
            _ => None,
        })
        .collect()
}

fn finish(effects: &[Effect]) -> Option<(RunStatus, Map<String, Value>, Option<String>)> {
    effects.iter().find_map(|e| match e {
        Effect::Finish { status, outputs, error } => Some((*status, outputs.clone(), error.clone())),
        _ => None,
    })
}

fn index(p: &Plan, id: &str) -> usize {
    p.nodes.iter().position(|n| n.id == id).unwrap()
}

fn ok(outputs: Value) -> Result<Outcome, Failure> {
    Ok(Outcome { outputs: outputs.as_object().unwrap().clone() })
}

#[test]
fn pure_nodes_run_at_once_and_the_output_is_the_result() {
    let p = planned(json!({
        "nodes": [start(json!([{"name": "name", "type": "string", "required": true}])),
                  node("v", "variable", json!({"variables": [{"name": "greeting", "value": "hello {{#start.name#}}", "transform": "upper"}]})),
                  output(json!({"answer": "{{#v.greeting#}}"}))],
        "edges": [edge("start", "v"), edge("v", "out")]}));
    let inputs = check_inputs(&p, json!({"name": "ada"}).as_object().unwrap()).unwrap();
    let mut m = Machine::new(&p, inputs, RunLimits::default());
    let fx = m.start(None);
    assert_eq!(labels(&fx), ["start:start", "succeeded:start", "start:v", "succeeded:v", "start:out", "succeeded:out", "run:succeeded"]);
    let (status, outputs, error) = finish(&fx).unwrap();
    assert_eq!((status, Value::Object(outputs), error), (RunStatus::Succeeded, json!({"answer": "HELLO ADA"}), None));
}

#[test]
fn a_condition_takes_one_branch_and_skips_the_other_down_to_the_join() {
    let p = planned(json!({
        "nodes": [start(json!([{"name": "n", "type": "number", "required": true}])),
                  node("c", "condition", json!({"logic": "all", "rules": [{"left": "{{#start.n#}}", "op": "greater", "right": 10}]})),
                  var("big", "size", json!("big")), var("small", "size", json!("small")), var("tiny", "size2", json!("tiny")),
                  output(json!({"big": "{{#big.size#}}", "small": "{{#small.size#}}"}))],
        "edges": [edge("start", "c"), branch("c", "big", "true"), branch("c", "small", "false"),
                  edge("small", "tiny"), edge("big", "out"), edge("tiny", "out")]}));
    let mut m = Machine::new(&p, json!({"n": 42}).as_object().unwrap().clone(), RunLimits::default());
    let fx = m.start(None);
    assert_eq!(
        labels(&fx),
        [
            "start:start",
            "succeeded:start",
            "start:c",
            "succeeded:c",
            "start:big",
            "succeeded:big",
            "skipped:small",
            "skipped:tiny",
            "start:out",
            "succeeded:out",
            "run:succeeded"
        ]
    );
    // The skipped branch reads as nothing at the join.
    assert_eq!(Value::Object(finish(&fx).unwrap().1), json!({"big": "big", "small": null}));

    let mut m = Machine::new(&p, json!({"n": 3}).as_object().unwrap().clone(), RunLimits::default());
    let fx = m.start(None);
    assert!(labels(&fx).contains(&"skipped:big".to_owned()) && labels(&fx).contains(&"succeeded:tiny".to_owned()), "{:?}", labels(&fx));
}

#[test]
fn a_branch_skipped_everywhere_skips_its_whole_tail() {
    let p = planned(json!({
        "nodes": [start(json!([])), node("c", "condition", json!({"rules": [{"left": "a", "op": "equals", "right": "b"}]})),
                  var("t1", "x", json!(1)), var("t2", "x", json!(2)), output(json!({"x": "{{#t2.x#}}"})), var("f", "x", json!(3))],
        "edges": [edge("start", "c"), branch("c", "t1", "true"), edge("t1", "t2"), edge("t2", "out"), branch("c", "f", "false")]}));
    let mut m = Machine::new(&p, Map::new(), RunLimits::default());
    let fx = m.start(None);
    // Settled edges are followed in order: breadth first from the condition.
    assert_eq!(labels(&fx)[4..], ["skipped:t1", "start:f", "succeeded:f", "skipped:t2", "skipped:out", "run:succeeded"]);
    assert_eq!(finish(&fx).unwrap().1, Map::new(), "no output node ran");
}

fn fan_out(width: usize) -> Plan {
    let mut nodes = vec![start(json!([]))];
    let mut edges = Vec::new();
    let mut outs = Map::new();
    for i in 0..width {
        let id = format!("c{i}");
        nodes.push(node(&id, "code", json!({"code": format!("function main() {{ return {{v: {i}}}; }}")})));
        edges.push(edge("start", &id));
        edges.push(edge(&id, "out"));
        outs.insert(id.clone(), json!(format!("{{{{#{id}.v#}}}}")));
    }
    nodes.push(output(Value::Object(outs)));
    planned(json!({"nodes": nodes, "edges": edges}))
}

#[test]
fn independent_branches_run_together_within_the_bound() {
    let p = fan_out(3);
    let limits = RunLimits { max_parallel: 2, ..RunLimits::default() };
    let mut m = Machine::new(&p, Map::new(), limits);
    let fx = m.start(None);
    let (c0, c1, c2) = (index(&p, "c0"), index(&p, "c1"), index(&p, "c2"));
    assert_eq!(
        labels(&fx),
        ["start:start", "succeeded:start", "start:c0", format!("exec:{c0}#1").as_str(), "start:c1", format!("exec:{c1}#1").as_str()]
    );
    // One finishing frees a slot for the third; the join waits for all three.
    let fx = m.handle(Input::Done { node: c1, result: ok(json!({"v": 1})) });
    assert_eq!(labels(&fx), ["succeeded:c1", "start:c2", format!("exec:{c2}#1").as_str()]);
    assert!(finish(&m.handle(Input::Done { node: c0, result: ok(json!({"v": 0})) })).is_none());
    let fx = m.handle(Input::Done { node: c2, result: ok(json!({"v": 2})) });
    assert_eq!(Value::Object(finish(&fx).unwrap().1), json!({"c0": 0, "c1": 1, "c2": 2}));
}

#[test]
fn a_failed_attempt_is_retried_with_backoff_then_fails_the_run() {
    let p = planned(json!({
        "nodes": [start(json!([])), node("h", "http", json!({"url": "http://127.0.0.1:9/", "retries": 2})), output(json!({"s": "{{#h.status#}}"}))],
        "edges": [edge("start", "h"), edge("h", "out")]}));
    let h = index(&p, "h");
    let mut m = Machine::new(&p, Map::new(), RunLimits::default());
    let fx = m.start(None);
    assert!(matches!(fx.last(), Some(Effect::Execute { attempt: 1, delay, .. }) if delay.is_zero()));
    let fx = m.handle(Input::Done { node: h, result: Err(Failure::Error("refused".into())) });
    assert!(matches!(fx.last(), Some(Effect::Execute { attempt: 2, delay, .. }) if *delay == Duration::from_millis(100)), "{fx:?}");
    let fx = m.handle(Input::Done { node: h, result: Err(Failure::Error("refused".into())) });
    assert!(matches!(fx.last(), Some(Effect::Execute { attempt: 3, delay, .. }) if *delay == Duration::from_millis(200)), "{fx:?}");
    let fx = m.handle(Input::Done { node: h, result: Err(Failure::Error("refused again".into())) });
    assert_eq!(labels(&fx), ["failed:h", "run:failed"]);
    let (status, _, error) = finish(&fx).unwrap();
    assert_eq!((status, error.as_deref()), (RunStatus::Failed, Some("node \"h\" failed: refused again")));
    assert_eq!(m.steps(), 4, "start plus three attempts");

    // A retry that succeeds carries on.
    let mut m = Machine::new(&p, Map::new(), RunLimits::default());
    m.start(None);
    m.handle(Input::Done { node: h, result: Err(Failure::Error("flaky".into())) });
    let fx = m.handle(Input::Done { node: h, result: ok(json!({"status": 200})) });
    assert_eq!(Value::Object(finish(&fx).unwrap().1), json!({"s": 200}));
}

#[test]
fn a_failure_stops_the_running_nodes_and_the_run_ends_when_they_report() {
    let p = fan_out(3);
    let (c0, c1, c2) = (index(&p, "c0"), index(&p, "c1"), index(&p, "c2"));
    let mut m = Machine::new(&p, Map::new(), RunLimits::default());
    m.start(None);
    let fx = m.handle(Input::Done { node: c1, result: Err(Failure::Error("boom".into())) });
    assert_eq!(labels(&fx), ["failed:c1", format!("stop:{c0}").as_str(), format!("stop:{c2}").as_str()]);
    assert!(finish(&m.handle(Input::Done { node: c0, result: Err(Failure::Stopped) })).is_none());
    let fx = m.handle(Input::Done { node: c2, result: Err(Failure::Stopped) });
    assert_eq!(labels(&fx), ["cancelled:c2", "run:failed"]);
}

#[test]
fn cancel_stops_everything_and_ends_cancelled() {
    let p = fan_out(2);
    let (c0, c1) = (index(&p, "c0"), index(&p, "c1"));
    let mut m = Machine::new(&p, Map::new(), RunLimits::default());
    m.start(None);
    let fx = m.handle(Input::Cancel);
    assert_eq!(labels(&fx), [format!("stop:{c0}"), format!("stop:{c1}")]);
    m.handle(Input::Done { node: c0, result: Err(Failure::Stopped) });
    // A node that finished just as the stop came keeps its result; nothing new starts.
    let fx = m.handle(Input::Done { node: c1, result: ok(json!({"v": 1})) });
    assert_eq!(labels(&fx), ["succeeded:c1", "run:cancelled"]);
    assert!(m.handle(Input::Cancel).is_empty(), "a finished run ignores more input");
}

#[test]
fn the_step_limit_ends_a_long_run() {
    let mut nodes = vec![start(json!([]))];
    let mut edges = Vec::new();
    for i in 0..5 {
        nodes.push(var(&format!("v{i}"), "x", json!(i)));
        edges.push(edge(if i == 0 { "start" } else { "" }, &format!("v{i}")));
    }
    for (i, e) in edges.iter_mut().enumerate().skip(1) {
        e["source"] = json!(format!("v{}", i - 1));
        e["id"] = json!(format!("e{i}"));
    }
    let p = planned(json!({"nodes": nodes, "edges": edges}));
    let mut m = Machine::new(&p, Map::new(), RunLimits { max_steps: 3, ..RunLimits::default() });
    let fx = m.start(None);
    let (status, _, error) = finish(&fx).unwrap();
    assert_eq!((status, error.as_deref()), (RunStatus::Failed, Some("the run went past its limit of 3 steps")));
    assert_eq!(labels(&fx).iter().filter(|l| l.starts_with("succeeded:")).count(), 3);
}

#[test]
fn inputs_are_typed_and_checked() {
    let p = planned(json!({
        "nodes": [start(json!([{"name": "n", "type": "number", "required": true},
                               {"name": "flag", "type": "boolean", "default": false},
                               {"name": "o", "type": "object"}])), output(json!({"n": "{{#start.n#}}"}))],
        "edges": [edge("start", "out")]}));
    let given = |v: Value| v.as_object().unwrap().clone();
    assert_eq!(
        Value::Object(check_inputs(&p, &given(json!({"n": "7", "o": "{\"a\":1}"}))).unwrap()),
        json!({"n": 7, "flag": false, "o": {"a": 1}})
    );
    let err = check_inputs(&p, &given(json!({"flag": "maybe", "extra": 1}))).unwrap_err().0;
    assert!(
        err.contains("unknown input \"extra\"") && err.contains("\"n\" is required") && err.contains("\"flag\" must be a boolean"),
        "{err}"
    );
    assert!(check_inputs(&p, &given(json!({"n": "seven"}))).unwrap_err().0.contains("\"n\" must be a number"));
}

#[test]
fn io_tasks_get_their_references_resolved() {
    let p = planned(json!({
        "nodes": [start(json!([{"name": "q", "type": "string"}])),
                  node("ask", "llm", json!({"prompt_template": "Q: {{#start.q#}}", "system_prompt": "Be brief", "max_tokens": 8})),
                  output(json!({"a": "{{#ask.text#}}"}))],
        "edges": [edge("start", "ask"), edge("ask", "out")]}));
    let mut m = Machine::new(&p, json!({"q": "why?"}).as_object().unwrap().clone(), RunLimits::default());
    let fx = m.start(None);
    let task = fx.iter().find_map(|e| if let Effect::Execute { task, timeout, .. } = e { Some((task.clone(), *timeout)) } else { None });
    assert_eq!(
        task,
        Some((
            Task::Llm { model: None, system_prompt: "Be brief".into(), prompt: "Q: why?".into(), temperature: None, max_tokens: Some(8) },
            Some(Duration::from_secs(300))
        ))
    );
}

// ------------------------------------------------------------------ the driver, scripted

/// A model that streams its reply word by word, then ` <the last message>`, or waits for
/// cancel when `hang` is set.
fn scripted(reply: &str, hang: bool) -> ScriptedModel {
    let usage = Usage { prompt_tokens: 5, completion_tokens: 3, cached_prompt_tokens: 0 };
    let model = ScriptedModel::new(reply.split_inclusive(' ')).echoing().with_usage(usage).without_embeddings();
    if hang { model.holding() } else { model }
}

/// A fetch that answers JSON, or never answers.
#[derive(Debug)]
struct Web {
    hang: bool,
}

impl Fetch for Web {
    fn fetch(&self, request: FetchRequest) -> FetchFuture<'_> {
        let hang = self.hang;
        Box::pin(async move {
            if hang {
                std::future::pending::<()>().await;
            }
            if request.url.contains("refuse") {
                return Err(FetchError::Unreachable { url: request.url, reason: "connection refused".into() });
            }
            Ok(FetchResponse {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: format!("{{\"echo\": {:?}}}", request.url).into_bytes(),
            })
        })
    }
}

fn service(hang: bool) -> Arc<WorkflowRuns> {
    let core = Arc::new(Core::in_memory().unwrap());
    let services =
        Services { models: Arc::new(scripted("hello there", hang)), default_model: Some("scripted".into()), http: Arc::new(Web { hang }) };
    Arc::new(WorkflowRuns::new(core, services))
}

fn llm_flow() -> Graph {
    graph(json!({
        "nodes": [start(json!([{"name": "q", "type": "string", "required": true}])),
                  node("ask", "llm", json!({"prompt_template": "{{#start.q#}}"})),
                  node("h", "http", json!({"url": "http://example.test/{{#start.q#}}"})),
                  output(json!({"text": "{{#ask.text#}}", "echo": "{{#h.body.echo#}}"}))],
        "edges": [edge("start", "ask"), edge("start", "h"), edge("ask", "out"), edge("h", "out")]}))
}

fn inputs(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

async fn collect(wf: &Arc<WorkflowRuns>, id: hearth_types::RunId, after: u64) -> Vec<RunEvent> {
    use futures_util::StreamExt;
    wf.events(id, after).unwrap().collect().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_recorded_whole_and_its_events_replay() {
    let wf = service(false);
    let stored = wf
        .core()
        .create_workflow(&hearth_types::NewWorkflow { name: "flow".into(), description: String::new(), graph: llm_flow() })
        .unwrap();
    let run = wf.start(RunSource::Stored(stored.id), &inputs(json!({"q": "sea"}))).unwrap();
    assert_eq!(run.status, RunStatus::Running);
    let live = collect(&wf, run.id, 0).await;
    let detail = wf.wait(run.id).await.unwrap();

    assert_eq!(detail.run.status, RunStatus::Succeeded, "{:?}", detail.run.error);
    assert_eq!(Value::Object(detail.run.outputs.clone()), json!({"text": "hello there <sea>", "echo": "http://example.test/sea"}));
    assert_eq!((detail.run.steps, detail.run.prompt_tokens, detail.run.completion_tokens), (4, 5, 3));
    assert!(detail.run.finished_at.is_some() && detail.run.duration_ms.is_some());
    let statuses: Vec<(&str, NodeStatus, u32)> = detail.nodes.iter().map(|n| (n.node_id.as_str(), n.status, n.attempts)).collect();
    assert_eq!(statuses.len(), 4);
    assert!(statuses.iter().all(|(_, s, a)| *s == NodeStatus::Succeeded && *a == 1), "{statuses:?}");
    let ask = detail.nodes.iter().find(|n| n.node_id == "ask").unwrap();
    assert_eq!(ask.inputs["prompt"], json!("sea"));
    assert_eq!((ask.prompt_tokens, ask.completion_tokens), (5, 3));

    // The live stream: numbered from 1 without gaps, chunks before their node's end, one end.
    let seqs: Vec<u64> = live.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=live.len() as u64).collect::<Vec<_>>());
    assert!(matches!(live[0].kind, RunEventKind::RunStarted { .. }));
    assert!(matches!(live.last().unwrap().kind, RunEventKind::RunFinished { status: RunStatus::Succeeded, .. }));
    let chunks: String =
        live.iter().filter_map(|e| if let RunEventKind::TextChunk { text, .. } = &e.kind { Some(text.as_str()) } else { None }).collect();
    assert_eq!(chunks, "hello there <sea>");
    let ask_end = live.iter().position(|e| matches!(&e.kind, RunEventKind::NodeFinished { node_id, .. } if node_id == "ask")).unwrap();
    assert!(live.iter().rposition(|e| matches!(e.kind, RunEventKind::TextChunk { .. })).unwrap() < ask_end);

    // Replayed from the database after the end: the same log; from a point: the rest.
    assert_eq!(collect(&wf, run.id, 0).await, live);
    assert_eq!(collect(&wf, run.id, 3).await, live[3..]);
    assert_eq!(wf.core().runs(Some(stored.id), 10).unwrap()[0].id, run.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_reaches_into_model_streams_http_calls_and_running_code() {
    let wf = service(true);
    // The model and the fetch hang until stopped; the code loops until interrupted.
    let mut g = llm_flow();
    g.nodes.insert(
        3,
        serde_json::from_value(node("js", "code", json!({"code": "function main() { while (true) {} }", "timeout_ms": 600_000}))).unwrap(),
    );
    g.edges.extend([serde_json::from_value(edge("start", "js")).unwrap(), serde_json::from_value(edge("js", "out")).unwrap()]);
    let run = wf.start(RunSource::Definition { name: "hang".into(), graph: g }, &inputs(json!({"q": "x"}))).unwrap();
    // Wait until the three IO nodes are going, then cancel.
    let mut events = wf.events(run.id, 0).unwrap();
    let mut started = 0;
    while started < 3 {
        use futures_util::StreamExt;
        if let RunEventKind::NodeStarted { node_type, .. } = events.next().await.unwrap().kind
            && node_type != "start"
        {
            started += 1;
        }
    }
    wf.cancel(run.id).unwrap();
    let detail = wf.wait(run.id).await.unwrap();
    assert_eq!(detail.run.status, RunStatus::Cancelled);
    let by_id = |id: &str| detail.nodes.iter().find(|n| n.node_id == id).unwrap().status;
    assert_eq!((by_id("ask"), by_id("h"), by_id("js")), (NodeStatus::Cancelled, NodeStatus::Cancelled, NodeStatus::Cancelled));
    assert!(detail.nodes.iter().all(|n| n.node_id != "out"), "the output never started");
}

#[tokio::test(start_paused = true)]
async fn node_timeouts_and_the_wall_time_limit_end_hung_work() {
    // A node timeout fails the node (after its retry) and the run.
    let wf = service(true);
    let g = graph(json!({
        "nodes": [start(json!([])), node("h", "http", json!({"url": "http://slow.test/", "timeout_ms": 1000, "retries": 1})), output(json!({"s": "{{#h.status#}}"}))],
        "edges": [edge("start", "h"), edge("h", "out")]}));
    let detail = wf.run_to_end(RunSource::Definition { name: "slow".into(), graph: g }, &Map::new()).await.unwrap();
    assert_eq!(detail.run.status, RunStatus::Failed);
    assert_eq!(detail.run.error.as_deref(), Some("node \"h\" failed: timed out after 1 s"));
    assert_eq!(detail.nodes.iter().find(|n| n.node_id == "h").unwrap().attempts, 2);

    // Without a node timeout, the run's wall time ends it.
    let wf = Arc::new(
        WorkflowRuns::new(
            wf.core().clone(),
            Services { models: Arc::new(scripted("", true)), default_model: None, http: Arc::new(Web { hang: true }) },
        )
        .with_limits(RunLimits { wall_time: Duration::from_secs(60), ..RunLimits::default() }),
    );
    let g = graph(json!({
        "nodes": [start(json!([])), node("h", "http", json!({"url": "http://slow.test/", "timeout_ms": 3_600_000})), output(json!({"s": "{{#h.status#}}"}))],
        "edges": [edge("start", "h"), edge("h", "out")]}));
    let detail = wf.run_to_end(RunSource::Definition { name: "slow".into(), graph: g }, &Map::new()).await.unwrap();
    assert_eq!((detail.run.status, detail.run.error.as_deref()), (RunStatus::Failed, Some("the run went past its 1 min limit")));
    assert_eq!(detail.nodes[1].status, NodeStatus::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_error_is_recorded_with_its_message() {
    let wf = service(false);
    for (step, expected) in [
        (node("n", "http", json!({"url": "http://refuse.test/"})), "could not reach http://refuse.test/: connection refused"),
        (node("n", "code", json!({"code": "function main() { throw new Error('nope'); }"})), "main threw: Error: nope"),
        (
            node("n", "variable", json!({"variables": [{"name": "x", "value": "abc", "transform": "to_number"}]})),
            "variable \"x\": abc is not a number",
        ),
    ] {
        let g = graph(
            json!({"nodes": [start(json!([])), step, output(json!({"s": "{{#n.x#}}"}))], "edges": [edge("start", "n"), edge("n", "out")]}),
        );
        let detail = wf.run_to_end(RunSource::Definition { name: "bad".into(), graph: g }, &Map::new()).await.unwrap();
        assert_eq!(detail.run.status, RunStatus::Failed);
        let n = detail.nodes.iter().find(|n| n.node_id == "n").unwrap();
        assert_eq!(n.status, NodeStatus::Failed);
        assert!(n.error.as_deref().unwrap().starts_with(expected), "{:?}", n.error);
        assert_eq!(detail.run.error.as_deref(), Some(format!("node \"n\" failed: {}", n.error.as_deref().unwrap()).as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_left_running_by_a_dead_process_is_marked_interrupted() {
    let core = Arc::new(Core::in_memory().unwrap());
    let ghost = |name: &str| hearth_types::Run {
        id: hearth_types::RunId::new(),
        workflow_id: None,
        workflow_name: name.into(),
        status: RunStatus::Running,
        inputs: Map::new(),
        outputs: Map::new(),
        error: None,
        steps: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        started_at: hearth_types::Timestamp::now(),
        finished_at: None,
        duration_ms: None,
    };
    let (dead, kept) = (ghost("dead"), ghost("kept"));
    for run in [&dead, &kept] {
        core.store.write(|w| w.insert_run(run, &Graph::default())).unwrap();
    }
    // A fresh heartbeat belongs to a live process: left alone by the service's sweep.
    let services = Services { models: Arc::new(scripted("", false)), default_model: None, http: Arc::new(Web { hang: false }) };
    let wf = Arc::new(WorkflowRuns::new(core.clone(), services));
    assert_eq!(wf.run(dead.id).unwrap().run.status, RunStatus::Running);
    // Once stale, it was left by a process that died; a caller's own runs are kept.
    assert_eq!(core.store.write(|w| w.interrupt_runs(-1, &[kept.id])).unwrap(), 1);
    let detail = core.run(dead.id).unwrap();
    assert_eq!((detail.run.status, detail.run.error.as_deref()), (RunStatus::Failed, Some(hearth_store::INTERRUPTED)));
    assert_eq!(core.run(kept.id).unwrap().run.status, RunStatus::Running);
    let events = collect(&wf, dead.id, 0).await;
    assert!(
        matches!(events.as_slice(), [RunEvent { seq: 1, kind: RunEventKind::RunFinished { status: RunStatus::Failed, .. }, .. }]),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_run_another_process_ended_stops_writing_and_keeps_its_outcome_here() {
    let wf = service(true);
    let run = wf.start(RunSource::Definition { name: "hang".into(), graph: llm_flow() }, &inputs(json!({"q": "x"}))).unwrap();
    let mut events = wf.events(run.id, 0).unwrap();
    while !matches!(futures_util::StreamExt::next(&mut events).await.unwrap().kind, RunEventKind::TextChunk { .. }) {}
    // Another process wrongly decides this one is dead (a laptop asleep, say).
    wf.core().store.write(|w| w.interrupt_runs(-1, &[])).unwrap();
    // Waiting starts before the cancel (polled once: it now holds the live run). A wait that
    // began after the run's task had ended would read the store, which says interrupted.
    let waiting = wf.wait(run.id);
    tokio::pin!(waiting);
    assert!(futures_util::poll!(&mut waiting).is_pending());
    wf.cancel(run.id).unwrap();
    let here = waiting.await.unwrap();
    assert_eq!(here.run.status, RunStatus::Cancelled, "this process saw it to its end");
    let stored = wf.core().run(run.id).unwrap();
    assert_eq!((stored.run.status, stored.run.error.as_deref()), (RunStatus::Failed, Some(hearth_store::INTERRUPTED)));
    // The stored log has exactly one end: the interrupt's; no batch of the live run collided with it.
    let ends = wf.core().store.read(|r| r.run_events(run.id, 0)).unwrap();
    assert_eq!(ends.iter().filter(|e| matches!(e.kind, RunEventKind::RunFinished { .. })).count(), 1);
    let seqs: Vec<u64> = ends.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
}

#[test]
fn nodes_waiting_for_a_slot_are_recorded_cancelled_when_the_run_ends() {
    let p = fan_out(3);
    let (c0, c1, c2) = (index(&p, "c0"), index(&p, "c1"), index(&p, "c2"));
    let mut m = Machine::new(&p, Map::new(), RunLimits { max_parallel: 1, ..RunLimits::default() });
    let fx = m.start(None);
    assert_eq!(labels(&fx).last().unwrap(), &format!("exec:{c0}#1"));
    let fx = m.handle(Input::Cancel);
    assert_eq!(labels(&fx), ["cancelled:c1", "cancelled:c2", format!("stop:{c0}").as_str()]);
    let fx = m.handle(Input::Done { node: c0, result: Err(Failure::Stopped) });
    assert_eq!(labels(&fx), ["cancelled:c0", "run:cancelled"]);
    let _ = (c1, c2);
}

#[test]
fn retries_count_against_the_step_limit() {
    let p = planned(json!({
        "nodes": [start(json!([])), node("h", "http", json!({"url": "http://x.test/", "retries": 5})), output(json!({"s": "{{#h.status#}}"}))],
        "edges": [edge("start", "h"), edge("h", "out")]}));
    let h = index(&p, "h");
    let mut m = Machine::new(&p, Map::new(), RunLimits { max_steps: 3, ..RunLimits::default() });
    m.start(None);
    m.handle(Input::Done { node: h, result: Err(Failure::Error("no".into())) });
    let fx = m.handle(Input::Done { node: h, result: Err(Failure::Error("no again".into())) });
    assert_eq!(labels(&fx), ["failed:h", "run:failed"]);
    assert_eq!(finish(&fx).unwrap().2.as_deref(), Some("the run went past its limit of 3 steps"));
}

#[test]
fn no_room_at_all_still_runs_one_node_at_a_time() {
    let p = fan_out(2);
    let mut m = Machine::new(&p, Map::new(), RunLimits { max_parallel: 0, ..RunLimits::default() });
    assert_eq!(labels(&m.start(None)).iter().filter(|l| l.starts_with("exec:")).count(), 1);
}

// ------------------------------------------------------------------ http requests from templates

#[test]
fn an_http_node_writes_its_origin_out_before_any_reference() {
    let flow = |config: Value| {
        json!({"nodes": [start(json!([{"name": "p", "type": "string"}])), node("h", "http", config), output(json!({"s": "{{#h.status#}}"}))],
               "edges": [edge("start", "h"), edge("h", "out")]})
    };
    for url in [
        "https://api.example.com{{#start.p#}}",
        "{{#start.p#}}",
        "https://{{#start.p#}}/x",
        "https://api.example.com:{{#start.p#}}/",
        "https://user@{{#start.p#}}/",
        "https:{{#start.p#}}",
        "ftp://example.com/{{#start.p#}}",
    ] {
        check(flow(json!({"url": url})), &[("h", "write the scheme and host in full")]);
    }
    for url in [
        "https://api.example.com/{{#start.p#}}",
        "https://api.example.com?q={{#start.p#}}",
        "http://127.0.0.1:8080/v1/{{#start.p#}}#x",
        "https://api.example.com/plain",
    ] {
        check(flow(json!({"url": url})), &[]);
    }
    check(flow(json!({"url": "https://api.example.com/", "allow_local": "yes"})), &[("h", "allow_local must be true or false")]);
}

/// A fetch that records every request. It answers 200 with `{}`, except that it refuses
/// 127.0.0.1 as the real one does when the request does not allow local addresses.
#[derive(Debug, Default)]
struct Recording {
    seen: std::sync::Mutex<Vec<FetchRequest>>,
}

impl Fetch for Recording {
    fn fetch(&self, request: FetchRequest) -> FetchFuture<'_> {
        self.seen.lock().unwrap().push(request.clone());
        Box::pin(async move {
            if request.url.contains("//127.0.0.1") && !request.allow_local {
                return Err(FetchError::LocalAddress { host: "127.0.0.1".into(), addresses: vec![[127, 0, 0, 1].into()] });
            }
            let headers = vec![("set-cookie".to_owned(), "sid=session-secret".to_owned()), ("x-request-id".to_owned(), "r1".to_owned())];
            Ok(FetchResponse { status: 200, headers, body: b"{}".to_vec() })
        })
    }
}

/// Runs start -> http node `h` (with `config`) -> output with the given inputs (strings `p`
/// and `q`, object `o`), with `setting` as the local-network setting when given; returns the
/// run and the requests the fetch received.
async fn fetched(config: Value, given: Value, setting: Option<Value>) -> (hearth_types::RunDetail, Vec<FetchRequest>) {
    let core = Arc::new(Core::in_memory().unwrap());
    if let Some(value) = setting {
        core.set_setting(crate::ALLOW_LOCAL_NETWORK_SETTING, &value).unwrap();
    }
    let web = Arc::new(Recording::default());
    let services = Services { models: Arc::new(scripted("", false)), default_model: None, http: web.clone() };
    let wf = Arc::new(WorkflowRuns::new(core, services));
    let declared = json!([{"name": "p", "type": "string"}, {"name": "q", "type": "string"}, {"name": "o", "type": "object"}]);
    let g = graph(json!({
        "nodes": [start(declared), node("h", "http", config), output(json!({"s": "{{#h.status#}}"}))],
        "edges": [edge("start", "h"), edge("h", "out")]}));
    let detail = wf.run_to_end(RunSource::Definition { name: "fetch".into(), graph: g }, &inputs(given)).await.unwrap();
    let seen = web.seen.lock().unwrap().clone();
    (detail, seen)
}

fn node_error(detail: &hearth_types::RunDetail, id: &str) -> String {
    detail.nodes.iter().find(|n| n.node_id == id).and_then(|n| n.error.clone()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_values_are_encoded_so_the_request_keeps_its_host() {
    let config = json!({"url": "https://api.example.com/v1/{{#start.p#}}?q={{#start.q#}}", "headers": {"Authorization": "Bearer k"}});
    let (detail, seen) = fetched(config, json!({"p": "@evil.com/x", "q": "a&b=c #d"}), None).await;
    assert_eq!(detail.run.status, RunStatus::Succeeded, "{:?}", detail.run.error);
    assert_eq!(seen[0].url, "https://api.example.com/v1/%40evil.com%2Fx?q=a%26b%3Dc%20%23d");
    assert_eq!(seen[0].headers, [("Authorization".to_owned(), "Bearer k".to_owned())]);

    // The origin check behind validation: a template validation refuses (its host runs into
    // the reference) still cannot be steered elsewhere at run time.
    let mut scope = Scope::default();
    for (value, expected) in [
        (".evil.com", "the URL's values would send the request to https://api.example.com.evil.com instead of https://api.example.com"),
        ("@evil.com/x", "the URL's values make it no longer an http or https URL of https://api.example.com"),
    ] {
        scope.set("start", json!({ "p": value }));
        let error = super::request::render_url(&scope, "https://api.example.com{{#start.p#}}").unwrap_err();
        assert_eq!(error.0, expected);
    }
    scope.set("start", json!({"p": ""}));
    assert_eq!(super::request::render_url(&scope, "https://api.example.com{{#start.p#}}").unwrap(), "https://api.example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_in_a_json_body_are_escaped_and_other_bodies_take_them_as_text() {
    let sneaky = "x\", \"admin\": true, \"y\": \"\\";
    let body = r#"{"q": "{{#start.q#}}", "o": {{#start.o#}}, "p": {{#start.p#}}}"#;
    let (detail, seen) = fetched(
        json!({"method": "POST", "url": "https://api.example.com/", "body": body}),
        json!({"q": sneaky, "o": {"a": [1]}, "p": "5"}),
        None,
    )
    .await;
    assert_eq!(detail.run.status, RunStatus::Succeeded, "{:?}", detail.run.error);
    let sent: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(sent, json!({"q": sneaky, "o": {"a": [1]}, "p": "5"}));

    // Content-Type names JSON: the body is treated as JSON even when the template is not.
    let (_, seen) = fetched(
        json!({"method": "POST", "url": "https://api.example.com/", "headers": {"Content-Type": "application/json"}, "body": r#"["{{#start.q#}}", {{#start.p#}}"#}),
        json!({"q": "a\"b", "p": "c"}),
        None,
    )
    .await;
    assert_eq!(seen[0].body, r#"["a\"b", "c""#);

    // A form body, or a body that is one reference, takes the value as it is.
    let (_, seen) =
        fetched(json!({"method": "POST", "url": "https://api.example.com/", "body": "name={{#start.q#}}"}), json!({"q": "a\"b"}), None)
            .await;
    assert_eq!(seen[0].body, "name=a\"b");
    let (_, seen) =
        fetched(json!({"method": "POST", "url": "https://api.example.com/", "body": "{{#start.q#}}"}), json!({"q": "{\"raw\": 1}"}), None)
            .await;
    assert_eq!(seen[0].body, "{\"raw\": 1}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_value_with_a_line_break_fails_the_node_before_any_request() {
    let config = json!({"url": "https://api.example.com/", "headers": {"X-Note": "{{#start.q#}}"}});
    let (detail, seen) = fetched(config, json!({"q": "hi\r\nX-Admin: 1"}), None).await;
    assert_eq!(detail.run.status, RunStatus::Failed);
    assert_eq!(node_error(&detail, "h"), "header \"X-Note\": the value holds a line break (CR or LF), which a header value may not");
    assert!(seen.is_empty(), "nothing was sent: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_addresses_need_the_node_or_the_setting_to_allow_them() {
    let url = json!("http://127.0.0.1:8080/");
    let (detail, seen) = fetched(json!({ "url": url }), json!({}), None).await;
    assert_eq!(detail.run.status, RunStatus::Failed);
    assert!(!seen[0].allow_local);
    assert_eq!(
        node_error(&detail, "h"),
        "refused to connect to 127.0.0.1: it is a local or private network address; to reach it, turn on \"Allow local and private \
         network addresses\" for this node (allow_local) or the setting workflows.allow_local_network for every node"
    );
    for (config, setting) in [(json!({"url": url, "allow_local": true}), None), (json!({ "url": url }), Some(json!(true)))] {
        let (detail, seen) = fetched(config, json!({}), setting).await;
        assert_eq!(detail.run.status, RunStatus::Succeeded, "{:?}", detail.run.error);
        assert!(seen[0].allow_local);
    }
    let (_, seen) = fetched(json!({ "url": url }), json!({}), Some(json!(false))).await;
    assert!(!seen[0].allow_local);
    let core = Core::in_memory().unwrap();
    let error = core.set_setting(crate::ALLOW_LOCAL_NETWORK_SETTING, &json!("yes")).unwrap_err();
    assert_eq!(error.to_string(), "value: workflows.allow_local_network must be true or false");
}

// ------------------------------------------------------------------ size and run caps

#[test]
fn a_value_that_doubles_down_a_chain_fails_its_node_at_the_limit_not_the_app() {
    // Each variable repeats the one before twice: 1 MiB, 2, 4, 8, 16 (at the limit with its
    // quotes and key), 32 MiB. The run fails at the node past the limit, with what it is.
    let mut nodes = vec![start(json!([])), var("v0", "x", json!("a".repeat(1 << 20)))];
    let mut edges = vec![edge("start", "v0")];
    for i in 1..=8 {
        nodes.push(var(&format!("v{i}"), "x", json!(format!("{{{{#v{p}.x#}}}}{{{{#v{p}.x#}}}}", p = i - 1))));
        edges.push(edge(&format!("v{}", i - 1), &format!("v{i}")));
    }
    nodes.push(output(json!({"x": "{{#v8.x#}}"})));
    edges.push(edge("v8", "out"));
    let p = planned(json!({ "nodes": nodes, "edges": edges }));
    let mut m = Machine::new(&p, Map::new(), RunLimits::default());
    let fx = m.start(None);
    let (status, _, error) = finish(&fx).unwrap();
    let error = error.unwrap();
    assert_eq!(status, RunStatus::Failed);
    assert!(error.starts_with("node \"v4\" failed:") && error.contains("larger than 16 MiB"), "{error}");
}

#[test]
fn one_reference_repeated_in_a_template_cannot_multiply_a_value_past_the_limit() {
    let big = "{{#v.x#}}".repeat(40);
    let p = planned(json!({
        "nodes": [start(json!([])), var("v", "x", json!("b".repeat(1 << 20))), var("w", "y", json!(big)), output(json!({"y": "{{#w.y#}}"}))],
        "edges": [edge("start", "v"), edge("v", "w"), edge("w", "out")]}));
    let mut m = Machine::new(&p, Map::new(), RunLimits::default());
    let (status, _, error) = finish(&m.start(None)).unwrap();
    assert_eq!(status, RunStatus::Failed);
    assert!(error.as_deref().unwrap().contains("variable \"y\": the text would be larger than 16 MiB"), "{error:?}");
}

#[test]
fn a_run_records_at_most_its_limit_of_outputs() {
    // Four 1 MiB values fit a 3 MiB record only three times.
    let mut nodes = vec![start(json!([]))];
    let mut edges = vec![];
    for i in 0..4 {
        nodes.push(var(&format!("v{i}"), "x", json!("c".repeat(1 << 20))));
        edges.push(edge(if i == 0 { "start".to_owned() } else { format!("v{}", i - 1) }.as_str(), &format!("v{i}")));
    }
    nodes.push(output(json!({"n": 1})));
    edges.push(edge("v3", "out"));
    let p = planned(json!({ "nodes": nodes, "edges": edges }));
    let mut m = Machine::new(&p, Map::new(), RunLimits { max_recorded_bytes: 3 << 20, ..RunLimits::default() });
    let (status, _, error) = finish(&m.start(None)).unwrap();
    assert_eq!(status, RunStatus::Failed);
    let error = error.unwrap();
    assert!(error.starts_with("node \"v2\" failed") && error.contains("past 3 MiB, the limit of one run"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_past_the_limit_at_once_are_refused_until_one_ends() {
    let core = Arc::new(Core::in_memory().unwrap());
    let services =
        Services { models: Arc::new(scripted("hello", true)), default_model: Some("scripted".into()), http: Arc::new(Web { hang: true }) };
    let wf = Arc::new(WorkflowRuns::new(core, services).with_max_runs(2));
    let source = || RunSource::Definition { name: "flow".into(), graph: llm_flow() };
    let first = wf.start(source(), &inputs(json!({"q": "a"}))).unwrap();
    wf.start(source(), &inputs(json!({"q": "b"}))).unwrap();
    let err = wf.start(source(), &inputs(json!({"q": "c"}))).unwrap_err();
    assert!(matches!(err, crate::Error::TooManyRuns { limit: 2 }), "{err:?}");
    assert_eq!(err.code(), crate::ErrorCode::RateLimited);
    wf.cancel(first.id).unwrap();
    wf.wait(first.id).await.unwrap();
    wf.start(source(), &inputs(json!({"q": "d"}))).expect("a place is free again");
    wf.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_takes_a_keychain_secret_that_never_reaches_the_definition_or_the_record() {
    let core = Arc::new(Core::in_memory().unwrap());
    let set = core.set_workflow_secret("GH_TOKEN", "https://api.example.com/v1", &hearth_secrets::Secret::new("ghp_the-real-key")).unwrap();
    assert_eq!((set.name.as_str(), set.origin.as_str()), ("GH_TOKEN", "https://api.example.com"));
    assert_eq!(core.workflow_secrets().unwrap(), [set]);
    let web = Arc::new(Recording::default());
    let services = Services { models: Arc::new(scripted("", false)), default_model: None, http: web.clone() };
    let wf = Arc::new(WorkflowRuns::new(core.clone(), services));
    let flow = |header: &str| {
        graph(json!({
            "nodes": [start(json!([])),
                      node("h", "http", json!({"method": "POST", "url": "https://api.example.com/", "headers": {"Authorization": header}, "body": "password=hunter2"})),
                      output(json!({"headers": "{{#h.headers#}}"}))],
            "edges": [edge("start", "h"), edge("h", "out")]}))
    };
    let none = Map::new();
    let run = |g: Graph| wf.run_to_end(RunSource::Definition { name: "gh".into(), graph: g }, &none);
    let detail = run(flow("Bearer {{secret:GH_TOKEN}}")).await.unwrap();
    assert_eq!(detail.run.status, RunStatus::Succeeded, "{:?}", detail.run.error);
    assert_eq!(web.seen.lock().unwrap()[0].headers, [("Authorization".to_owned(), "Bearer ghp_the-real-key".to_owned())]);
    // The record: header names, the body's size, no cookie the server set.
    let record = serde_json::to_string(&detail).unwrap();
    for secret in ["ghp_the-real-key", "hunter2", "session-secret"] {
        assert!(!record.contains(secret), "{secret} is in the record: {record}");
    }
    let h = detail.nodes.iter().find(|n| n.node_id == "h").unwrap();
    assert_eq!(h.inputs["body_bytes"], 16);
    assert_eq!(detail.run.outputs["headers"], json!({"x-request-id": "r1"}));

    // A secret that is not set fails the node saying how to set it; one in the URL or body is
    // refused before the run.
    let detail = run(flow("Bearer {{secret:NOPE}}")).await.unwrap();
    assert!(node_error(&detail, "h").contains("the secret \"NOPE\" is not set"), "{}", node_error(&detail, "h"));
    // A definition (imported, synced) that sends the secret to another host gets nothing.
    let elsewhere = graph(json!({
        "nodes": [start(json!([])),
                  node("h", "http", json!({"url": "https://evil.example/", "headers": {"Authorization": "{{secret:GH_TOKEN}}"}})),
                  output(json!({"s": "{{#h.status#}}"}))],
        "edges": [edge("start", "h"), edge("h", "out")]}));
    let detail = run(elsewhere).await.unwrap();
    assert!(node_error(&detail, "h").contains("is for https://api.example.com, not https://evil.example"), "{}", node_error(&detail, "h"));
    // A value from an earlier node that names a secret is not filled in.
    let injected = graph(json!({
        "nodes": [start(json!([{"name": "q", "type": "string"}])),
                  node("h", "http", json!({"url": "https://api.example.com/", "headers": {"Authorization": "{{secret:GH_TOKEN}}", "X-Q": "{{#start.q#}}"}})),
                  output(json!({"s": "{{#h.status#}}"}))],
        "edges": [edge("start", "h"), edge("h", "out")]}));
    let given = inputs(json!({"q": "{{secret:GH_TOKEN}}"}));
    let detail = wf.run_to_end(RunSource::Definition { name: "inj".into(), graph: injected }, &given).await.unwrap();
    assert!(node_error(&detail, "h").contains("a value from an earlier node names a secret"), "{}", node_error(&detail, "h"));
    assert_eq!(web.seen.lock().unwrap().len(), 1, "neither request was sent");
    check(
        json!({"nodes": [start(json!([])), node("h", "http", json!({"url": "https://api.example.com/?k={{secret:GH_TOKEN}}"})), output(json!({"a": 1}))],
               "edges": [edge("start", "h"), edge("h", "out")]}),
        &[("h", "header values only")],
    );
    assert!(core.set_setting("workflows.secrets", &json!(["x"])).is_err(), "the list is Hearth's own");
    core.delete_workflow_secret("GH_TOKEN").unwrap();
    assert!(core.workflow_secrets().unwrap().is_empty());
    assert_eq!(core.delete_workflow_secret("GH_TOKEN").unwrap_err().code(), crate::ErrorCode::NotFound);
}

// ------------------------------------------------------------------ knowledge nodes

#[test]
fn a_knowledge_node_needs_a_workspace_and_a_query() {
    check(
        json!({"nodes": [start(json!([])), node("k", "knowledge", json!({"limit": 50})), output(json!({"t": "{{#k.text#}}"}))],
               "edges": [edge("start", "k"), edge("k", "out")]}),
        &[("k", "workspace is required"), ("k", "query is required"), ("k", "limit must be a number from 1 to 20")],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_knowledge_node_finds_passages_for_its_query_and_names_a_missing_workspace() {
    let wf = service(false);
    let core = wf.core().clone();
    core.create_workspace(&hearth_types::NewWorkspace::new("Notes", hearth_types::Handle::parse("notes").unwrap()).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trains.md"), "# Trains\nThe rail timetable changes in May.\n").unwrap();
    std::fs::write(dir.path().join("berries.md"), "# Berries\nBlueberries like acidic soil.\n").unwrap();
    let job = core.add_knowledge(&"notes".parse().unwrap(), &[dir.path().to_owned()]).unwrap();
    let job = core.run_job(job.id, &std::sync::atomic::AtomicBool::new(false), &mut |_| {}).unwrap();
    assert_eq!(job.status, hearth_types::JobStatus::Succeeded, "{:?}", job.error);

    let flow = |workspace: &str| {
        graph(json!({
            "nodes": [start(json!([{"name": "q", "type": "string", "required": true}])),
                      node("k", "knowledge", json!({"workspace": workspace, "query": "{{#start.q#}}", "limit": 3})),
                      output(json!({"text": "{{#k.text#}}", "count": "{{#k.count#}}", "first": "{{#k.chunks.0.title#}}"}))],
            "edges": [edge("start", "k"), edge("k", "out")]}))
    };
    let run =
        wf.start(RunSource::Definition { name: "ask".into(), graph: flow("notes") }, &inputs(json!({"q": "rail timetable"}))).unwrap();
    let detail = wf.wait(run.id).await.unwrap();
    assert_eq!(detail.run.status, RunStatus::Succeeded, "{:?}", detail.run.error);
    assert_eq!(detail.run.outputs["first"], json!("Trains"));
    assert_eq!(detail.run.outputs["count"], json!(1), "only one passage has either word");
    assert_eq!(detail.run.outputs["text"], json!("[1] Trains\n# Trains\nThe rail timetable changes in May."));
    let k = detail.nodes.iter().find(|n| n.node_id == "k").unwrap();
    assert_eq!(k.inputs, json!({"workspace": "notes", "query": "rail timetable", "limit": 3}));

    let run = wf.start(RunSource::Definition { name: "ask".into(), graph: flow("elsewhere") }, &inputs(json!({"q": "rail"}))).unwrap();
    let detail = wf.wait(run.id).await.unwrap();
    assert_eq!(detail.run.status, RunStatus::Failed);
    let k = detail.nodes.iter().find(|n| n.node_id == "k").unwrap();
    assert!(k.error.as_deref().unwrap_or("").contains("elsewhere"), "{:?}", k.error);
}

// ------------------------------------------------------------------ tool nodes

/// `echo` (reads) answers its arguments; `wipe` asks first; `broken` fails.
struct Tools;

impl crate::ToolHost for Tools {
    fn tools(&self, _: hearth_types::WorkspaceId) -> Vec<crate::ToolSpec> {
        let spec = |name: &str, asks: bool| crate::ToolSpec {
            name: name.into(),
            description: String::new(),
            parameters: json!({"type": "object", "properties": {"say": {"type": "string"}}}),
            asks,
            source: "test".into(),
        };
        vec![spec("echo", false), spec("wipe", true), spec("broken", false)]
    }

    fn call(&self, _: hearth_types::WorkspaceId, name: &str, arguments: Value, _: &hearth_llm::CancellationToken) -> crate::ToolOutput {
        match name {
            "broken" => crate::ToolOutput::error("the service is down"),
            _ => crate::ToolOutput::ok(json!({"tool": name, "got": arguments}).to_string()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_node_calls_a_tool_with_its_arguments_and_fails_clearly_otherwise() {
    let wf = service(false);
    let core = wf.core().clone();
    core.create_workspace(&hearth_types::NewWorkspace::new("Notes", hearth_types::Handle::parse("notes").unwrap()).unwrap()).unwrap();
    core.attach_tools(std::sync::Arc::new(Tools));
    let flow = |tool: &str, arguments: Value| {
        graph(json!({
            "nodes": [start(json!([{"name": "q", "type": "string", "required": true}])),
                      node("t", "tool", json!({"tool": tool, "arguments": arguments})),
                      output(json!({"text": "{{#t.text#}}", "got": "{{#t.json.got#}}"}))],
            "edges": [edge("start", "t"), edge("t", "out")]}))
    };
    let run_of = |tool: &str, arguments: Value| {
        wf.start(RunSource::Definition { name: "t".into(), graph: flow(tool, arguments) }, &inputs(json!({"q": "hello"}))).unwrap()
    };
    let detail = wf.wait(run_of("echo", json!({"say": "{{#start.q#}}"})).id).await.unwrap();
    assert_eq!(detail.run.status, RunStatus::Succeeded, "{:?}", detail.run.error);
    assert_eq!(detail.run.outputs["got"], json!({"say": "hello"}), "the answer's JSON is there as it is");
    assert_eq!(detail.run.outputs["text"], json!(r#"{"got":{"say":"hello"},"tool":"echo"}"#));
    let t = detail.nodes.iter().find(|n| n.node_id == "t").unwrap();
    assert_eq!(t.inputs, json!({"tool": "echo", "arguments": {"say": "hello"}, "workspace": ""}));

    let failing = |tool: &str, arguments: Value| {
        let run = run_of(tool, arguments);
        let wf = &wf;
        async move {
            let detail = wf.wait(run.id).await.unwrap();
            assert_eq!(detail.run.status, RunStatus::Failed);
            detail.nodes.iter().find(|n| n.node_id == "t").unwrap().error.clone().unwrap_or_default()
        }
    };
    assert!(failing("wipe", json!({})).await.contains("asks first"));
    assert!(failing("nope", json!({})).await.contains("no tool named \"nope\""));
    assert!(failing("echo", json!({"say": 3})).await.contains("do not match the tool's schema"));
    assert!(failing("broken", json!({})).await.contains("the service is down"));

    // Once the person allowed it for good, it runs.
    core.allow_tool("wipe").unwrap();
    let detail = wf.wait(run_of("wipe", json!({})).id).await.unwrap();
    assert_eq!(detail.run.status, RunStatus::Succeeded, "{:?}", detail.run.error);
}
