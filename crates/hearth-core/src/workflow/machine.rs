//! The run as a pure state machine: [`Machine::start`] and [`Machine::handle`] take what
//! happened and return what to do ([`Effect`]s). No clock, no IO, no tasks: the driver
//! (`driver.rs`) performs the effects and feeds results back, and the unit tests drive the
//! machine by hand.
//!
//! The rules:
//! - A node is ready once every edge into it is settled and at least one was taken; if
//!   none was taken it is skipped, and its own edges are not taken either. A condition
//!   takes only the edges of the branch it chose.
//! - Nodes that do no IO (start, condition, variable, output) are evaluated here, at once.
//!   The others become [`Effect::Execute`], at most `max_parallel` at a time.
//! - A failed attempt is retried while the node has retries left; after that the run fails,
//!   running nodes are stopped, and the run finishes when the last of them reports back.
//! - Every execution (retries included) is a step; going past `max_steps` fails the run.
//! - Cancel and abort (the driver's wall-time limit) stop running nodes the same way.

use std::collections::VecDeque;
use std::time::Duration;

use hearth_types::{NodeStatus, RunEventKind, RunStatus};
use serde_json::{Map, Value};

use super::graph::{Branch, InputType, Op, Plan, Rule, Step, Transform};
use super::request;
use super::template::{MAX_VALUE_BYTES, Scope, StepError, object_size, too_large};

/// Bounds on one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunLimits {
    /// Node executions, retries included.
    pub max_steps: u32,
    pub wall_time: Duration,
    /// IO nodes (llm, code, http) running at once.
    pub max_parallel: usize,
    /// Bytes of node outputs one run may record (each node's outputs are also at most
    /// [`MAX_VALUE_BYTES`]): the record lands in SQLite, and every output is kept in memory
    /// for later references until the run ends.
    pub max_recorded_bytes: usize,
}

impl Default for RunLimits {
    fn default() -> Self {
        Self { max_steps: 500, wall_time: Duration::from_secs(20 * 60), max_parallel: 4, max_recorded_bytes: 64 << 20 }
    }
}

/// IO for the driver to perform, with every reference already resolved.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Task {
    Llm { model: Option<String>, system_prompt: String, prompt: String, temperature: Option<f32>, max_tokens: Option<u32> },
    Code { code: String, inputs: Value, memory_mb: u32 },
    Http { method: String, url: String, headers: Vec<(String, String)>, body: String, max_bytes: u64, allow_local: bool },
    Knowledge { workspace: String, query: String, limit: u32 },
    Tool { tool: String, arguments: Value, workspace: String },
}

/// What a node produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Outcome {
    pub(crate) outputs: Map<String, Value>,
}

/// Why an attempt did not produce an outcome.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Failure {
    /// Worth another attempt when retries are left (errors, timeouts).
    Error(String),
    /// Stopped because the machine asked (cancel, abort, another node failing).
    Stopped,
}

/// What happened, for the machine.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Input {
    Done {
        node: usize,
        result: Result<Outcome, Failure>,
    },
    Cancel,
    /// The run must end now, as failed, for this reason (the wall-time limit).
    Abort(String),
}

/// What to do.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Effect {
    /// Record and publish this event (the driver numbers it and fills in durations).
    Emit(RunEventKind),
    /// Run this task for `node`; wait `delay` first (a retry's backoff).
    Execute { node: usize, attempt: u32, task: Task, timeout: Option<Duration>, delay: Duration },
    /// Stop the task running for `node`; it reports back with [`Failure::Stopped`].
    Stop { node: usize },
    /// The run is over.
    Finish { status: RunStatus, outputs: Map<String, Value>, error: Option<String> },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Waiting,
    Queued,
    Running { attempt: u32 },
    Done(NodeStatus),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EdgeState {
    Pending,
    Taken,
    Dead,
}

/// One run in progress.
#[derive(Debug)]
pub(crate) struct Machine<'p> {
    plan: &'p Plan,
    limits: RunLimits,
    inputs: Map<String, Value>,
    nodes: Vec<State>,
    edges: Vec<EdgeState>,
    scope: Scope,
    /// IO nodes ready to run, waiting for a free slot.
    queue: VecDeque<usize>,
    /// Edges settled but not yet followed: worked through in order, so a long chain of pure
    /// or skipped nodes is a loop, not a recursion as deep as the chain.
    settled: VecDeque<(usize, bool)>,
    running: usize,
    steps: u32,
    /// Bytes of node outputs recorded so far (see [`RunLimits::max_recorded_bytes`]).
    recorded: usize,
    outputs: Map<String, Value>,
    /// Set once the run is ending: the status it will end with and why.
    ending: Option<(RunStatus, Option<String>)>,
    finished: bool,
}

