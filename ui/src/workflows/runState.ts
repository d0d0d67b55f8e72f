// What the editor shows of a run: its status and each node's, built from the run's events as
// they stream (or from the stored record of a finished run). Pure, so a replayed or duplicated
// event (a resumed stream) changes nothing.
import type { NodeStatus, Run, RunDetail, RunEvent, RunStatus } from './types';

export interface NodeView {
  kind: string;
  status: NodeStatus;
  attempt: number;
  /** An llm node's answer so far (text_chunk), then its final `text`. */
  text: string;
  inputs: unknown;
  outputs: Record<string, unknown> | null;
  error: string | null;
  duration_ms: number | null;
}

export interface RunView {
  runId: string | null;
  /** `starting`: asked for, not answered yet. */
  status: RunStatus | 'starting' | null;
  lastSeq: number;
  nodes: Record<string, NodeView>;
  /** Node ids in the order they started (or were settled). */
  order: string[];
  inputs: Record<string, unknown> | null;
  outputs: Record<string, unknown> | null;
  error: string | null;
  duration_ms: number | null;
}

export const noRun: RunView = {
  runId: null,
  status: null,
  lastSeq: 0,
  nodes: {},
  order: [],
  inputs: null,
  outputs: null,
  error: null,
  duration_ms: null,
};

export const startingRun: RunView = { ...noRun, status: 'starting' };

/** A run just created (the POST's answer), before its events. */
export function viewOfRun(run: Run): RunView {
  // A running run's outputs are `{}`: none yet, not "no outputs".
  const outputs = run.status === 'running' ? null : (run.outputs ?? null);
  return { ...noRun, nodes: {}, order: [], runId: run.id, status: run.status, inputs: run.inputs ?? null, outputs, error: run.error, duration_ms: run.duration_ms };
}

/** A stored run with its node records. Events of the same run that follow are still applied
 * (lastSeq 0): a replay from the start rebuilds the same picture. */
export function viewOfDetail(d: RunDetail): RunView {
  const v = viewOfRun(d);
  for (const n of d.nodes ?? []) {
    v.nodes[n.node_id] = {
      kind: n.node_type,
      status: n.status,
      attempt: n.attempts,
      text: typeof n.outputs?.text === 'string' ? n.outputs.text : '',
      inputs: n.inputs,
      outputs: n.outputs,
      error: n.error,
      duration_ms: n.duration_ms,
    };
    v.order.push(n.node_id);
  }
  return v;
}

const blank = (kind: string): NodeView => ({ kind, status: 'running', attempt: 1, text: '', inputs: null, outputs: null, error: null, duration_ms: null });

function withNode(v: RunView, id: string, node: NodeView): RunView {
  return { ...v, nodes: { ...v.nodes, [id]: node }, order: v.order.includes(id) ? v.order : [...v.order, id] };
}

export function applyEvent(v: RunView, ev: RunEvent): RunView {
  if (v.runId !== null && ev.run_id !== v.runId) return v;
  if (typeof ev.seq === 'number') {
    if (ev.seq <= v.lastSeq) return v;
    v = { ...v, lastSeq: ev.seq };
  }
  if (v.runId === null) v = { ...v, runId: ev.run_id };
  switch (ev.type) {
    case 'run_started':
      return { ...v, status: 'running', inputs: ev.inputs ?? v.inputs };
    case 'node_started': {
      // A new attempt starts over: the text of a failed one is not part of the answer.
      const prev = v.nodes[ev.node_id];
      return withNode(v, ev.node_id, { ...blank(ev.node_type ?? prev?.kind ?? ''), attempt: ev.attempt ?? 1, inputs: ev.inputs ?? null });
    }
    case 'text_chunk': {
      const prev = v.nodes[ev.node_id] ?? blank('llm');
      return withNode(v, ev.node_id, { ...prev, text: prev.text + (ev.text ?? '') });
    }
    case 'node_finished': {
      const prev = v.nodes[ev.node_id] ?? { ...blank(ev.node_type), attempt: 0 };
      const text = typeof ev.outputs?.text === 'string' ? ev.outputs.text : prev.text;
      return withNode(v, ev.node_id, {
        ...prev,
        kind: ev.node_type ?? prev.kind,
        status: ev.status,
        text,
        outputs: ev.outputs ?? null,
        error: ev.error ?? null,
        duration_ms: ev.duration_ms ?? null,
      });
    }
    case 'run_finished':
      return { ...v, status: ev.status, outputs: ev.outputs ?? null, error: ev.error ?? null, duration_ms: ev.duration_ms ?? null };
    default:
      return v; // a type this UI does not know yet
  }
}

export const isLive = (v: RunView) => v.status === 'running' || v.status === 'starting';

/** The text outputs of a run, for showing as text next to the JSON. */
export function textOutputs(outputs: Record<string, unknown> | null): [string, string][] {
  if (!outputs) return [];
  return Object.entries(outputs).filter((e): e is [string, string] => typeof e[1] === 'string');
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}
