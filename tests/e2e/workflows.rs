//! Workflows through the real `hearth` binary with the network off: a start → llm →
//! condition → output workflow imported from the simple format runs on the real default
//! model, and its record (run, every node, the numbered event log) is complete. A file runs
//! without being stored; a bad one is refused with every problem named.

use std::process::Command;

use hearth_e2e::{Hearth, default_model, hearth_bin};
use hearth_store::Store;
use hearth_types::{NodeStatus, RunEventKind, RunId, RunStatus};
use serde_json::{Value, json};

const SIMPLE: &str = r#"{
  "name": "Lakes",
  "nodes": [
    {"id": "s", "type": "start"},
    {"id": "ask", "type": "llm", "config": {"prompt_template": "Write one short sentence about {input}.", "max_tokens": 16, "temperature": 0}},
    {"id": "check", "type": "condition", "config": {"logic": "all", "rules": [
      {"left": "{{#ask.text#}}", "op": "not_empty"}, {"left": "{{#s.input#}}", "op": "not_equals", "right": "silence"}]}},
    {"id": "said", "type": "output", "config": {"outputs": {"answer": "{{#ask.text#}}", "branch": "said"}}},
    {"id": "silent", "type": "output", "config": {"outputs": {"branch": "silent"}}}
  ],
  "edges": [
    {"source": "s", "target": "ask"},
    {"source": "ask", "target": "check"},
    {"source": "check", "target": "said", "sourceHandle": "true"},
    {"source": "check", "target": "silent", "sourceHandle": "false"}
  ]
}"#;

/// `hearth --json ARGS` in a network namespace with no interfaces: nothing but the local
/// model can answer.
fn offline_json(env: &Hearth, args: &[&str]) -> Value {
    let out = Command::new("unshare")
        .arg("-n")
        .arg(hearth_bin())
        .arg("--data-dir")
        .arg(env.dir.path())
        .arg("--json")
        .args(args)
        .env("HEARTH_DEFAULT_MODEL", default_model())
        .env_remove("HEARTH_DATA_DIR")
        .output()
        .expect("unshare (util-linux) runs; the suite runs as root");
    assert!(out.status.success(), "hearth {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn a_simple_format_workflow_runs_offline_and_its_record_is_complete() {
    let env = Hearth::with_default_model();
    let file = env.dir.path().join("lakes.json");
    std::fs::write(&file, SIMPLE).unwrap();
    let imported = offline_json(&env, &["workflow", "import", file.to_str().unwrap()]);
    let id = imported["id"].as_str().unwrap().to_owned();
    assert_eq!(imported["name"], "Lakes");
    assert_eq!(imported["nodes"][1]["config"]["prompt_template"], "Write one short sentence about {{#s.input#}}.");

    let run = offline_json(&env, &["workflow", "run", &id, "--input", "input=lakes"]);
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!((run["workflow_id"].as_str(), &run["inputs"]), (Some(id.as_str()), &json!({"input": "lakes"})));
    let text = run["outputs"]["answer"].as_str().expect("the answer is text").to_owned();
    assert!(!text.trim().is_empty());
    assert_eq!(run["outputs"]["branch"], "said");
    assert_eq!(run["steps"], 4, "start, llm, condition, one output");
    assert!(run["prompt_tokens"].as_u64().unwrap() > 0 && run["completion_tokens"].as_u64().unwrap() > 0);
    assert!(run["finished_at"].is_string() && run["duration_ms"].as_u64().is_some());

    let nodes = run["nodes"].as_array().unwrap();
    let order: Vec<(&str, &str)> = nodes.iter().map(|n| (n["node_id"].as_str().unwrap(), n["status"].as_str().unwrap())).collect();
    assert_eq!(order, [("s", "succeeded"), ("ask", "succeeded"), ("check", "succeeded"), ("said", "succeeded"), ("silent", "skipped")]);
    let ask = &nodes[1];
    assert_eq!(ask["inputs"]["prompt"], "Write one short sentence about lakes.");
    assert_eq!(ask["outputs"]["text"], text.as_str());
    assert_eq!(ask["outputs"]["model"], "smollm2-135m-instruct");
    assert_eq!((ask["attempts"].as_u64(), ask["error"].is_null()), (Some(1), true));
    assert!(ask["prompt_tokens"].as_u64().unwrap() > 0 && ask["started_at"].is_string() && ask["finished_at"].is_string());
    assert_eq!(nodes[2]["outputs"], json!({"result": true, "branch": "true"}));
    assert!(nodes[4]["started_at"].is_null(), "a skipped node never started");

    // The event log in the database: numbered without gaps, the text as it streamed.
    let store = Store::open(env.db()).unwrap();
    let run_id: RunId = run["id"].as_str().unwrap().parse().unwrap();
    let events = store.read(|r| r.run_events(run_id, 0)).unwrap();
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=events.len() as u64).collect::<Vec<_>>());
    assert!(matches!(events[0].kind, RunEventKind::RunStarted { .. }));
    assert!(matches!(events.last().unwrap().kind, RunEventKind::RunFinished { status: RunStatus::Succeeded, .. }));
    let streamed: String =
        events.iter().filter_map(|e| if let RunEventKind::TextChunk { text, .. } = &e.kind { Some(text.as_str()) } else { None }).collect();
    assert_eq!(streamed, text);
    let skipped = events
        .iter()
        .filter(|e| matches!(&e.kind, RunEventKind::NodeFinished { status: NodeStatus::Skipped, node_id, .. } if node_id == "silent"));
    assert_eq!(skipped.count(), 1);

    // The other branch, on the same model: the condition's second rule turns it.
    let quiet = offline_json(&env, &["workflow", "run", &id, "--input", "input=silence"]);
    assert_eq!((quiet["status"].as_str(), &quiet["outputs"]), (Some("succeeded"), &json!({"branch": "silent"})));
    let order: Vec<(&str, &str)> =
        quiet["nodes"].as_array().unwrap().iter().map(|n| (n["node_id"].as_str().unwrap(), n["status"].as_str().unwrap())).collect();
    assert_eq!(order, [("s", "succeeded"), ("ask", "succeeded"), ("check", "succeeded"), ("said", "skipped"), ("silent", "succeeded")]);
    assert_eq!(quiet["nodes"][2]["outputs"], json!({"result": false, "branch": "false"}));

    let runs = offline_json(&env, &["workflow", "runs", &id]);
    assert_eq!((runs[0]["id"].clone(), runs[1]["id"].clone()), (quiet["id"].clone(), run["id"].clone()));
}

