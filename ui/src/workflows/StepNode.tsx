// One workflow node on the canvas: its type, id, a line about its settings, its problems
// (red outline, badge with the messages) and, during a run, its status and streaming text.
import { createContext, memo, useContext } from 'react';
import { Handle, Position, type NodeProps } from '@xyflow/react';
import { TYPE_LABELS, type StepNode } from './graph';
import type { NodeView } from './runState';
import type { NodeType } from './types';

export interface CanvasState {
  /** Problem messages by node id. */
  problems: ReadonlyMap<string, string[]>;
  /** The run on screen, by node id. */
  run: Readonly<Record<string, NodeView>>;
}

export const CanvasContext = createContext<CanvasState>({ problems: new Map(), run: {} });

function clip(s: string, n: number): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');
const count = (v: unknown) => (Array.isArray(v) ? v.length : 0);

/** A line saying what the node does, from its settings. */
export function summary(kind: string, c: Record<string, unknown>): string {
  switch (kind) {
    case 'start': {
      const names = Array.isArray(c.inputs) ? c.inputs.map((i) => str((i as Record<string, unknown>)?.name)).filter(Boolean) : [];
      return names.length ? `Inputs: ${names.join(', ')}` : 'No inputs';
    }
    case 'llm':
      return clip(str(c.prompt_template), 48) || 'No prompt yet';
    case 'condition':
      return `${count(c.rules)} rule${count(c.rules) === 1 ? '' : 's'}, ${c.logic === 'any' ? 'any' : 'all'}`;
    case 'code':
      return 'JavaScript main(inputs)';
    case 'http':
      return clip(`${str(c.method) || 'GET'} ${str(c.url)}`, 48);
    case 'variable':
      return `${count(c.variables)} variable${count(c.variables) === 1 ? '' : 's'}`;
    case 'output': {
      const keys = c.outputs && typeof c.outputs === 'object' ? Object.keys(c.outputs) : [];
      return keys.length ? `Outputs: ${keys.join(', ')}` : 'No outputs';
    }
    case 'knowledge':
      return clip(`${str(c.workspace) || '?'}: ${str(c.query)}`, 48);
    case 'tool':
      return clip(str(c.tool) || 'No tool chosen', 48);
    default:
      return 'Unknown node type';
  }
}

export const StepNodeView = memo(function StepNodeView({ id, data, selected }: NodeProps<StepNode>) {
  const { problems, run } = useContext(CanvasContext);
  const { kind, config } = data;
  const state = run[id];
  const status = state?.status ?? 'idle';
  const msgs = problems.get(id);
  const label = TYPE_LABELS[kind as NodeType] ?? kind;
  const classes = ['wf-node', `kind-${kind}`, `status-${status}`, selected ? 'selected' : '', msgs ? 'has-problem' : ''].filter(Boolean).join(' ');

  return (
    <div className={classes} data-testid={`wf-node-${id}`} data-status={status} title={msgs?.join('\n')}>
      {kind !== 'start' && <Handle type="target" position={Position.Left} aria-label={`Into ${id}`} />}
      <div className="wf-node-head">
        <span className="wf-node-kind">{label}</span>
        {state && (
          <span className="wf-node-status" aria-label={`Status: ${status}`}>
            <span className="wf-dot" aria-hidden="true" />
            {status}
          </span>
        )}
        {msgs && (
          <span className="wf-node-badge" aria-label={`${msgs.length} problem${msgs.length === 1 ? '' : 's'}: ${msgs.join('; ')}`}>
            !{msgs.length > 1 ? msgs.length : ''}
          </span>
        )}
      </div>
      <div className="wf-node-id">{id}</div>
      <div className="wf-node-summary">{summary(kind, config)}</div>
      {msgs && <div className="wf-node-problem">{clip(msgs[0], 80)}</div>}
      {state?.text && kind === 'llm' && <div className="wf-node-stream">{clip(state.text.slice(-120), 90)}</div>}
      {kind === 'condition' ? (
        <>
          <Handle type="source" id="true" position={Position.Right} style={{ top: '38%' }} aria-label={`${id}: true`} />
          <span className="wf-handle-label" style={{ top: '38%' }}>
            true
          </span>
          <Handle type="source" id="false" position={Position.Right} style={{ top: '72%' }} aria-label={`${id}: false`} />
          <span className="wf-handle-label" style={{ top: '72%' }}>
            false
          </span>
        </>
      ) : (
        kind !== 'output' && <Handle type="source" position={Position.Right} aria-label={`Out of ${id}`} />
      )}
    </div>
  );
});

export const nodeTypes = { step: StepNodeView };
