// The workflow API's shapes as the editor uses them: stricter than the generated OpenAPI
// types (src/api/schema.ts), which mark every defaulted field optional, and checked against
// them at compile time (the `Fits` list at the end), so a change to the server's document
// that these no longer fit fails `tsc`.
import type { components } from '../api/schema';

export const NODE_TYPES = ['start', 'llm', 'condition', 'code', 'http', 'variable', 'output', 'knowledge', 'tool'] as const;
export type NodeType = (typeof NODE_TYPES)[number];

export interface Position {
  x: number;
  y: number;
}

export interface WorkflowNode {
  id: string;
  /** One of NODE_TYPES (a string: the server may know types this UI does not). */
  type: string;
  position: Position;
  config: Record<string, unknown>;
}

export interface WorkflowEdge {
  id: string;
  source: string;
  target: string;
  /** `true` or `false` on the edges out of a condition node. */
  sourceHandle?: string | null;
}

/** What validate takes and the graph part of a workflow. */
export interface Graph {
  nodes: WorkflowNode[];
  edges: WorkflowEdge[];
}

/** The canonical definition: what export writes and import reads. */
export interface Definition extends Graph {
  name: string;
  description?: string;
}

export interface Workflow extends Graph {
  id: string;
  name: string;
  description: string;
  created_at: string;
  updated_at: string;
}

export interface WorkflowFields {
  name?: string;
  description?: string;
  nodes?: WorkflowNode[];
  edges?: WorkflowEdge[];
}

export interface Problem {
  node_id: string | null;
  edge_id: string | null;
  message: string;
}

export interface Validation {
  valid: boolean;
  problems: Problem[];
}

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'cancelled';
export type NodeStatus = 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

export interface Run {
  id: string;
  workflow_id: string | null;
  workflow_name: string;
  status: RunStatus;
  inputs: Record<string, unknown>;
  /** `{}` until the run has finished. */
  outputs: Record<string, unknown>;
  error: string | null;
  /** Node executions so far (retries count). */
  steps: number;
  prompt_tokens: number;
  completion_tokens: number;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
}

export interface NodeRun {
  node_id: string;
  node_type: string;
  status: NodeStatus;
  attempts: number;
  /** What the node was given, references resolved. */
  inputs: unknown;
  outputs: Record<string, unknown>;
  error: string | null;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  prompt_tokens: number;
  completion_tokens: number;
}

export type RunDetail = Run & { nodes: NodeRun[] };

interface EventBase {
  seq: number;
  run_id: string;
}

export type RunEvent =
  | (EventBase & { type: 'run_started'; workflow_id: string | null; inputs: Record<string, unknown> })
  | (EventBase & { type: 'node_started'; node_id: string; node_type: string; attempt: number; inputs: unknown })
  | (EventBase & { type: 'text_chunk'; node_id: string; text: string })
  | (EventBase & {
      type: 'node_finished';
      node_id: string;
      node_type: string;
      status: NodeStatus;
      outputs: Record<string, unknown>;
      error: string | null;
      duration_ms: number;
    })
  | (EventBase & { type: 'run_finished'; status: RunStatus; outputs: Record<string, unknown>; error: string | null; duration_ms: number });

/** A start node's declared input. */
export interface StartInput {
  name: string;
  type: 'string' | 'number' | 'boolean' | 'object';
  required?: boolean;
  default?: unknown;
}

export const CONDITION_OPS = ['equals', 'not_equals', 'contains', 'greater', 'less', 'empty', 'not_empty'] as const;
export const TRANSFORMS = ['upper', 'lower', 'trim', 'length', 'to_number', 'to_string', 'json_parse', 'json_stringify'] as const;

type S = components['schemas'];
/** Compiles only when `A` fits `B`. */
type Fits<A extends B, B> = A;
export type CheckedAgainstTheServer = [
  Fits<Workflow, S['Workflow']>,
  Fits<WorkflowFields, S['WorkflowIn']>,
  Fits<Graph, S['GraphIn']>,
  Fits<Validation, S['Validation']>,
  Fits<Run, S['Run']>,
  Fits<NodeRun, S['NodeRun']>,
  Fits<RunDetail, S['RunDetail']>,
  Fits<RunStatus, S['RunStatus']>,
  Fits<NodeStatus, S['NodeStatus']>,
];
