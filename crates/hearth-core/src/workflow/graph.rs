//! From a stored definition to a checked plan: every node's settings typed, edges indexed,
//! the graph proved acyclic and every reference proved to point upstream.
//!
//! Validation never stops at the first problem: it lists every one it finds, each naming
//! its node or edge, so the editor can mark them all at once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use hearth_types::{Graph, Node};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{request, template};

/// One thing wrong with a definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub node_id: Option<String>,
    pub edge_id: Option<String>,
    pub message: String,
}

impl Problem {
    fn node(id: &str, message: impl Into<String>) -> Self {
        Self { node_id: Some(id.to_owned()), edge_id: None, message: message.into() }
    }
    fn edge(id: &str, message: impl Into<String>) -> Self {
        Self { node_id: None, edge_id: Some(id.to_owned()), message: message.into() }
    }
    fn graph(message: impl Into<String>) -> Self {
        Self { node_id: None, edge_id: None, message: message.into() }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.node_id, &self.edge_id) {
            (Some(n), _) => write!(f, "node {n:?}: {}", self.message),
            (None, Some(e)) => write!(f, "edge {e:?}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

/// The node types Hearth runs.
pub const NODE_TYPES: &[&str] = &["start", "llm", "condition", "code", "http", "variable", "output", "knowledge", "tool"];

/// The type of a start input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InputType {
    String,
    Number,
    Boolean,
    Object,
}

#[derive(Clone, Debug)]
pub(crate) struct InputDecl {
    pub(crate) name: String,
    pub(crate) kind: InputType,
    pub(crate) required: bool,
    pub(crate) default: Option<Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Equals,
    NotEquals,
    Contains,
    Greater,
    Less,
    Empty,
    NotEmpty,
}

#[derive(Clone, Debug)]
pub(crate) struct Rule {
    pub(crate) left: Value,
    pub(crate) op: Op,
    pub(crate) right: Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transform {
    Upper,
    Lower,
    Trim,
    Length,
    ToNumber,
    ToString,
    JsonParse,
    JsonStringify,
}

/// A node's checked settings.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    Start {
        inputs: Vec<InputDecl>,
    },
    Llm {
        model: Option<String>,
        system_prompt: String,
        prompt: String,
        temperature: Option<f32>,
        max_tokens: Option<u32>,
    },
    Condition {
        any: bool,
        rules: Vec<Rule>,
    },
    Code {
        code: String,
        inputs: Map<String, Value>,
        memory_mb: u32,
    },
    Http {
        method: String,
        url: String,
        headers: Map<String, Value>,
        body: String,
        max_bytes: u64,
        allow_local: bool,
    },
    Variable {
        vars: Vec<(String, Value, Option<Transform>)>,
    },
    Output {
        outputs: Map<String, Value>,
    },
    /// A search of a workspace's knowledge: query in, passages out.
    Knowledge {
        workspace: String,
        query: String,
        limit: u32,
    },
    /// A call of any tool a chat could call (Hearth's own, an attached MCP server's).
    Tool {
        tool: String,
        arguments: Map<String, Value>,
        /// The workspace the call is made for (its handle or id); the first when empty.
        workspace: String,
    },
}

impl Step {
    /// Whether the node does IO (a model, the sandbox, the network) and so runs as a task;
    /// the others are evaluated inside the state machine.
    pub(crate) fn is_io(&self) -> bool {
        matches!(self, Step::Llm { .. } | Step::Code { .. } | Step::Http { .. } | Step::Knowledge { .. } | Step::Tool { .. })
    }
}

/// Where a condition's edge leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Branch {
    True,
    False,
}

#[derive(Clone, Debug)]
pub(crate) struct PlanNode {
    pub(crate) id: String,
    pub(crate) kind: &'static str,
    pub(crate) step: Step,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retries: u32,
    /// Indexes into `Plan::edges`.
    pub(crate) incoming: Vec<usize>,
    pub(crate) outgoing: Vec<usize>,
}

#[derive(Clone, Debug)]
pub(crate) struct PlanEdge {
    pub(crate) source: usize,
    pub(crate) target: usize,
    pub(crate) branch: Option<Branch>,
}

/// A definition that passed validation.
#[derive(Clone, Debug)]
pub struct Plan {
    pub(crate) nodes: Vec<PlanNode>,
    pub(crate) edges: Vec<PlanEdge>,
    pub(crate) start: usize,
}

