// The workflows: open, create, import a definition file, export, delete.
import './workflows.css';
import { useCallback, useEffect, useRef, useState, type ChangeEvent } from 'react';
import { BusyBar, ErrorNote, formatDate } from '../components/Busy';
import { hrefFor, navigate } from '../lib/router';
import { useBusy } from '../lib/useBusy';
import { problemsOf, wfApi } from './api';
import { freshName, newWorkflowGraph } from './graph';
import type { Problem, Workflow } from './types';

/** A file name from a workflow name (no path separators or characters file systems refuse). */
export function fileNameFor(name: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what a file name must not hold
  const base = name.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 100) || 'workflow';
  return `${base}.json`;
}

function download(fileName: string, text: string) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function ProblemList({ problems }: { problems: Problem[] }) {
  return (
    <ul className="wf-import-problems" aria-label="Problems in the file">
      {problems.map((p, i) => (
        <li key={i}>
          {p.node_id ? <code>{p.node_id}</code> : p.edge_id ? <code>edge {p.edge_id}</code> : null} {p.message}
        </li>
      ))}
    </ul>
  );
}

export default function WorkflowList() {
  const [list, setList] = useState<Workflow[] | null>(null);
  const [confirm, setConfirm] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [importProblems, setImportProblems] = useState<Problem[]>([]);
  const fileInput = useRef<HTMLInputElement>(null);
  const { label, busy, error, setError, run } = useBusy();

  const load = useCallback(
    () =>
      run('Loading the workflows…', () => wfApi.list()).then((r) => {
        if (r.ok) setList(r.value);
      }),
    [run],
  );

  useEffect(() => {
    load();
  }, [load]);

  const create = async () => {
    const name = freshName((list ?? []).map((w) => w.name));
    const r = await run('Creating the workflow…', () => wfApi.create({ name, description: '', ...newWorkflowGraph() }));
    if (r.ok) navigate({ name: 'workflow', id: r.value.id });
  };

  const importFile = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    e.target.value = ''; // the same file can be picked again after fixing it
    if (!file) return;
    setNote(null);
    setImportProblems([]);
    let doc: unknown;
    try {
      doc = JSON.parse(await file.text());
    } catch {
      setError(`${file.name} is not JSON.`);
      return;
    }
    // A file without a name (the simple format) is named after the file.
    const named = !!doc && typeof doc === 'object' && typeof (doc as { name?: unknown }).name === 'string';
    const r = await run(`Importing ${file.name}…`, () => wfApi.import(doc, named ? undefined : file.name.replace(/\.json$/i, '')));
    if (r.ok) {
      setNote(`Imported “${r.value.name}”.`);
      await load();
    } else {
      setImportProblems(problemsOf(r.error));
    }
  };

  const exportOne = async (wf: Workflow) => {
    const r = await run(`Exporting ${wf.name}…`, () => wfApi.export(wf.id));
    if (r.ok) download(fileNameFor(wf.name), `${JSON.stringify(r.value, null, 2)}\n`);
  };

  const remove = async (wf: Workflow) => {
    setConfirm(null);
    const r = await run(`Deleting ${wf.name}…`, () => wfApi.remove(wf.id));
    if (r.ok) {
      setList((l) => (l ?? []).filter((w) => w.id !== wf.id));
      setNote(`Deleted “${wf.name}”.`);
    }
  };

  return (
    <div className="screen">
      <section className="card">
        <h2>Workflows</h2>
        <p className="muted">Graphs of steps (prompts, branches, code, HTTP calls) that run on this device and keep a record of every run.</p>
        <div className="row">
          <button className="btn primary" data-testid="wf-new" onClick={create} disabled={busy}>
            New workflow
          </button>
          <button className="btn" onClick={() => fileInput.current?.click()} disabled={busy}>
            Import…
          </button>
          <input ref={fileInput} type="file" accept=".json,application/json" className="visually-hidden" data-testid="wf-import-input" aria-label="Import a workflow file" onChange={importFile} />
        </div>
        <BusyBar label={label} />
        <ErrorNote
          error={error}
          onDismiss={() => {
            setError(null);
            setImportProblems([]);
          }}
        />
        {importProblems.length > 0 && <ProblemList problems={importProblems} />}
        {note && (
          <p className="ok-text" role="status">
            {note}
          </p>
        )}
        {list && list.length === 0 && <p className="muted">No workflow yet: create one, or import a definition file.</p>}
        {list && list.length > 0 && (
          <div className="table-wrap">
            <table className="table wf-table">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Description</th>
                  <th scope="col">Updated</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((w) => (
                  <tr key={w.id} data-workflow-id={w.id}>
                    <td>
                      <a href={hrefFor({ name: 'workflow', id: w.id })}>
                        <strong>{w.name || 'Untitled'}</strong>
                      </a>
                    </td>
                    <td className="wf-desc">{w.description}</td>
                    <td>{formatDate(w.updated_at)}</td>
                    <td className="row-actions">
                      <div>
                        <button className="btn small" disabled={busy} aria-label={`Export ${w.name}`} onClick={() => exportOne(w)}>
                          Export
                        </button>
                        {confirm === w.id ? (
                          <>
                            <button className="btn small danger" aria-label={`Confirm deleting ${w.name}`} onClick={() => remove(w)}>
                              Delete?
                            </button>
                            <button className="btn small" aria-label="Keep it" onClick={() => setConfirm(null)}>
                              Keep
                            </button>
                          </>
                        ) : (
                          <button className="btn small ghost danger" disabled={busy} aria-label={`Delete ${w.name}`} onClick={() => setConfirm(w.id)}>
                            Delete
                          </button>
                        )}
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}
