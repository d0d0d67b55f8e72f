//! Reading a definition someone hands in: the canonical format, a React Flow export, or the
//! simple format (docs/workflows.md), normalized to the canonical one. Export writes the
//! canonical format.
//!
//! Normalizing is forgiving about shape (settings in `config`, `data.config` or `data`;
//! missing positions and edge ids) and leaves judging the result to validation. The simple
//! format (no edge ids) also has its `{name}` placeholders turned into references.

use hearth_types::{Edge, Graph, Node, Position, Workflow};
use serde_json::{Map, Value, json};

use super::graph::Problem;

/// A definition read from a file or a request: its name (if it has one) and its graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    pub name: Option<String>,
    pub description: String,
    pub graph: Graph,
}

fn problem(message: impl Into<String>) -> Vec<Problem> {
    vec![Problem { node_id: None, edge_id: None, message: message.into() }]
}

/// Parses JSON text (a file) into a definition.
pub fn parse_definition(text: &str) -> Result<Imported, Vec<Problem>> {
    let value: Value = serde_json::from_str(text).map_err(|e| problem(format!("not valid JSON: {e}")))?;
    normalize(&value)
}

/// Normalizes any accepted format (see the module docs).
pub fn normalize(value: &Value) -> Result<Imported, Vec<Problem>> {
    let Some(top) = value.as_object() else { return Err(problem("a workflow is a JSON object with nodes and edges")) };
    let name = top.get("name").and_then(Value::as_str).map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
    let description = top.get("description").and_then(Value::as_str).unwrap_or("").to_owned();
    let Some(raw_nodes) = top.get("nodes").and_then(Value::as_array) else { return Err(problem("nodes: a list of nodes is required")) };
    let raw_edges = match top.get("edges") {
        None | Some(Value::Null) => &Vec::new(),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(problem("edges must be a list")),
    };

    let mut problems = Vec::new();
    let mut nodes = Vec::new();
    for (i, raw) in raw_nodes.iter().enumerate() {
        let Some(o) = raw.as_object() else {
            problems.push(Problem { node_id: None, edge_id: None, message: format!("nodes[{i}] is not an object") });
            continue;
        };
        let id = match o.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                problems.push(Problem { node_id: None, edge_id: None, message: format!("nodes[{i}] has no id") });
                continue;
            }
        };
        let data = o.get("data").and_then(Value::as_object);
        // React Flow keeps custom node types in `type` and may put ours in data.type.
        let kind = o
            .get("type")
            .and_then(Value::as_str)
            .filter(|t| super::graph::NODE_TYPES.contains(t))
            .or_else(|| data.and_then(|d| d.get("type")).and_then(Value::as_str))
            .or_else(|| o.get("type").and_then(Value::as_str))
            .unwrap_or("")
            .to_owned();
        let config = match (o.get("config"), data) {
            (Some(Value::Object(c)), _) => c.clone(),
            (_, Some(d)) => match d.get("config") {
                Some(Value::Object(c)) => c.clone(),
                _ => {
                    let mut c = d.clone();
                    c.remove("type");
                    c.remove("label");
                    c
                }
            },
            _ => Map::new(),
        };
        let position = o
            .get("position")
            .and_then(|p| Some(Position { x: p.get("x")?.as_f64()?, y: p.get("y")?.as_f64()? }))
            .unwrap_or(Position { x: f64::NAN, y: 0.0 });
        nodes.push(Node { id, kind, position, config });
    }

    let mut edges = Vec::new();
    for (i, raw) in raw_edges.iter().enumerate() {
        let text = |k: &str| raw.get(k).and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_number().map(|n| n.to_string())));
        let (Some(source), Some(target)) = (text("source"), text("target")) else {
            problems.push(Problem {
                node_id: None,
                edge_id: Some(format!("#{}", i + 1)),
                message: "an edge needs a source and a target".into(),
            });
            continue;
        };
        let handle = text("sourceHandle").or_else(|| text("source_handle")).or_else(|| text("handle")).or_else(|| text("branch"));
        let id = text("id").unwrap_or_else(|| format!("e{}", i + 1));
        edges.push(Edge { id, source, target, source_handle: handle.filter(|h| !h.is_empty()) });
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    // The simple format is the one whose edges carry no ids (the canonical format and React
    // Flow both name every edge); only there do `{name}` placeholders mean start inputs.
    if raw_edges.iter().all(|e| e.get("id").is_none()) {
        simple_placeholders(&mut nodes, &edges);
    }
    layout(&mut nodes, &edges);
    Ok(Imported { name, description, graph: Graph { nodes, edges } })
}