impl Plan {
    /// The start node's declared inputs, in order: `(name, required)`.
    pub fn inputs(&self) -> Vec<(String, bool)> {
        match &self.nodes[self.start].step {
            Step::Start { inputs } => inputs.iter().map(|i| (i.name.clone(), i.required)).collect(),
            _ => Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

const MAX_RETRIES: u64 = 5;
const MAX_MEMORY_MB: u64 = 512;
/// A response body becomes one value of the run, beside its status and headers: a MiB under
/// what a node's outputs may be, so the largest allowed body still fits.
const MAX_RESPONSE_BYTES: u64 = (super::template::MAX_VALUE_BYTES - (1 << 20)) as u64;
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

pub(crate) fn valid_node_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Reads one node's settings, adding a problem for each bad one.
struct Settings<'a> {
    node: &'a Node,
    problems: &'a mut Vec<Problem>,
}

impl Settings<'_> {
    fn bad(&mut self, message: String) {
        self.problems.push(Problem::node(&self.node.id, message));
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.node.config.get(key).filter(|v| !v.is_null())
    }

    fn text(&mut self, key: &str, required: bool) -> String {
        match self.get(key) {
            Some(Value::String(s)) if !(required && s.trim().is_empty()) => s.clone(),
            Some(Value::String(_)) | None if required => {
                self.bad(format!("{key} is required"));
                String::new()
            }
            None => String::new(),
            Some(_) => {
                self.bad(format!("{key} must be text"));
                String::new()
            }
        }
    }

    fn number(&mut self, key: &str, min: f64, max: f64) -> Option<f64> {
        match self.get(key) {
            None => None,
            Some(Value::Number(n)) if n.as_f64().is_some_and(|f| (min..=max).contains(&f)) => n.as_f64(),
            Some(_) => {
                self.bad(format!("{key} must be a number from {min} to {max}"));
                None
            }
        }
    }

    fn flag(&mut self, key: &str) -> bool {
        match self.get(key) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.bad(format!("{key} must be true or false"));
                false
            }
        }
    }

    fn object(&mut self, key: &str) -> Map<String, Value> {
        match self.get(key) {
            None => Map::new(),
            Some(Value::Object(o)) => o.clone(),
            Some(_) => {
                self.bad(format!("{key} must be an object"));
                Map::new()
            }
        }
    }

    fn list(&mut self, key: &str) -> Vec<Value> {
        match self.get(key) {
            None => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => {
                self.bad(format!("{key} must be a list"));
                Vec::new()
            }
        }
    }
}

fn start_inputs(s: &mut Settings<'_>) -> Vec<InputDecl> {
    let mut seen = HashSet::new();
    let mut inputs = Vec::new();
    for (i, v) in s.list("inputs").into_iter().enumerate() {
        let Some(o) = v.as_object() else {
            s.bad(format!("inputs[{i}] must be an object with a name"));
            continue;
        };
        let name = o.get("name").and_then(Value::as_str).unwrap_or("").trim().to_owned();
        if name.is_empty() || !valid_node_id(&name) {
            s.bad(format!("inputs[{i}] needs a name of letters, digits, _ or -"));
            continue;
        }
        if !seen.insert(name.clone()) {
            s.bad(format!("input {name:?} is declared twice"));
        }
        let kind = match o.get("type").and_then(Value::as_str).unwrap_or("string") {
            "string" => InputType::String,
            "number" => InputType::Number,
            "boolean" => InputType::Boolean,
            "object" => InputType::Object,
            other => {
                s.bad(format!("input {name:?} has an unknown type {other:?} (string, number, boolean or object)"));
                InputType::String
            }
        };
        let required = o.get("required").and_then(Value::as_bool).unwrap_or(false);
        let default = o.get("default").filter(|d| !d.is_null()).cloned();
        inputs.push(InputDecl { name, kind, required, default });
    }
    inputs
}

fn parse_op(op: &str) -> Option<Op> {
    Some(match op {
        "equals" => Op::Equals,
        "not_equals" => Op::NotEquals,
        "contains" => Op::Contains,
        "greater" => Op::Greater,
        "less" => Op::Less,
        "empty" => Op::Empty,
        "not_empty" => Op::NotEmpty,
        _ => return None,
    })
}

fn parse_transform(t: &str) -> Option<Transform> {
    Some(match t {
        "upper" => Transform::Upper,
        "lower" => Transform::Lower,
        "trim" => Transform::Trim,
        "length" => Transform::Length,
        "to_number" => Transform::ToNumber,
        "to_string" => Transform::ToString,
        "json_parse" => Transform::JsonParse,
        "json_stringify" => Transform::JsonStringify,
        _ => return None,
    })
}

