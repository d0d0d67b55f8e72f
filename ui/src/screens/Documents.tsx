// A workspace's documents on the Workspaces screen: the list, files added by drag and drop
// or the file picker (each uploaded, then read by an ingest job whose progress shows here),
// and removal. Replies in the workspace search these and cite them.
import { useCallback, useEffect, useRef, useState, type DragEvent } from 'react';
import { api, describeError } from '../api/client';
import type { Document, Job, Workspace } from '../api/types';

const ACCEPT = '.md,.markdown,.txt,.text,.html,.htm,.pdf,.docx,.rs,.py,.js,.ts,.tsx,.go,.java,.c,.h,.cpp,.json,.toml,.yaml,.yml,.csv';

/** Follows a job until it ends, calling `onUpdate` with each new state. */
export async function followJob(id: string, onUpdate: (job: Job) => void, everyMs = 400, signal?: AbortSignal): Promise<Job> {
  for (;;) {
    const job = await api.job(id);
    onUpdate(job);
    if (job.status !== 'queued' && job.status !== 'running') return job;
    await new Promise((r) => setTimeout(r, everyMs));
    if (signal?.aborted) return job;
  }
}

function size(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / (1 << 20)).toFixed(1)} MB`;
}

/** What the job says about itself, in a line. */
export function jobLine(job: Job): string {
  const failed = Array.isArray((job.output as Record<string, unknown> | undefined)?.failed)
    ? ((job.output as Record<string, unknown>).failed as { path?: string; error?: string }[])
    : [];
  const errors = failed.map((f) => `${(f.path ?? '').split('/').pop()}: ${f.error}`).join('; ');
  switch (job.status) {
    case 'queued':
      return 'waiting…';
    case 'running':
      return job.total ? `${job.message} (${job.done}/${job.total})` : job.message || 'working…';
    case 'failed':
      return `failed: ${job.error ?? 'no reason given'}`;
    case 'cancelled':
      return 'cancelled';
    default:
      return errors ? `${job.message} — ${errors}` : job.message;
  }
}

export function Documents({ ws }: { ws: Workspace }) {
  const [docs, setDocs] = useState<Document[] | null>(null);
  const [uploads, setUploads] = useState<{ id: number; name: string; job?: Job; error?: string }[]>([]);
  const counter = useRef(0);
  const [dragging, setDragging] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const picker = useRef<HTMLInputElement>(null);
  const stop = useRef(new AbortController());

  const reload = useCallback(
    () =>
      api.documents(ws.id).then(
        (list) => setDocs(list),
        (e: unknown) => setError(describeError(e, 'settings')),
      ),
    [ws.id],
  );

  useEffect(() => {
    const controller = new AbortController();
    stop.current = controller;
    void reload();
    return () => controller.abort();
  }, [reload]);

  const add = async (files: File[]) => {
    if (files.length === 0) return;
    setError(null);
    const ids = files.map(() => ++counter.current);
    setUploads((u) => [...u, ...files.map((f, i) => ({ id: ids[i], name: f.name }))]);
    const set = (id: number, patch: { job?: Job; error?: string }) => setUploads((u) => u.map((x) => (x.id === id ? { ...x, ...patch } : x)));
    await Promise.all(
      files.map(async (file, i) => {
        try {
          const job = await api.uploadDocument(ws.id, file);
          set(ids[i], { job });
          await followJob(job.id, (j) => set(ids[i], { job: j }), 400, stop.current.signal);
        } catch (e) {
          set(ids[i], { error: describeError(e, 'settings') });
        }
      }),
    );
    await reload();
  };

  const remove = async (doc: Document) => {
    try {
      await api.deleteDocument(doc.id);
      await reload();
    } catch (e) {
      setError(describeError(e, 'settings'));
    }
  };

  const onDrop = (e: DragEvent<HTMLDivElement>) => {
    e.preventDefault();
    setDragging(false);
    void add(Array.from(e.dataTransfer.files));
  };

  return (
    <section className="card documents" aria-label={`Documents of ${ws.name}`}>
      <h2>Documents</h2>
      <p className="muted">Replies in this workspace search these documents and cite the passages they use as [1], [2]. Markdown, text, HTML, PDF, DOCX and source code.</p>
      <div
        className={`drop-zone${dragging ? ' dragging' : ''}`}
        data-testid="drop-zone"
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <span>Drop files here, or</span>{' '}
        <button type="button" className="btn small" onClick={() => picker.current?.click()}>
          Add files…
        </button>
        <input
          ref={picker}
          type="file"
          multiple
          hidden
          accept={ACCEPT}
          aria-label="Files to add"
          data-testid="document-picker"
          onChange={(e) => {
            const files = Array.from(e.target.files ?? []);
            e.target.value = '';
            void add(files);
          }}
        />
      </div>
      {uploads.length > 0 && (
        <ul className="uploads" aria-label="Files being added">
          {uploads.map((u) => (
            <li key={u.id} data-status={u.error ? 'failed' : (u.job?.status ?? 'uploading')}>
              <strong>{u.name}</strong>: <span className={u.error || u.job?.status === 'failed' ? 'error-text' : 'muted'}>{u.error ?? (u.job ? jobLine(u.job) : 'uploading…')}</span>
            </li>
          ))}
        </ul>
      )}
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
      {docs && docs.length === 0 && <p className="muted small">No documents yet.</p>}
      {docs && docs.length > 0 && (
        <ul className="doc-list" aria-label="Documents">
          {docs.map((d) => (
            <li key={d.id} data-document-id={d.id}>
              <span className="doc-title">{d.title}</span>
              <span className="muted small">
                {' '}
                {d.format} · {d.chunks} passage{d.chunks === 1 ? '' : 's'} · {size(d.size)}
              </span>
              <button type="button" className="icon-btn danger" aria-label={`Remove ${d.title}`} onClick={() => void remove(d)}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