/// The simple format's `{name}` placeholders in llm prompts become references to the start
/// node's inputs (declared when missing), and an output node without outputs returns the
/// text of the node before it.
fn simple_placeholders(nodes: &mut [Node], edges: &[Edge]) {
    let Some(start) = nodes.iter().position(|n| n.kind == "start") else { return };
    let start_id = nodes[start].id.clone();
    let mut wanted: Vec<String> = Vec::new();
    for node in nodes.iter_mut().filter(|n| n.kind == "llm") {
        for key in ["prompt_template", "system_prompt"] {
            if let Some(Value::String(text)) = node.config.get_mut(key) {
                *text = replace_placeholders(text, &start_id, &mut wanted);
            }
        }
    }
    let declared: Vec<String> = nodes[start]
        .config
        .get("inputs")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|i| i.get("name")?.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let missing: Vec<Value> =
        wanted.iter().filter(|w| !declared.contains(w)).map(|w| json!({"name": w, "type": "string", "required": true})).collect();
    if !missing.is_empty() {
        let inputs = nodes[start].config.entry("inputs").or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = inputs {
            list.extend(missing);
        }
    }
    let text_of: Vec<(usize, String)> = nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.kind == "output" && n.config.get("outputs").is_none_or(|o| o.as_object().is_none_or(Map::is_empty)))
        .filter_map(|(i, n)| {
            let before = edges.iter().find(|e| e.target == n.id)?;
            let field = match nodes.iter().find(|m| m.id == before.source)?.kind.as_str() {
                "llm" => "text",
                "http" => "body",
                "knowledge" | "tool" => "text",
                _ => return None,
            };
            Some((i, format!("{{{{#{}.{field}#}}}}", before.source)))
        })
        .collect();
    for (i, reference) in text_of {
        nodes[i].config.insert("outputs".into(), json!({"text": reference}));
    }
}

/// `{name}` (an identifier in single braces, not part of `{{#...#}}`) becomes
/// `{{#start.name#}}`.
fn replace_placeholders(text: &str, start: &str, wanted: &mut Vec<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        if after.starts_with('{') {
            // A `{{...}}` reference or literal: copy it through untouched.
            let end = after.find("}}").map_or(after.len(), |e| e + 2);
            out.push('{');
            out.push_str(&after[..end]);
            rest = &after[end..];
            continue;
        }
        match after.find('}') {
            Some(close) if super::graph::valid_node_id(&after[..close]) => {
                let name = &after[..close];
                if !wanted.iter().any(|w| w == name) {
                    wanted.push(name.to_owned());
                }
                out.push_str(&format!("{{{{#{start}.{name}#}}}}"));
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Places nodes without a position left to right by depth from the start.
fn layout(nodes: &mut [Node], edges: &[Edge]) {
    if !nodes.iter().any(|n| n.position.x.is_nan()) {
        return;
    }
    let mut depth: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    // Longest-path depth by relaxing edges; bounded so a cycle (refused later) cannot spin.
    for _ in 0..nodes.len() {
        let mut changed = false;
        for e in edges {
            let d = depth.get(e.source.as_str()).copied().unwrap_or(0) + 1;
            if d <= nodes.len() && depth.get(e.target.as_str()).is_none_or(|&t| t < d) {
                depth.insert(e.target.as_str(), d);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let depths: Vec<usize> = nodes.iter().map(|n| depth.get(n.id.as_str()).copied().unwrap_or(0)).collect();
    let mut rows: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for (node, d) in nodes.iter_mut().zip(depths) {
        let row = rows.entry(d).or_insert(0);
        if node.position.x.is_nan() {
            node.position = Position { x: d as f64 * 260.0, y: *row as f64 * 140.0 };
        }
        *row += 1;
    }
}

/// The canonical export of a stored workflow.
pub fn export(workflow: &Workflow) -> Value {
    json!({
        "name": workflow.name,
        "description": workflow.description,
        "nodes": workflow.graph.nodes,
        "edges": workflow.graph.edges,
    })
}