/// Types one node's settings.
fn step(node: &Node, problems: &mut Vec<Problem>) -> Option<(&'static str, Step)> {
    let kind = *NODE_TYPES.iter().find(|k| **k == node.kind)?;
    let mut s = Settings { node, problems };
    let step = match kind {
        "start" => Step::Start { inputs: start_inputs(&mut s) },
        "llm" => Step::Llm {
            model: Some(s.text("model", false)).filter(|m| !m.trim().is_empty()),
            system_prompt: s.text("system_prompt", false),
            prompt: s.text("prompt_template", true),
            temperature: s.number("temperature", 0.0, 2.0).map(|t| t as f32),
            max_tokens: s.number("max_tokens", 1.0, 1_000_000.0).map(|t| t as u32),
        },
        "condition" => {
            let any = match s.get("logic").and_then(Value::as_str).unwrap_or("all") {
                "all" => false,
                "any" => true,
                other => {
                    s.bad(format!("logic must be \"all\" or \"any\", not {other:?}"));
                    false
                }
            };
            let mut rules = Vec::new();
            let list = s.list("rules");
            if list.is_empty() {
                s.bad("rules: add at least one rule".to_owned());
            }
            for (i, r) in list.into_iter().enumerate() {
                let Some(o) = r.as_object() else {
                    s.bad(format!("rules[{i}] must be an object with left, op and right"));
                    continue;
                };
                let op = o.get("op").and_then(Value::as_str).unwrap_or("");
                let Some(op) = parse_op(op) else {
                    s.bad(format!("rules[{i}]: unknown op {op:?} (equals, not_equals, contains, greater, less, empty, not_empty)"));
                    continue;
                };
                let left = o.get("left").cloned().unwrap_or(Value::Null);
                let right = o.get("right").cloned().unwrap_or(Value::Null);
                rules.push(Rule { left, op, right });
            }
            Step::Condition { any, rules }
        }
        "code" => Step::Code {
            code: s.text("code", true),
            inputs: s.object("inputs"),
            memory_mb: s.number("memory_mb", 1.0, MAX_MEMORY_MB as f64).map_or(64, |m| m as u32),
        },
        "http" => {
            let method = s.get("method").and_then(Value::as_str).unwrap_or("GET").to_ascii_uppercase();
            if !METHODS.contains(&method.as_str()) {
                s.bad(format!("method {method:?} is not one of {}", METHODS.join(", ")));
            }
            let url = s.text("url", true);
            if let Err(problem) = request::check_url(&url) {
                s.bad(problem);
            }
            let headers = s.object("headers");
            let body = s.text("body", false);
            // Secrets go into header values only: a URL or a body lands in the run's record.
            if !super::secrets::references(&url).is_empty() || !super::secrets::references(&body).is_empty() {
                s.bad("{{secret:NAME}} can be used in header values only (the URL and the body are kept in the run's record)".to_owned());
            }
            for (name, value) in &headers {
                for secret in super::secrets::references(value.as_str().unwrap_or("")) {
                    if let Err(e) = super::secrets::check_name(secret) {
                        s.bad(format!("headers.{name}: {{{{secret:{secret}}}}}: {}", e.reason));
                    }
                }
            }
            Step::Http {
                method,
                url,
                headers,
                body,
                max_bytes: s.number("max_response_bytes", 1.0, MAX_RESPONSE_BYTES as f64).map_or(1 << 20, |b| b as u64),
                allow_local: s.flag("allow_local"),
            }
        }
        "variable" => {
            let mut vars = Vec::new();
            let list = s.list("variables");
            if list.is_empty() {
                s.bad("variables: set at least one".to_owned());
            }
            for (i, v) in list.into_iter().enumerate() {
                let Some(o) = v.as_object() else {
                    s.bad(format!("variables[{i}] must be an object with a name and a value"));
                    continue;
                };
                let name = o.get("name").and_then(Value::as_str).unwrap_or("").trim().to_owned();
                if name.is_empty() {
                    s.bad(format!("variables[{i}] needs a name"));
                    continue;
                }
                let transform = match o.get("transform").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                    None => None,
                    Some(t) => match parse_transform(t) {
                        Some(t) => Some(t),
                        None => {
                            s.bad(format!("variable {name:?}: unknown transform {t:?}"));
                            None
                        }
                    },
                };
                vars.push((name, o.get("value").cloned().unwrap_or(Value::Null), transform));
            }
            Step::Variable { vars }
        }
        "output" => {
            let outputs = s.object("outputs");
            if outputs.is_empty() {
                s.bad("outputs: name at least one".to_owned());
            }
            Step::Output { outputs }
        }
        "knowledge" => Step::Knowledge {
            workspace: s.text("workspace", true),
            query: s.text("query", true),
            limit: s.number("limit", 1.0, MAX_KNOWLEDGE_LIMIT as f64).map_or(5, |n| n as u32),
        },
        "tool" => Step::Tool { tool: s.text("tool", true), arguments: s.object("arguments"), workspace: s.text("workspace", false) },
        _ => unreachable!("NODE_TYPES lists every kind"),
    };
    Some((kind, step))
}

