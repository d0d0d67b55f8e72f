//! Workflows as stored and shown: the definition (nodes and edges in the React Flow shape),
//! runs, node runs and run events.
//!
//! The definition is kept loose on purpose: a node's `type` is any string and its `config`
//! any JSON object, so a draft with an unknown node type or a missing setting can be stored,
//! shown and fixed. Core's validation turns a definition into a checked plan before a run and
//! names every problem; nothing here judges a graph.

use serde::{Deserialize, Serialize};

use crate::{RunId, Timestamp, WorkflowId};

/// Where a node sits on the editor's canvas. It means nothing to a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Position {
    pub x: f64,
    pub y: f64,
}

/// One step of a workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Node {
    pub id: String,
    /// `start`, `llm`, `condition`, `code`, `http`, `variable`, `output` or `knowledge`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub position: Position,
    /// The node's settings (docs/workflows.md lists them per type).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub config: serde_json::Map<String, serde_json::Value>,
}

/// A connection from one node's output to another's input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Edge {
    #[serde(default)]
    pub id: String,
    pub source: String,
    pub target: String,
    /// The branch of a condition node (`true` or `false`); none for other nodes.
    #[serde(default, rename = "sourceHandle", skip_serializing_if = "Option::is_none")]
    pub source_handle: Option<String>,
}

/// The graph of a workflow.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// A stored workflow. Serialized flat (`id`, `name`, `description`, `nodes`, `edges`, times),
/// the shape export writes without the id and times.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Workflow {
    pub id: WorkflowId,
    pub name: String,
    pub description: String,
    #[serde(flatten)]
    pub graph: Graph,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A workflow to store.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NewWorkflow {
    pub name: String,
    pub description: String,
    pub graph: Graph,
}

/// A change to a workflow; `None` leaves a field alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkflowPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub graph: Option<Graph>,
}

crate::text_enum! {
    /// Where a run is.
    pub enum RunStatus: "status" { Running = "running", Succeeded = "succeeded", Failed = "failed", Cancelled = "cancelled" }
}

impl RunStatus {
    pub fn is_finished(self) -> bool {
        self != RunStatus::Running
    }
}

crate::text_enum! {
    /// Where one node of a run is.
    pub enum NodeStatus: "status" {
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        /// On a branch the run did not take.
        Skipped = "skipped",
        Cancelled = "cancelled",
    }
}

/// One run of a workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Run {
    pub id: RunId,
    /// None for a definition run straight from a file (`hearth workflow run FILE`).
    pub workflow_id: Option<WorkflowId>,
    pub workflow_name: String,
    pub status: RunStatus,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub inputs: serde_json::Map<String, serde_json::Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub outputs: serde_json::Map<String, serde_json::Value>,
    pub error: Option<String>,
    /// Node executions so far (retries count).
    pub steps: u32,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub duration_ms: Option<u64>,
}

/// The record of one node in a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeRun {
    pub node_id: String,
    pub node_type: String,
    pub status: NodeStatus,
    pub attempts: u32,
    /// What the node was given, references resolved (any JSON).
    pub inputs: serde_json::Value,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub outputs: serde_json::Map<String, serde_json::Value>,
    pub error: Option<String>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub duration_ms: Option<u64>,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

/// A run with its node records, in the order they started.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: Run,
    pub nodes: Vec<NodeRun>,
}

/// One numbered event of a run, as the API streams it: `{"seq", "type", "run_id", ...}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunEvent {
    pub seq: u64,
    pub run_id: RunId,
    #[serde(flatten)]
    pub kind: RunEventKind,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunEventKind {
    RunStarted {
        workflow_id: Option<WorkflowId>,
        inputs: serde_json::Map<String, serde_json::Value>,
    },
    NodeStarted {
        node_id: String,
        node_type: String,
        attempt: u32,
        inputs: serde_json::Value,
    },
    TextChunk {
        node_id: String,
        text: String,
    },
    NodeFinished {
        node_id: String,
        node_type: String,
        status: NodeStatus,
        outputs: serde_json::Map<String, serde_json::Value>,
        error: Option<String>,
        duration_ms: u64,
    },
    RunFinished {
        status: RunStatus,
        outputs: serde_json::Map<String, serde_json::Value>,
        error: Option<String>,
        duration_ms: u64,
    },
}

impl RunEventKind {
    /// The event's name on the wire (`type`, and the SSE `event:` line).
    pub fn name(&self) -> &'static str {
        match self {
            RunEventKind::RunStarted { .. } => "run_started",
            RunEventKind::NodeStarted { .. } => "node_started",
            RunEventKind::TextChunk { .. } => "text_chunk",
            RunEventKind::NodeFinished { .. } => "node_finished",
            RunEventKind::RunFinished { .. } => "run_finished",
        }
    }
}