#[test]
fn a_file_runs_without_being_stored_and_a_bad_one_names_its_problems() {
    let env = Hearth::with_default_model();
    let file = env.dir.path().join("echo.json");
    let echo = json!({"nodes": [
        {"id": "start", "type": "start", "config": {"inputs": [{"name": "n", "type": "number", "required": true}]}},
        {"id": "js", "type": "code", "config": {"code": "function main(i) { return {double: i.n * 2}; }", "inputs": {"n": "{{#start.n#}}"}}},
        {"id": "out", "type": "output", "config": {"outputs": {"double": "{{#js.double#}}"}}}],
        "edges": [{"source": "start", "target": "js"}, {"source": "js", "target": "out"}]});
    std::fs::write(&file, echo.to_string()).unwrap();
    let run = offline_json(&env, &["workflow", "run", file.to_str().unwrap(), "-i", "n=21"]);
    assert_eq!((run["status"].as_str(), &run["outputs"], &run["workflow_id"]), (Some("succeeded"), &json!({"double": 42}), &Value::Null));
    assert_eq!(run["workflow_name"], "echo");
    assert_eq!(offline_json(&env, &["workflow", "list"]), json!([]), "running a file stores no workflow");

    // Missing input: refused before anything runs, exit code 3.
    let out = env.run(&["workflow", "run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("input \"n\" is required"));

    let bad = env.dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"nodes": [{"id": "s", "type": "start"}, {"id": "x", "type": "zap"}, {"id": "o", "type": "output", "config": {"outputs": {"a": "{{#nope.text#}}"}}}],
                           "edges": [{"source": "s", "target": "x"}, {"source": "x", "target": "o"}, {"source": "o", "target": "s"}]}"#)
    .unwrap();
    let out = env.run(&["workflow", "validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    for piece in ["node \"x\": unknown node type \"zap\"", "node \"o\": refers to a missing node \"nope\"", "goes into the start node"] {
        assert!(err.contains(piece), "{piece:?} missing from: {err}");
    }
    std::fs::write(&bad, "{\"nodes\": [").unwrap();
    let out = env.run(&["workflow", "import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid JSON"));

    // A failing run exits 11 and says why; its record stays.
    let failing = env.dir.path().join("failing.json");
    std::fs::write(&failing, r#"{"nodes": [{"id": "s", "type": "start"}, {"id": "js", "type": "code", "config": {"code": "function main() { while (true) {} }", "timeout_ms": 300}},
                                {"id": "o", "type": "output", "config": {"outputs": {"a": 1}}}], "edges": [{"source": "s", "target": "js"}, {"source": "js", "target": "o"}]}"#)
    .unwrap();
    let out = env.run(&["workflow", "run", failing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(11), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("✗ js (code) failed") && err.contains("the code ran longer than its 300 ms limit"), "{err}");
}
