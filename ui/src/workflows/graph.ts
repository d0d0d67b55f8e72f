// Pure helpers for the editor's graph: ids and places for new nodes, each type's first
// settings, the references a node may use, and the conversions between the API's definition
// and React Flow's nodes and edges.
import type { Edge, Node } from '@xyflow/react';
import type { Graph, NodeType, Position, WorkflowEdge, WorkflowNode } from './types';

/** What a canvas node carries: the workflow node's type and settings. */
export type StepData = { kind: string; config: Record<string, unknown> };
export type StepNode = Node<StepData, 'step'>;

/** Every workflow node is drawn by one component; its kind is in `data` (React Flow's own
 * `output` type would bring its built-in styles along). */
export const STEP = 'step' as const;

export const NODE_WIDTH = 200;
const GAP_X = 80;
const GAP_Y = 140;

export const TYPE_LABELS: Record<NodeType, string> = {
  start: 'Start',
  llm: 'LLM',
  condition: 'Condition',
  code: 'Code',
  http: 'HTTP',
  variable: 'Variable',
  output: 'Output',
  knowledge: 'Knowledge',
  tool: 'Tool',
};

/** The first free `<type>_<n>`, n from 1. */
export function newNodeId(type: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  for (let n = 1; ; n++) {
    const id = `${type}_${n}`;
    if (!used.has(id)) return id;
  }
}

export function newEdgeId(taken: Iterable<string>): string {
  const used = new Set(taken);
  for (let n = 1; ; n++) {
    if (!used.has(`e${n}`)) return `e${n}`;
  }
}

export interface Placed {
  id: string;
  kind: string;
  position: Position;
}

/**
 * Where a new node goes: to the right of the nodes, at the height of the rightmost one, moved
 * down past any node already there. Output nodes are the end of the graph, so a new step goes
 * before them: the outputs right of the last step move right to make room (`moved`).
 */
export function placeNew(nodes: Placed[], kind: string): { position: Position; moved: Record<string, Position> } {
  if (nodes.length === 0) return { position: { x: 0, y: 0 }, moved: {} };
  const steps = kind === 'output' ? nodes : nodes.filter((n) => n.kind !== 'output');
  const rightmost = (steps.length ? steps : nodes).reduce((a, b) => (b.position.x > a.position.x ? b : a));
  const x = rightmost.position.x + NODE_WIDTH + GAP_X;
  const moved: Record<string, Position> = {};
  const after = nodes.filter((n) => n.kind === 'output' && n.position.x > rightmost.position.x && kind !== 'output');
  if (after.length) {
    const shift = Math.max(0, x + NODE_WIDTH + GAP_X - Math.min(...after.map((n) => n.position.x)));
    if (shift > 0) for (const n of after) moved[n.id] = { x: n.position.x + shift, y: n.position.y };
  }
  const taken = nodes.map((n) => moved[n.id] ?? n.position);
  let y = rightmost.position.y;
  while (taken.some((p) => Math.abs(p.x - x) < NODE_WIDTH && Math.abs(p.y - y) < GAP_Y / 2)) y += GAP_Y;
  return { position: { x, y }, moved };
}

export const DEFAULT_CODE = `function main(inputs) {
  return { result: inputs };
}
`;

/** The settings a node starts with (enough to show its form; validation says what is missing). */
export function defaultConfig(type: string): Record<string, unknown> {
  switch (type) {
    case 'start':
      return { inputs: [] };
    case 'llm':
      return { prompt_template: '' };
    case 'condition':
      return { logic: 'all', rules: [{ left: '', op: 'equals', right: '' }] };
    case 'code':
      return { code: DEFAULT_CODE, inputs: {} };
    case 'http':
      return { method: 'GET', url: '' };
    case 'variable':
      return { variables: [{ name: '', value: '' }] };
    case 'output':
      return { outputs: {} };
    case 'knowledge':
      return { workspace: '', query: '' };
    case 'tool':
      return { tool: '', arguments: {} };
    default:
      return {};
  }
}

/** A new workflow: a start node and an output node, not yet joined. */
export function newWorkflowGraph(): Graph {
  return {
    nodes: [
      { id: 'start', type: 'start', position: { x: 0, y: 0 }, config: defaultConfig('start') },
      { id: 'output', type: 'output', position: { x: NODE_WIDTH + GAP_X * 2, y: 0 }, config: defaultConfig('output') },
    ],
    edges: [],
  };
}

/** "New workflow", or "New workflow 2" and on when that name is taken. */
export function freshName(taken: Iterable<string>, base = 'New workflow'): string {
  const used = new Set(taken);
  if (!used.has(base)) return base;
  for (let n = 2; ; n++) if (!used.has(`${base} ${n}`)) return `${base} ${n}`;
}

export function toFlowNode(n: WorkflowNode): StepNode {
  return {
    id: n.id,
    type: STEP,
    position: { x: n.position?.x ?? 0, y: n.position?.y ?? 0 },
    data: { kind: n.type, config: n.config ?? {} },
  };
}

export function toFlowEdge(e: WorkflowEdge): Edge {
  const handle = e.sourceHandle ?? null;
  return { id: e.id, source: e.source, target: e.target, sourceHandle: handle, label: handle ?? undefined, className: handle ? `branch-${handle}` : undefined };
}

/** The graph as the API wants it (positions rounded: they only matter to the editor). */
export function toGraph(nodes: StepNode[], edges: Edge[]): Graph {
  return {
    nodes: nodes.map((n) => ({
      id: n.id,
      type: n.data.kind,
      position: { x: Math.round(n.position.x), y: Math.round(n.position.y) },
      config: n.data.config,
    })),
    edges: edges.map((e) => {
      const out: WorkflowEdge = { id: e.id, source: e.source, target: e.target };
      if (e.sourceHandle) out.sourceHandle = e.sourceHandle;
      return out;
    }),
  };
}

/** Every node upstream of `id` (reachable backwards along edges), nearest first. */
export function upstreamOf(id: string, edges: Pick<WorkflowEdge, 'source' | 'target'>[]): string[] {
  const seen = new Set<string>([id]);
  const out: string[] = [];
  let frontier = [id];
  while (frontier.length) {
    const next: string[] = [];
    for (const t of frontier) {
      for (const e of edges) {
        if (e.target === t && !seen.has(e.source)) {
          seen.add(e.source);
          out.push(e.source);
          next.push(e.source);
        }
      }
    }
    frontier = next;
  }
  return out;
}

function names(list: unknown, key = 'name'): string[] {
  if (!Array.isArray(list)) return [];
  return list.map((x) => (x && typeof x === 'object' ? (x as Record<string, unknown>)[key] : null)).filter((s): s is string => typeof s === 'string' && s !== '');
}

/** The fields a node produces, for the reference hints (`{{#id.field#}}`). */
export function outputFields(kind: string, config: Record<string, unknown>): string[] {
  switch (kind) {
    case 'start':
      return names(config.inputs);
    case 'llm':
      return ['text', 'model', 'prompt_tokens', 'completion_tokens'];
    case 'condition':
      return ['result', 'branch'];
    case 'http':
      return ['status', 'headers', 'body'];
    case 'variable':
      return names(config.variables);
    case 'output':
      return config.outputs && typeof config.outputs === 'object' ? Object.keys(config.outputs) : [];
    case 'knowledge':
      return ['text', 'chunks', 'count'];
    case 'tool':
      return ['text', 'json'];
    default:
      return []; // code: whatever main() returns
  }
}

export const ref = (node: string, field: string) => `{{#${node}.${field}#}}`;