/// The default per-node time limit.
fn default_timeout(kind: &str) -> Option<Duration> {
    match kind {
        "llm" => Some(Duration::from_secs(300)),
        "code" => Some(Duration::from_secs(5)),
        "http" => Some(Duration::from_secs(30)),
        "knowledge" => Some(Duration::from_secs(60)),
        "tool" => Some(Duration::from_secs(120)),
        _ => None,
    }
}

/// The most passages one knowledge node returns.
pub(crate) const MAX_KNOWLEDGE_LIMIT: u32 = 20;

/// The largest graph Hearth runs: far beyond anything drawn by hand, small enough that
/// checking one stays cheap.
pub const MAX_NODES: usize = 5_000;
pub const MAX_EDGES: usize = 20_000;

/// Checks a definition and builds its plan, or lists every problem.
pub fn plan(graph: &Graph) -> Result<Plan, Vec<Problem>> {
    if graph.nodes.len() > MAX_NODES || graph.edges.len() > MAX_EDGES {
        return Err(vec![Problem::graph(format!(
            "a workflow has at most {MAX_NODES} nodes and {MAX_EDGES} edges (this one: {} and {})",
            graph.nodes.len(),
            graph.edges.len()
        ))]);
    }
    let mut problems = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut nodes = Vec::new();
    for node in &graph.nodes {
        if !valid_node_id(&node.id) {
            problems.push(Problem::node(&node.id, "a node id is 1 to 64 letters, digits, _ or -"));
            continue;
        }
        if index.contains_key(node.id.as_str()) {
            problems.push(Problem::node(&node.id, "two nodes have this id"));
            continue;
        }
        let Some((kind, step)) = step(node, &mut problems) else {
            problems.push(Problem::node(&node.id, format!("unknown node type {:?} (one of {})", node.kind, NODE_TYPES.join(", "))));
            continue;
        };
        let mut s = Settings { node, problems: &mut problems };
        let timeout = match kind {
            "start" => None,
            _ => s.number("timeout_ms", 1.0, 24.0 * 3600.0 * 1000.0).map(|ms| Duration::from_millis(ms as u64)).or(default_timeout(kind)),
        };
        let retries = s.number("retries", 0.0, MAX_RETRIES as f64).map_or(0, |r| r as u32);
        index.insert(&node.id, nodes.len());
        nodes.push(PlanNode { id: node.id.clone(), kind, step, timeout, retries, incoming: Vec::new(), outgoing: Vec::new() });
    }

    let starts: Vec<usize> = nodes.iter().enumerate().filter(|(_, n)| n.kind == "start").map(|(i, _)| i).collect();
    match starts.len() {
        0 => problems.push(Problem::graph("a workflow needs a start node")),
        1 => {}
        _ => starts[1..].iter().for_each(|&i| problems.push(Problem::node(&nodes[i].id, "a workflow has exactly one start node"))),
    }

    let mut edges = Vec::new();
    let mut seen_edges = HashSet::new();
    for (i, edge) in graph.edges.iter().enumerate() {
        let name = if edge.id.is_empty() { format!("#{}", i + 1) } else { edge.id.clone() };
        let (source, target) = (index.get(edge.source.as_str()).copied(), index.get(edge.target.as_str()).copied());
        let known = |id: &str| graph.nodes.iter().any(|n| n.id == id);
        if source.is_none() && !known(&edge.source) {
            problems.push(Problem::edge(&name, format!("comes from a missing node {:?}", edge.source)));
        }
        if target.is_none() && !known(&edge.target) {
            problems.push(Problem::edge(&name, format!("goes to a missing node {:?}", edge.target)));
        }
        let (Some(source), Some(target)) = (source, target) else { continue };
        if nodes[target].kind == "start" {
            problems.push(Problem::edge(&name, format!("goes into the start node {:?}", edge.target)));
        }
        if nodes[source].kind == "output" {
            problems.push(Problem::edge(&name, format!("leaves the output node {:?}, which ends a run", edge.source)));
        }
        let branch = match (nodes[source].kind, edge.source_handle.as_deref().filter(|h| !h.is_empty())) {
            ("condition", Some("true")) => Some(Branch::True),
            ("condition", Some("false")) => Some(Branch::False),
            ("condition", other) => {
                problems.push(Problem::edge(
                    &name,
                    format!(
                        "leaves condition {:?} without saying which branch: sourceHandle must be \"true\" or \"false\", not {other:?}",
                        edge.source
                    ),
                ));
                None
            }
            (_, _) => None,
        };
        if !seen_edges.insert((source, target, branch)) {
            problems.push(Problem::edge(&name, "repeats another edge"));
            continue;
        }
        nodes[source].outgoing.push(edges.len());
        nodes[target].incoming.push(edges.len());
        edges.push(PlanEdge { source, target, branch });
    }

    // Cycles: Kahn's algorithm; whatever is left over sits on a cycle.
    let mut indegree: Vec<usize> = nodes.iter().map(|n| n.incoming.len()).collect();
    let mut queue: VecDeque<usize> = (0..nodes.len()).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(n) = queue.pop_front() {
        order.push(n);
        for &e in &nodes[n].outgoing {
            let t = edges[e].target;
            indegree[t] -= 1;
            if indegree[t] == 0 {
                queue.push_back(t);
            }
        }
    }
    let cyclic = order.len() < nodes.len();
    if cyclic {
        for (i, n) in nodes.iter().enumerate() {
            if indegree[i] > 0 {
                problems.push(Problem::node(&n.id, "is on a cycle (a workflow's edges must not loop back)"));
            }
        }
    }

    if let [start] = starts.as_slice() {
        // Reachability from the start node, over the edges as written, so a node that did
        // not type (already reported) does not make everything after it look unreachable.
        let mut reached: HashSet<&str> = HashSet::new();
        let mut stack = vec![nodes[*start].id.as_str()];
        while let Some(n) = stack.pop() {
            if reached.insert(n) {
                stack.extend(graph.edges.iter().filter(|e| e.source == n).map(|e| e.target.as_str()));
            }
        }
        for n in &nodes {
            if !reached.contains(n.id.as_str()) {
                problems.push(Problem::node(&n.id, "cannot be reached from the start node"));
            }
        }
    }

    // References: each must name a node, and (when the order is known) one upstream. The
    // upstream sets are bitsets: n² bits stay small at the size limit, where hash sets would not.
    let words = nodes.len().div_ceil(64);
    let mut upstream: Vec<Vec<u64>> = vec![vec![0; words]; nodes.len()];
    for &n in &order {
        let mut set = vec![0u64; words];
        for &e in &nodes[n].incoming {
            let s = edges[e].source;
            set[s / 64] |= 1 << (s % 64);
            for (w, bits) in set.iter_mut().zip(&upstream[s]) {
                *w |= bits;
            }
        }
        upstream[n] = set;
    }
    let is_upstream = |of: usize, node: usize| upstream[of][node / 64] & (1 << (node % 64)) != 0;
    for node in &graph.nodes {
        let Some(&n) = index.get(node.id.as_str()) else { continue };
        let mut refs = Vec::new();
        template::references_in(&Value::Object(node.config.clone()), &mut refs);
        let mut reported = HashSet::new();
        for r in refs {
            if !reported.insert(r.clone()) {
                continue;
            }
            match index.get(r.as_str()) {
                // A node that did not type is already reported.
                None if graph.nodes.iter().any(|m| m.id == r) => {}
                None => problems.push(Problem::node(&node.id, format!("refers to a missing node {r:?}"))),
                Some(&m) if m == n => problems.push(Problem::node(&node.id, "refers to itself")),
                Some(&m) if !cyclic && !is_upstream(n, m) => {
                    problems.push(Problem::node(&node.id, format!("refers to {r:?}, which does not run before it")))
                }
                Some(_) => {}
            }
        }
    }

    if problems.is_empty() { Ok(Plan { nodes, edges, start: starts[0] }) } else { Err(problems) }
}

/// Every problem of a definition (empty when it can run).
pub fn validate(graph: &Graph) -> Vec<Problem> {
    plan(graph).err().unwrap_or_default()
}