/// Turns the given inputs into the start node's declared ones: typed, defaults filled in,
/// required ones present, nothing undeclared.
pub(crate) fn check_inputs(plan: &Plan, given: &Map<String, Value>) -> Result<Map<String, Value>, StepError> {
    let Step::Start { inputs } = &plan.nodes[plan.start].step else { unreachable!("the plan's start is a start node") };
    let mut problems = Vec::new();
    for name in given.keys() {
        if !inputs.iter().any(|i| &i.name == name) {
            let declared: Vec<_> = inputs.iter().map(|i| i.name.as_str()).collect();
            problems.push(format!(
                "unknown input {name:?} (the workflow takes {})",
                if declared.is_empty() { "no inputs".to_owned() } else { declared.join(", ") }
            ));
        }
    }
    let mut out = Map::new();
    for decl in inputs {
        let value = match given.get(&decl.name).filter(|v| !v.is_null()) {
            Some(v) => v.clone(),
            None => match &decl.default {
                Some(d) => d.clone(),
                None if decl.required => {
                    problems.push(format!("input {:?} is required", decl.name));
                    continue;
                }
                None => Value::Null,
            },
        };
        let typed = match (decl.kind, value) {
            (_, Value::Null) => Some(Value::Null),
            (InputType::String, Value::String(s)) => Some(Value::String(s)),
            (InputType::String, other) => Some(Value::String(other.to_string())),
            (InputType::Number, Value::Number(n)) => Some(Value::Number(n)),
            (InputType::Number, Value::String(s)) => {
                s.trim().parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(|n| match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9e15 => Value::from(f as i64),
                    _ => Value::Number(n),
                })
            }
            (InputType::Boolean, Value::Bool(b)) => Some(Value::Bool(b)),
            (InputType::Boolean, Value::String(s)) => match s.trim() {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => None,
            },
            (InputType::Object, Value::String(s)) => serde_json::from_str(&s).ok(),
            (InputType::Object, other) => Some(other),
            (_, _) => None,
        };
        match typed {
            Some(v) => {
                out.insert(decl.name.clone(), v);
            }
            None => problems.push(format!("input {:?} must be a {}", decl.name, type_name(decl.kind))),
        }
    }
    if problems.is_empty() { Ok(out) } else { Err(StepError(problems.join("; "))) }
}

fn type_name(kind: InputType) -> &'static str {
    match kind {
        InputType::String => "string",
        InputType::Number => "number",
        InputType::Boolean => "boolean (true or false)",
        InputType::Object => "JSON value",
    }
}

impl<'p> Machine<'p> {
    /// A run of `plan` with checked inputs (see [`check_inputs`]).
    pub(crate) fn new(plan: &'p Plan, inputs: Map<String, Value>, limits: RunLimits) -> Self {
        Self {
            plan,
            // No room at all would leave IO nodes waiting until the wall-time limit.
            limits: RunLimits { max_parallel: limits.max_parallel.max(1), ..limits },
            inputs,
            nodes: vec![State::Waiting; plan.nodes.len()],
            edges: vec![EdgeState::Pending; plan.edges.len()],
            scope: Scope::default(),
            queue: VecDeque::new(),
            settled: VecDeque::new(),
            running: 0,
            steps: 0,
            recorded: 0,
            outputs: Map::new(),
            ending: None,
            finished: false,
        }
    }

    pub(crate) fn steps(&self) -> u32 {
        self.steps
    }

    /// Begins the run: `run_started`, the start node, and whatever it makes ready.
    pub(crate) fn start(&mut self, workflow_id: Option<hearth_types::WorkflowId>) -> Vec<Effect> {
        let mut fx = vec![Effect::Emit(RunEventKind::RunStarted { workflow_id, inputs: self.inputs.clone() })];
        self.activate(self.plan.start, &mut fx);
        self.pump(&mut fx);
        fx
    }

