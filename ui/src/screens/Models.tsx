import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { api } from '../api/client';
import type { LocalModel } from '../api/types';
import { useApp } from '../app/context';
import { BusyBar, ErrorNote, formatBytes, formatParams } from '../components/Busy';
import { ModelSetup } from '../components/ModelSetup';
import { useBusy } from '../lib/useBusy';

export default function Models() {
  const app = useApp();
  const [models, setModels] = useState<LocalModel[] | null>(null);
  const [path, setPath] = useState('');
  const [name, setName] = useState('');
  const [confirm, setConfirm] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const { label, busy, error, setError, run } = useBusy();
  const tauri = typeof window !== 'undefined' && !!window.__TAURI_INTERNALS__;
  const pathInput = useRef<HTMLInputElement>(null);

  const toImport = () => {
    pathInput.current?.scrollIntoView?.({ block: 'center' });
    pathInput.current?.focus();
  };

  const load = useCallback(
    () =>
      run('Loading the models…', () => api.localModels()).then((r) => {
        if (r.ok) setModels(r.value);
      }),
    [run],
  );

  useEffect(() => {
    load();
  }, [load]);

  const after = async (msg: string) => {
    setNote(msg);
    await load();
    app.reloadModels();
  };

  const choose = async () => {
    try {
      const picked = await window.__TAURI_INTERNALS__!.invoke('choose_model_file');
      if (typeof picked === 'string' && picked) setPath(picked);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  const importModel = async (e: FormEvent) => {
    e.preventDefault();
    const p = path.trim();
    if (!p) return;
    const r = await run('Importing the model (reading its header)…', () => api.importModel({ path: p, name: name.trim() || null }));
    if (r.ok) {
      setPath('');
      setName('');
      await after(`Imported ${r.value.name}.`);
    }
  };

  return (
    <div className="screen">
      <section className="card">
        <h2>Models on this device</h2>
        <p className="muted">
          GGUF files run by Hearth's local engine. They work offline. The default model, SmolLM2 135M Instruct, is small:
          quick and private, not wise. A bigger GGUF, for better answers, is one import away.
        </p>
        <BusyBar label={label} />
        <ErrorNote error={error} onDismiss={() => setError(null)} context="models" />
        {note && (
          <p className="ok-text" role="status">
            {note}
          </p>
        )}
        {models && models.length === 0 && <p className="muted">No model yet: download the default one, or import a GGUF file below.</p>}
        {models && models.length > 0 && (
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Size</th>
                  <th scope="col">Parameters</th>
                  <th scope="col">Quantization</th>
                  <th scope="col">Context</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {models.map((m) => (
                  <tr key={m.id}>
                    <td>
                      <strong>{m.name}</strong> {m.is_default && <span className="tag">default</span>}
                      <div className="muted small path" title={m.path}>
                        {m.architecture} · {m.path}
                      </div>
                    </td>
                    <td>{formatBytes(m.size)}</td>
                    <td>{formatParams(m.parameters)}</td>
                    <td>{m.quantization}</td>
                    <td>{m.context_length ? m.context_length.toLocaleString() : '—'}</td>
                    <td className="row-actions">
                      <div>
                      <button className="btn small" disabled={busy} aria-label={`Load ${m.name}`} onClick={async () => { if ((await run(`Loading ${m.name} into memory…`, () => api.loadModel(m.name))).ok) setNote(`${m.name} is loaded.`); }}>
                        Load
                      </button>
                      <button className="btn small" disabled={busy || m.is_default} aria-label={`Make ${m.name} the default model`} onClick={async () => { if ((await run('Setting the default model…', () => api.setDefaultModel(m.name))).ok) await after(`${m.name} is the default model.`); }}>
                        Set default
                      </button>
                      {confirm === m.name ? (
                        <>
                          <button className="btn small danger" aria-label={`Confirm removing ${m.name}`} onClick={async () => { setConfirm(null); if ((await run(`Removing ${m.name}…`, () => api.removeModel(m.name))).ok) await after(`${m.name} was removed (its file stays on disk).`); }}>
                            Remove?
                          </button>
                          <button className="btn small" aria-label="Keep it" onClick={() => setConfirm(null)}>
                            Keep
                          </button>
                        </>
                      ) : (
                        <button className="btn small ghost danger" disabled={busy} aria-label={`Remove ${m.name}`} onClick={() => setConfirm(m.name)}>
                          Remove
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
        <div className="row">
          <button className="btn" disabled={busy} onClick={async () => { if ((await run('Unloading the model…', () => api.unloadModel())).ok) setNote('The model was unloaded; memory is free.'); }}>
            Unload the model
          </button>
        </div>
      </section>

      {models && models.length === 0 && <ModelSetup onImport={toImport} onReady={load} />}

      <section className="card">
        <h2>Import a GGUF model</h2>
        <form className="form" onSubmit={importModel}>
          <label className="field">
            <span>File path on this machine</span>
            <div className="row">
              <input ref={pathInput} type="text" value={path} onChange={(e) => setPath(e.target.value)} placeholder="/path/to/model.gguf" spellCheck={false} required />
              {tauri && (
                <button type="button" className="btn" onClick={choose}>
                  Choose file…
                </button>
              )}
            </div>
          </label>
          <label className="field">
            <span>Name (optional)</span>
            <input type="text" value={name} onChange={(e) => setName(e.target.value)} placeholder="from the file name" spellCheck={false} />
          </label>
          <p className="muted small">The file is not copied: keep it where it is.</p>
          <button className="btn primary" type="submit" disabled={busy || !path.trim()}>
            Import
          </button>
        </form>
      </section>
    </div>
  );
}
