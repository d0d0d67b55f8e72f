import { useMemo, useState, type FormEvent } from 'react';
import { api } from '../api/client';
import type { Workspace } from '../api/types';
import { useApp } from '../app/context';
import { BusyBar, ErrorNote } from '../components/Busy';
import { useBusy } from '../lib/useBusy';
import { Documents } from './Documents';

export function handleFrom(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64)
    .replace(/-+$/g, '');
}

function timezones(): string[] {
  try {
    return (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];
  } catch {
    return [];
  }
}

function fallbackOf(ws: Workspace): string[] {
  const v = (ws.settings as Record<string, unknown> | null)?.fallback_models;
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** The workspace's remote embedding model (`settings.embedding_model`), or "" for the local one. */
function embeddingOf(ws: Workspace): string {
  const v = (ws.settings as Record<string, unknown> | null)?.embedding_model;
  return typeof v === 'string' ? v : '';
}

export function Editor({ ws, onSaved }: { ws: Workspace; onSaved: (ws: Workspace) => void }) {
  const app = useApp();
  const { label, busy, error, setError, run } = useBusy();
  const [name, setName] = useState(ws.name);
  const [handle, setHandle] = useState(ws.handle);
  const [tone, setTone] = useState(ws.tone);
  const [timezone, setTimezone] = useState(ws.timezone);
  const [systemPrompt, setSystemPrompt] = useState(ws.system_prompt);
  const [kb, setKb] = useState(ws.knowledge_base);
  const [defaultModel, setDefaultModel] = useState(ws.default_model ?? '');
  const [fallback, setFallback] = useState<string[]>(fallbackOf(ws));
  const [useDocs, setUseDocs] = useState((ws.settings as Record<string, unknown> | null)?.knowledge !== false);
  const [useTools, setUseTools] = useState((ws.settings as Record<string, unknown> | null)?.tools === true);
  const [embedding, setEmbedding] = useState(embeddingOf(ws));
  const [adding, setAdding] = useState('');
  const [saved, setSaved] = useState(false);
  const zones = useMemo(() => timezones(), []);
  const modelIds = app.models.map((m) => m.id);
  // A provider's models, for the embedding model: the local one is the default.
  const remoteIds = app.models.filter((m) => m.owned_by !== 'hearth').map((m) => m.id);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    const r = await run('Saving the workspace…', () =>
      api.updateWorkspace(ws.id, {
        name: name.trim(),
        handle: handle.trim(),
        tone,
        timezone: timezone.trim(),
        system_prompt: systemPrompt,
        knowledge_base: kb,
        default_model: defaultModel,
        settings: {
          ...((ws.settings ?? {}) as Record<string, unknown>),
          fallback_models: fallback,
          knowledge: useDocs,
          tools: useTools,
          embedding_model: embedding.trim() || null,
        },
      }),
    );
    if (r.ok) {
      setSaved(true);
      onSaved(r.value);
    }
  };

  const move = (i: number, d: -1 | 1) =>
    setFallback((list) => {
      const next = [...list];
      const j = i + d;
      if (j < 0 || j >= next.length) return list;
      [next[i], next[j]] = [next[j], next[i]];
      return next;
    });

  return (
    <form className="form card" onSubmit={save} aria-label={`Edit ${ws.name}`}>
      <h2>{ws.name}</h2>
      <div className="grid-2">
        <label className="field">
          <span>Name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label className="field">
          <span>Handle</span>
          <input value={handle} onChange={(e) => setHandle(e.target.value)} pattern="[a-z0-9]+(-[a-z0-9]+)*" title="lowercase letters and digits joined by single hyphens" required spellCheck={false} />
        </label>
        <label className="field">
          <span>Tone</span>
          <input value={tone} onChange={(e) => setTone(e.target.value)} placeholder="e.g. concise and friendly" />
        </label>
        <label className="field">
          <span>Timezone</span>
          <input value={timezone} onChange={(e) => setTimezone(e.target.value)} list="tz-list" placeholder="UTC" spellCheck={false} />
          <datalist id="tz-list">
            {zones.map((z) => (
              <option key={z} value={z} />
            ))}
          </datalist>
        </label>
      </div>
      <label className="field">
        <span>System prompt</span>
        <textarea rows={4} value={systemPrompt} onChange={(e) => setSystemPrompt(e.target.value)} placeholder="What the assistant should know about how to answer in this workspace" />
      </label>
      <label className="field">
        <span>Knowledge base</span>
        <textarea rows={6} value={kb} onChange={(e) => setKb(e.target.value)} placeholder="Facts and notes the assistant may use in this workspace" />
      </label>
      <label className="check">
        <input type="checkbox" checked={useDocs} onChange={(e) => setUseDocs(e.target.checked)} /> Use this workspace's documents in replies (and cite them)
      </label>
      <label className="check">
        <input type="checkbox" checked={useTools} onChange={(e) => setUseTools(e.target.checked)} /> Let replies call tools (Hearth's own and the{' '}
        <a href="#/tools">MCP servers'</a>; tools that change things ask you first)
      </label>
      <label className="field">
        <span>Embedding model for documents</span>
        <input
          value={embedding}
          onChange={(e) => setEmbedding(e.target.value)}
          list="embedding-models"
          placeholder="The local model (all-MiniLM-L6-v2)"
          pattern="[^/]+/.+"
          title="a provider's model, as provider/model; empty for the local one"
          spellCheck={false}
        />
        <datalist id="embedding-models">
          {remoteIds.map((id) => (
            <option key={id} value={id} />
          ))}
        </datalist>
        <span className="muted small">A provider's model (provider/model) embeds this workspace's documents instead; leave it empty for the local one.</span>
      </label>
      <label className="field">
        <span>Default model</span>
        <select value={defaultModel} onChange={(e) => setDefaultModel(e.target.value)}>
          <option value="">Hearth's default model</option>
          {modelIds.map((id) => (
            <option key={id} value={id}>
              {id}
            </option>
          ))}
          {defaultModel && !modelIds.includes(defaultModel) && <option value={defaultModel}>{defaultModel} (not available)</option>}
        </select>
      </label>
      <fieldset className="fallback">
        <legend>Fallback chain</legend>
        <p className="muted small">When the model fails before answering, these are tried in order.</p>
        {fallback.length === 0 && <p className="muted small">No fallback: a failed reply shows its error.</p>}
        <ol>
          {fallback.map((m, i) => (
            <li key={`${m}-${i}`}>
              <span>{m}</span>
              <button type="button" className="icon-btn" aria-label={`Move ${m} up`} disabled={i === 0} onClick={() => move(i, -1)}>
                ↑
              </button>
              <button type="button" className="icon-btn" aria-label={`Move ${m} down`} disabled={i === fallback.length - 1} onClick={() => move(i, 1)}>
                ↓
              </button>
              <button type="button" className="icon-btn danger" aria-label={`Remove ${m} from the fallback chain`} onClick={() => setFallback((l) => l.filter((_, j) => j !== i))}>
                ×
              </button>
            </li>
          ))}
        </ol>
        <div className="row">
          <select aria-label="Model to add to the fallback chain" value={adding} onChange={(e) => setAdding(e.target.value)}>
            <option value="">Add a model…</option>
            {modelIds
              .filter((id) => !fallback.includes(id))
              .map((id) => (
                <option key={id} value={id}>
                  {id}
                </option>
              ))}
          </select>
          <button
            type="button"
            className="btn small"
            disabled={!adding}
            onClick={() => {
              setFallback((l) => [...l, adding]);
              setAdding('');
            }}
          >
            Add
          </button>
        </div>
      </fieldset>
      <BusyBar label={label} />
      <ErrorNote error={error} onDismiss={() => setError(null)} context="settings" />
      {saved && (
        <p className="ok-text" role="status">
          Saved.
        </p>
      )}
      <div className="row">
        <button className="btn primary" type="submit" disabled={busy}>
          Save
        </button>
      </div>
    </form>
  );
}

export default function Workspaces() {
  const app = useApp();
  // The workspace picked on this screen; until one is picked (or after the picked one is
  // deleted), the app's current workspace.
  const [picked, setSelected] = useState<string | null>(null);
  const selected = picked ?? app.workspace?.id ?? null;
  const [newName, setNewName] = useState('');
  const [newHandle, setNewHandle] = useState('');
  const [handleEdited, setHandleEdited] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const { label, busy, error, setError, run } = useBusy();

  const ws = app.workspaces.find((w) => w.id === selected) ?? null;

  const create = async (e: FormEvent) => {
    e.preventDefault();
    const name = newName.trim();
    const handle = (newHandle.trim() || handleFrom(name)) || 'workspace';
    const r = await run('Creating the workspace…', () => api.createWorkspace({ name, handle }));
    if (r.ok) {
      await app.reloadWorkspaces();
      setSelected(r.value.id);
      app.selectWorkspace(r.value.id);
      setNewName('');
      setNewHandle('');
      setHandleEdited(false);
    }
  };

  const remove = async () => {
    if (!ws) return;
    setConfirm(false);
    const r = await run('Deleting the workspace…', () => api.deleteWorkspace(ws.id));
    if (r.ok) {
      const list = await app.reloadWorkspaces();
      const next = list[0]?.id ?? null;
      setSelected(next);
      if (next) app.selectWorkspace(next);
    }
  };

  return (
    <div className="screen workspaces">
      <section className="card">
        <h2>Workspaces</h2>
        <p className="muted">Each workspace has its own chats, prompt, knowledge and models.</p>
        <ul className="ws-list" aria-label="Workspaces">
          {app.workspaces.map((w) => (
            <li key={w.id}>
              <button className={`ws-item${w.id === selected ? ' active' : ''}`} aria-pressed={w.id === selected} onClick={() => { setSelected(w.id); setConfirm(false); }}>
                <strong>{w.name}</strong> <span className="muted small">@{w.handle}</span>
                {w.id === app.workspace?.id && <span className="tag">current</span>}
              </button>
            </li>
          ))}
        </ul>
        <form className="row align-end" onSubmit={create}>
          <label className="field grow">
            <span>New workspace</span>
            <input
              value={newName}
              onChange={(e) => {
                setNewName(e.target.value);
                if (!handleEdited) setNewHandle(handleFrom(e.target.value));
              }}
              placeholder="Name"
              required
            />
          </label>
          <label className="field">
            <span>Handle</span>
            <input
              value={newHandle}
              onChange={(e) => {
                setHandleEdited(true);
                setNewHandle(e.target.value);
              }}
              pattern="[a-z0-9]+(-[a-z0-9]+)*"
              spellCheck={false}
            />
          </label>
          <button className="btn" type="submit" disabled={busy || !newName.trim()}>
            Create
          </button>
        </form>
        <BusyBar label={label} />
        <ErrorNote error={error} onDismiss={() => setError(null)} context="settings" />
      </section>
      {ws && (
        <>
          <Editor key={ws.id} ws={ws} onSaved={() => app.reloadWorkspaces()} />
          <Documents key={`docs-${ws.id}`} ws={ws} />
          <div className="row">
            {ws.id !== app.workspace?.id && (
              <button className="btn" onClick={() => app.selectWorkspace(ws.id)}>
                Switch to {ws.name}
              </button>
            )}
            {app.workspaces.length > 1 &&
              (confirm ? (
                <>
                  <button className="btn danger" onClick={remove}>
                    Delete {ws.name} and all its chats?
                  </button>
                  <button className="btn ghost" onClick={() => setConfirm(false)}>
                    Keep it
                  </button>
                </>
              ) : (
                <button className="btn ghost danger" onClick={() => setConfirm(true)}>
                  Delete workspace
                </button>
              ))}
          </div>
        </>
      )}
    </div>
  );
}