    pub(crate) fn handle(&mut self, input: Input) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.finished {
            return fx;
        }
        match input {
            Input::Done { node, result } => self.done(node, result, &mut fx),
            Input::Cancel => self.end(RunStatus::Cancelled, Some("cancelled".to_owned()), &mut fx),
            Input::Abort(reason) => self.end(RunStatus::Failed, Some(reason), &mut fx),
        }
        self.pump(&mut fx);
        fx
    }

    fn done(&mut self, node: usize, result: Result<Outcome, Failure>, fx: &mut Vec<Effect>) {
        let State::Running { attempt } = self.nodes[node] else { return };
        self.running -= 1;
        let n = &self.plan.nodes[node];
        match result {
            Ok(outcome) => self.succeed(node, outcome.outputs, fx),
            Err(Failure::Error(e)) if self.ending.is_none() && attempt <= n.retries => {
                // Another attempt: its node_started says which; the error goes to the debug log.
                tracing::debug!(node = %n.id, attempt, error = %e, "retrying a node");
                if self.steps < self.limits.max_steps {
                    self.steps += 1;
                    self.execute(node, attempt + 1, fx);
                } else {
                    // No step left for another attempt: the node fails with its own error,
                    // the run with the limit.
                    self.nodes[node] = State::Done(NodeStatus::Failed);
                    fx.push(Effect::Emit(finished(n.id.clone(), n.kind, NodeStatus::Failed, Map::new(), Some(e))));
                    self.take_step(fx);
                }
            }
            Err(Failure::Error(e)) => self.fail(node, e, fx),
            Err(Failure::Stopped) => {
                self.nodes[node] = State::Done(NodeStatus::Cancelled);
                fx.push(Effect::Emit(finished(n.id.clone(), n.kind, NodeStatus::Cancelled, Map::new(), Some("stopped".to_owned()))));
            }
        }
    }

    /// Counts a step; fails the run when that goes past the limit.
    fn take_step(&mut self, fx: &mut Vec<Effect>) -> bool {
        if self.steps >= self.limits.max_steps {
            let reason = format!("the run went past its limit of {} steps", self.limits.max_steps);
            self.end(RunStatus::Failed, Some(reason), fx);
            return false;
        }
        self.steps += 1;
        true
    }

    /// Starts ending the run: stops what runs; [`Self::pump`] finishes once nothing does.
    fn end(&mut self, status: RunStatus, error: Option<String>, fx: &mut Vec<Effect>) {
        if self.ending.is_some() {
            return;
        }
        self.ending = Some((status, error));
        // Nodes that were ready but waiting for a slot never start: each is recorded cancelled.
        for node in std::mem::take(&mut self.queue) {
            let n = &self.plan.nodes[node];
            self.nodes[node] = State::Done(NodeStatus::Cancelled);
            fx.push(Effect::Emit(finished(
                n.id.clone(),
                n.kind,
                NodeStatus::Cancelled,
                Map::new(),
                Some("not started: the run ended".to_owned()),
            )));
        }
        for (i, s) in self.nodes.iter().enumerate() {
            if matches!(s, State::Running { .. }) {
                fx.push(Effect::Stop { node: i });
            }
        }
    }

    /// A node became ready: evaluate it here or queue its IO.
    fn activate(&mut self, node: usize, fx: &mut Vec<Effect>) {
        if self.ending.is_some() {
            return;
        }
        if self.plan.nodes[node].step.is_io() {
            self.nodes[node] = State::Queued;
            self.queue.push_back(node);
            return;
        }
        if !self.take_step(fx) {
            return;
        }
        let n = &self.plan.nodes[node];
        let (inputs, result) = self.evaluate(&n.step);
        fx.push(Effect::Emit(RunEventKind::NodeStarted { node_id: n.id.clone(), node_type: n.kind.to_owned(), attempt: 1, inputs }));
        self.nodes[node] = State::Running { attempt: 1 };
        self.running += 1;
        match result {
            Ok(outputs) => {
                self.running -= 1;
                self.succeed(node, outputs, fx);
            }
            // Evaluating again would read the same values: no retries here.
            Err(e) => {
                self.running -= 1;
                self.fail(node, e.0, fx);
            }
        }
    }

    fn fail(&mut self, node: usize, error: String, fx: &mut Vec<Effect>) {
        let n = &self.plan.nodes[node];
        self.nodes[node] = State::Done(NodeStatus::Failed);
        fx.push(Effect::Emit(finished(n.id.clone(), n.kind, NodeStatus::Failed, Map::new(), Some(error.clone()))));
        self.end(RunStatus::Failed, Some(format!("node {:?} failed: {error}", n.id)), fx);
    }

    /// Records a node's success and settles its edges; outputs past the size limits fail the
    /// node instead.
    fn succeed(&mut self, node: usize, outputs: Map<String, Value>, fx: &mut Vec<Effect>) {
        let size = object_size(&outputs);
        if size > MAX_VALUE_BYTES {
            return self.fail(node, too_large("its outputs").0, fx);
        }
        if self.recorded + size > self.limits.max_recorded_bytes {
            let limit = self.limits.max_recorded_bytes >> 20;
            return self.fail(node, format!("its outputs would take the run's record past {limit} MiB, the limit of one run"), fx);
        }
        self.recorded += size;
        let n = &self.plan.nodes[node];
        self.nodes[node] = State::Done(NodeStatus::Succeeded);
        if let Step::Output { .. } = n.step {
            self.outputs.extend(outputs.clone());
        }
        let branch = match (&n.step, outputs.get("result")) {
            (Step::Condition { .. }, Some(Value::Bool(true))) => Some(Branch::True),
            (Step::Condition { .. }, Some(_)) => Some(Branch::False),
            _ => None,
        };
        self.scope.set(&n.id, Value::Object(outputs.clone()));
        fx.push(Effect::Emit(finished(n.id.clone(), n.kind, NodeStatus::Succeeded, outputs, None)));
        for &e in &n.outgoing {
            let taken = branch.is_none() || self.plan.edges[e].branch == branch;
            self.settled.push_back((e, taken));
        }
    }

    /// Follows settled edges until none is left.
    fn follow(&mut self, fx: &mut Vec<Effect>) {
        while let Some((edge, taken)) = self.settled.pop_front() {
            self.settle(edge, taken, fx);
        }
    }

    fn settle(&mut self, edge: usize, taken: bool, fx: &mut Vec<Effect>) {
        self.edges[edge] = if taken { EdgeState::Taken } else { EdgeState::Dead };
        if self.ending.is_some() {
            // Nothing new runs or is skipped once the run is ending.
            return;
        }
        let target = self.plan.edges[edge].target;
        let incoming = &self.plan.nodes[target].incoming;
        if self.nodes[target] != State::Waiting || incoming.iter().any(|&e| self.edges[e] == EdgeState::Pending) {
            return;
        }
        if incoming.iter().any(|&e| self.edges[e] == EdgeState::Taken) {
            self.activate(target, fx);
        } else {
            let n = &self.plan.nodes[target];
            self.nodes[target] = State::Done(NodeStatus::Skipped);
            self.scope.set(&n.id, Value::Null);
            fx.push(Effect::Emit(finished(n.id.clone(), n.kind, NodeStatus::Skipped, Map::new(), None)));
            self.settled.extend(n.outgoing.iter().map(|&e| (e, false)));
        }
    }

    /// Starts queued IO nodes while there is room, and finishes the run when nothing is left.
    fn pump(&mut self, fx: &mut Vec<Effect>) {
        self.follow(fx);
        while self.running < self.limits.max_parallel && self.ending.is_none() {
            let Some(node) = self.queue.pop_front() else { break };
            if self.take_step(fx) {
                self.execute(node, 1, fx);
            }
        }
        if self.running == 0 && (self.ending.is_some() || self.queue.is_empty()) && !self.finished {
            self.finished = true;
            let (status, error) = self.ending.take().unwrap_or((RunStatus::Succeeded, None));
            let outputs = if status == RunStatus::Succeeded { std::mem::take(&mut self.outputs) } else { self.outputs.clone() };
            fx.push(Effect::Emit(RunEventKind::RunFinished { status, outputs: outputs.clone(), error: error.clone(), duration_ms: 0 }));
            fx.push(Effect::Finish { status, outputs, error });
        }
    }

    /// Resolves an IO node's references into a task and asks the driver to run it.
    fn execute(&mut self, node: usize, attempt: u32, fx: &mut Vec<Effect>) {
        let n = &self.plan.nodes[node];
        let task = self.task(&n.step);
        let inputs = match &task {
            Ok(t) => task_inputs(t),
            Err(_) => Value::Null,
        };
        fx.push(Effect::Emit(RunEventKind::NodeStarted { node_id: n.id.clone(), node_type: n.kind.to_owned(), attempt, inputs }));
        self.nodes[node] = State::Running { attempt };
        self.running += 1;
        match task {
            Ok(task) => {
                // Backoff between attempts: 100 ms, 200 ms, 400 ms, ... at most 2 s; no
                // jitter, so the machine stays a pure function of its events.
                let delay = match attempt {
                    0 | 1 => Duration::ZERO,
                    n => hearth_types::backoff(Duration::from_millis(100), Duration::from_secs(2), n - 2, 1.0),
                };
                fx.push(Effect::Execute { node, attempt, task, timeout: n.timeout, delay });
            }
            // A reference that does not resolve fails the node now, with no IO; retrying
            // would not change the values it reads.
            Err(e) => {
                self.running -= 1;
                self.fail(node, e.0, fx);
            }
        }
    }

    fn task(&self, step: &Step) -> Result<Task, StepError> {
        let s = &self.scope;
        Ok(match step {
            Step::Llm { model, system_prompt, prompt, temperature, max_tokens } => Task::Llm {
                model: model.clone(),
                system_prompt: s.render_text(system_prompt)?,
                prompt: s.render_text(prompt)?,
                temperature: *temperature,
                max_tokens: *max_tokens,
            },
            Step::Code { code, inputs, memory_mb } => {
                Task::Code { code: code.clone(), inputs: s.render_value(&Value::Object(inputs.clone()))?, memory_mb: *memory_mb }
            }
            Step::Http { method, url, headers, body, max_bytes, allow_local } => {
                let headers = request::render_headers(s, headers)?;
                Task::Http {
                    method: method.clone(),
                    url: request::render_url(s, url)?,
                    body: request::render_body(s, body, &headers)?,
                    headers,
                    max_bytes: *max_bytes,
                    allow_local: *allow_local,
                }
            }
            Step::Knowledge { workspace, query, limit } => {
                Task::Knowledge { workspace: s.render_text(workspace)?.trim().to_owned(), query: s.render_text(query)?, limit: *limit }
            }
            Step::Tool { tool, arguments, workspace } => Task::Tool {
                tool: s.render_text(tool)?.trim().to_owned(),
                arguments: s.render_value(&Value::Object(arguments.clone()))?,
                workspace: s.render_text(workspace)?.trim().to_owned(),
            },
            _ => unreachable!("only IO steps become tasks"),
        })
    }

    /// Evaluates a node that does no IO: what it was given and what it produced.
    fn evaluate(&self, step: &Step) -> (Value, Result<Map<String, Value>, StepError>) {
        let s = &self.scope;
        match step {
            Step::Start { .. } => (Value::Object(self.inputs.clone()), Ok(self.inputs.clone())),
            Step::Condition { any, rules } => {
                let resolved: Result<Vec<(Value, Op, Value)>, StepError> =
                    rules.iter().map(|Rule { left, op, right }| Ok((s.render_value(left)?, *op, s.render_value(right)?))).collect();
                match resolved {
                    Err(e) => (Value::Null, Err(e)),
                    Ok(rules) => {
                        let inputs = Value::Array(
                            rules.iter().map(|(l, op, r)| serde_json::json!({"left": l, "op": op_name(*op), "right": r})).collect(),
                        );
                        let mut results = rules.iter().map(|(l, op, r)| compare(l, *op, r));
                        let result = if *any { results.any(|b| b) } else { results.all(|b| b) };
                        let mut out = Map::new();
                        out.insert("result".into(), Value::Bool(result));
                        out.insert("branch".into(), Value::String(result.to_string()));
                        (inputs, Ok(out))
                    }
                }
            }
            Step::Variable { vars } => {
                let mut out = Map::new();
                for (name, value, transform) in vars {
                    let v = match s.render_value(value).and_then(|v| apply(*transform, v)) {
                        Ok(v) => v,
                        Err(e) => return (Value::Object(out), Err(StepError(format!("variable {name:?}: {e}")))),
                    };
                    out.insert(name.clone(), v);
                }
                (Value::Object(out.clone()), Ok(out))
            }
            Step::Output { outputs } => match s.render_value(&Value::Object(outputs.clone())) {
                Ok(Value::Object(o)) => (Value::Object(o.clone()), Ok(o)),
                Ok(_) => unreachable!("an object renders to an object"),
                Err(e) => (Value::Null, Err(e)),
            },
            Step::Llm { .. } | Step::Code { .. } | Step::Http { .. } | Step::Knowledge { .. } | Step::Tool { .. } => {
                unreachable!("IO steps run as tasks")
            }
        }
    }
}

