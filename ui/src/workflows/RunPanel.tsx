// Running the workflow: a form for the start node's inputs, Run / Stop, each node's status and
// streaming text as the events come, the outputs, and the recent runs.
import { useState, type FormEvent } from 'react';
import { describeError } from '../api/client';
import { formatDate } from '../components/Busy';
import { initialRunValues, runInputs, type RunFormValues } from './forms';
import { formatDuration, isLive, textOutputs, type NodeView } from './runState';
import type { Runner } from './useRun';
import type { StartInput } from './types';

function InputField({ input, value, onChange, error }: { input: StartInput; value: string | boolean; onChange: (v: string | boolean) => void; error?: string }) {
  const testId = `wf-run-input-${input.name}`;
  const label = (
    <span>
      {input.name} <span className="muted small">{input.type}{input.required ? ', required' : ''}</span>
    </span>
  );
  if (input.type === 'boolean') {
    return (
      <label className="check field">
        <input type="checkbox" data-testid={testId} checked={value === true} onChange={(e) => onChange(e.target.checked)} /> {label}
      </label>
    );
  }
  return (
    <label className="field">
      {label}
      {input.type === 'object' ? (
        <textarea className="mono" rows={3} data-testid={testId} value={String(value)} placeholder="{ }" aria-invalid={!!error} onChange={(e) => onChange(e.target.value)} />
      ) : (
        <input type="text" inputMode={input.type === 'number' ? 'decimal' : undefined} data-testid={testId} value={String(value)} aria-invalid={!!error} onChange={(e) => onChange(e.target.value)} />
      )}
      {error && <small className="error-text">{error}</small>}
    </label>
  );
}

function NodeRow({ id, node, onSelect }: { id: string; node: NodeView; onSelect: (id: string) => void }) {
  return (
    <li className={`wf-run-node status-${node.status}`} data-node={id}>
      <button type="button" className="wf-run-node-head" onClick={() => onSelect(id)} title="Show this node">
        <span className="wf-dot" aria-hidden="true" />
        <code>{id}</code>
        <span className="muted small">{node.kind}</span>
        <span className="wf-run-node-status">{node.status}</span>
        <span className="muted small">
          {formatDuration(node.duration_ms)}
          {node.attempt > 1 ? ` · attempt ${node.attempt}` : ''}
        </span>
      </button>
      {node.kind === 'llm' && node.text && <div className="wf-run-text">{node.text}</div>}
      {node.error && <div className="error-text small">{node.error}</div>}
      {node.outputs && node.kind !== 'llm' && Object.keys(node.outputs).length > 0 && (
        <details>
          <summary className="small muted">Outputs</summary>
          <pre className="wf-json">{JSON.stringify(node.outputs, null, 2)}</pre>
        </details>
      )}
    </li>
  );
}

export function RunPanel({
  runner,
  inputs,
  ensureSaved,
  onSelectNode,
}: {
  runner: Runner;
  /** The start node's declared inputs, as the editor has them now. */
  inputs: StartInput[];
  /** Saves unsaved changes first; false when that failed. */
  ensureSaved: () => Promise<boolean>;
  onSelectNode: (id: string) => void;
}) {
  const { view, history, error, problems } = runner;
  const [values, setValues] = useState<RunFormValues>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const live = isLive(view);
  const initial = initialRunValues(inputs);
  const valueOf = (name: string) => values[name] ?? initial[name] ?? '';

  const run = async (e: FormEvent) => {
    e.preventDefault();
    const form: RunFormValues = {};
    for (const i of inputs) form[i.name] = valueOf(i.name);
    const r = runInputs(inputs, form);
    setErrors(r.errors);
    if (Object.keys(r.errors).length) return;
    if (!(await ensureSaved())) return;
    await runner.start(r.inputs);
  };

  const texts = textOutputs(view.outputs);
  // A failed run has `{}` for outputs: nothing to show then.
  const showOutputs = view.outputs !== null && !live && (view.status === 'succeeded' || Object.keys(view.outputs).length > 0);
  return (
    <div className="wf-run">
      <form className="form" onSubmit={run} aria-label="Run the workflow">
        {inputs.length === 0 && <p className="muted small">The start node declares no inputs.</p>}
        {inputs
          .filter((i) => i.name)
          .map((i) => (
            <InputField key={i.name} input={i} value={valueOf(i.name)} error={errors[i.name]} onChange={(v) => setValues((s) => ({ ...s, [i.name]: v }))} />
          ))}
        <div className="row">
          <button className="btn primary" type="submit" data-testid="wf-run" disabled={live}>
            Run
          </button>
          {view.status === 'running' && (
            <button className="btn danger" type="button" onClick={runner.stop} aria-label="Stop the run">
              Stop
            </button>
          )}
        </div>
      </form>

      {error ? (
        <div className="inline-error" role="alert">
          {describeError(error)}
          {problems.length > 0 && (
            <ul>
              {problems.map((p, i) => (
                <li key={i}>
                  {p.node_id ? <code>{p.node_id}</code> : p.edge_id ? <code>{p.edge_id}</code> : null} {p.message}
                </li>
              ))}
            </ul>
          )}
          <button className="icon-btn" aria-label="Dismiss the error" onClick={() => runner.setError(null)}>
            ×
          </button>
        </div>
      ) : null}

      {view.status && (
        <section className="wf-run-view" aria-label="The run">
          <p className={`wf-run-state status-${view.status}`} role="status">
            <span className="wf-dot" aria-hidden="true" /> Run <span data-testid="wf-run-status">{view.status}</span>
            {view.duration_ms !== null && <span className="muted small"> · {formatDuration(view.duration_ms)}</span>}
          </p>
          {view.error && <p className="error-text small">{view.error}</p>}
          {view.order.length > 0 && (
            <ul className="wf-run-nodes">
              {view.order.map((id) => (
                <NodeRow key={id} id={id} node={view.nodes[id]} onSelect={onSelectNode} />
              ))}
            </ul>
          )}
          {showOutputs && (
            <div className="wf-run-output" data-testid="wf-run-output">
              <h3>Outputs</h3>
              {texts.map(([k, t]) => (
                <div key={k} className="wf-output-text">
                  <span className="muted small">{k}</span>
                  <div className="wf-run-text">{t}</div>
                </div>
              ))}
              <pre className="wf-json">{JSON.stringify(view.outputs, null, 2)}</pre>
            </div>
          )}
        </section>
      )}

      <section className="wf-history" aria-label="Recent runs">
        <h3>Recent runs</h3>
        {history === null ? (
          <p className="muted small">Loading…</p>
        ) : history.length === 0 ? (
          <p className="muted small">No runs yet.</p>
        ) : (
          <ul>
            {history.map((r) => (
              <li key={r.id}>
                <button type="button" className={`wf-history-item status-${r.status}${r.id === view.runId ? ' active' : ''}`} data-run-id={r.id} aria-pressed={r.id === view.runId} onClick={() => runner.open(r.id)}>
                  <span className="wf-dot" aria-hidden="true" />
                  <span>{r.status}</span>
                  <span className="muted small">{formatDate(r.started_at)}</span>
                  <span className="muted small">{formatDuration(r.duration_ms)}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