fn finished(node_id: String, kind: &str, status: NodeStatus, outputs: Map<String, Value>, error: Option<String>) -> RunEventKind {
    RunEventKind::NodeFinished { node_id, node_type: kind.to_owned(), status, outputs, error, duration_ms: 0 }
}

/// What an IO node was given, for its record.
fn task_inputs(task: &Task) -> Value {
    match task {
        Task::Llm { model, system_prompt, prompt, temperature, max_tokens } => serde_json::json!({
            "model": model, "system_prompt": system_prompt, "prompt": prompt, "temperature": temperature, "max_tokens": max_tokens,
        }),
        Task::Code { inputs, .. } => inputs.clone(),
        Task::Http { method, url, headers, body, .. } => {
            // Header values can hold credentials; the record keeps only their names, the URL
            // without user info or secret-looking query values, and of the body (a login form,
            // a token exchange) only its size.
            let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
            serde_json::json!({"method": method, "url": hearth_llm::fetch::redact_url(url), "headers": names, "body_bytes": body.len()})
        }
        Task::Knowledge { workspace, query, limit } => serde_json::json!({"workspace": workspace, "query": query, "limit": limit}),
        Task::Tool { tool, arguments, workspace } => serde_json::json!({"tool": tool, "arguments": arguments, "workspace": workspace}),
    }
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Equals => "equals",
        Op::NotEquals => "not_equals",
        Op::Contains => "contains",
        Op::Greater => "greater",
        Op::Less => "less",
        Op::Empty => "empty",
        Op::NotEmpty => "not_empty",
    }
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(*b as u8 as f64),
        _ => None,
    }
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// One rule. Numbers compare as numbers (text that reads as a number counts); everything
/// else compares as text. `contains` looks into text and lists.
pub(crate) fn compare(left: &Value, op: Op, right: &Value) -> bool {
    let equal = || match (as_number(left), as_number(right)) {
        (Some(a), Some(b)) if !(left.is_string() && right.is_string()) => a == b,
        _ => as_text(left) == as_text(right),
    };
    match op {
        Op::Equals => equal(),
        Op::NotEquals => !equal(),
        Op::Contains => match left {
            Value::Array(a) => a.iter().any(|v| v == right || as_text(v) == as_text(right)),
            other => as_text(other).contains(&as_text(right)),
        },
        Op::Greater => matches!((as_number(left), as_number(right)), (Some(a), Some(b)) if a > b),
        Op::Less => matches!((as_number(left), as_number(right)), (Some(a), Some(b)) if a < b),
        Op::Empty => is_empty(left),
        Op::NotEmpty => !is_empty(left),
    }
}

/// A variable's transform.
pub(crate) fn apply(transform: Option<Transform>, v: Value) -> Result<Value, StepError> {
    let Some(t) = transform else { return Ok(v) };
    Ok(match t {
        Transform::Upper => Value::String(as_text(&v).to_uppercase()),
        Transform::Lower => Value::String(as_text(&v).to_lowercase()),
        Transform::Trim => Value::String(as_text(&v).trim().to_owned()),
        Transform::Length => Value::from(match &v {
            Value::Array(a) => a.len(),
            Value::Object(o) => o.len(),
            other => as_text(other).chars().count(),
        }),
        Transform::ToNumber => {
            let n = as_number(&v).ok_or_else(|| StepError(format!("{} is not a number", as_text(&v))))?;
            if n.fract() == 0.0 && n.abs() < 9e15 {
                Value::from(n as i64)
            } else {
                serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
            }
        }
        Transform::ToString => Value::String(as_text(&v)),
        Transform::JsonParse => serde_json::from_str(&as_text(&v)).map_err(|e| StepError(format!("not JSON: {e}")))?,
        Transform::JsonStringify => Value::String(v.to_string()),
    })
}
