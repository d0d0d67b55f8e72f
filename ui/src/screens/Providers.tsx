import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, describeError } from '../api/client';
import type { PresetOut, ProviderInfo } from '../api/types';
import { useApp } from '../app/context';
import { BusyBar, ErrorNote, formatDate } from '../components/Busy';
import { useBusy } from '../lib/useBusy';

function KeyForm({ provider, onSaved }: { provider: ProviderInfo; onSaved: (p: ProviderInfo) => void }) {
  // The key lives in this component's state only until it is sent, then it is cleared.
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    const k = key.trim();
    if (!k) return;
    setSaving(true);
    setError(null);
    try {
      const p = await api.setProviderKey(provider.name, k);
      onSaved(p);
    } catch (err) {
      setError(describeError(err, 'provider'));
    } finally {
      setKey('');
      setSaving(false);
    }
  };
  return (
    <form className="key-form row" onSubmit={save}>
      <label className="field grow">
        <span>{provider.key.set ? 'Replace the API key' : 'API key'}</span>
        <input type="password" autoComplete="off" spellCheck={false} value={key} onChange={(e) => setKey(e.target.value)} placeholder={provider.key.set ? `•••• ${provider.key.last_four ?? ''}` : 'paste the key'} />
      </label>
      <button className="btn" type="submit" disabled={saving || !key.trim()} aria-label={`Save the API key of ${provider.name}`}>
        {saving ? 'Saving…' : 'Save key'}
      </button>
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

function ProviderCard({ provider, onChange, onRemoved }: { provider: ProviderInfo; onChange: (p: ProviderInfo) => void; onRemoved: () => void }) {
  const app = useApp();
  const { label, busy, error, setError, run } = useBusy();
  const [result, setResult] = useState<string | null>(null);
  const [confirm, setConfirm] = useState(false);
  const p = provider;

  const test = async () => {
    setResult(null);
    const r = await run(`Asking ${p.name} for its models…`, () => api.testProvider(p.name));
    if (r.ok) {
      onChange(r.value);
      setResult(`Connected: ${r.value.models.length} model${r.value.models.length === 1 ? '' : 's'} available.`);
      app.reloadModels();
    }
  };

  return (
    <li className="card provider" data-provider={p.name}>
      <div className="provider-head">
        <div>
          <h3>{p.name}</h3>
          <div className="muted small">
            {p.label} · {p.base_url}
          </div>
        </div>
        <label className="switch">
          <input
            type="checkbox"
            aria-label={`${p.name} enabled`}
            checked={p.enabled}
            onChange={async (e) => {
              const r = await run('Saving…', () => api.updateProvider(p.name, { enabled: e.target.checked }));
              if (r.ok) {
                onChange(r.value);
                app.reloadModels();
              }
            }}
          />
          <span>Enabled</span>
        </label>
      </div>
      <p className="small">
        {p.key.error ? (
          <span className="error-text">Keychain: {p.key.error}</span>
        ) : p.key.set ? (
          <span>
            Key set <code>•••• {p.key.last_four ?? ''}</code>
          </span>
        ) : p.needs_key ? (
          <span className="warn-text">No key yet: this provider needs one.</span>
        ) : (
          <span className="muted">No key needed.</span>
        )}
        {p.models.length > 0 && (
          <span className="muted">
            {' '}
            · {p.models.length} models (listed {formatDate(p.models_fetched_at)})
          </span>
        )}
      </p>
      {(p.needs_key || p.key.set) && <KeyForm provider={p} onSaved={(np) => { onChange(np); setResult('Key saved in the system keychain.'); }} />}
      <BusyBar label={label} />
      <ErrorNote error={error} onDismiss={() => setError(null)} context="provider" />
      {result && (
        <p className="ok-text" role="status">
          {result}
        </p>
      )}
      <div className="row">
        <button className="btn" disabled={busy} onClick={test} aria-label={`Test the connection to ${p.name}`}>
          Test connection
        </button>
        {p.key.set && (
          <button className="btn ghost" disabled={busy} aria-label={`Remove the API key of ${p.name}`} onClick={async () => { const r = await run('Removing the key…', () => api.removeProviderKey(p.name)); if (r.ok) onChange(r.value); }}>
            Remove key
          </button>
        )}
        {confirm ? (
          <>
            <button className="btn danger" aria-label={`Confirm removing ${p.name}`} onClick={async () => { const r = await run('Removing…', () => api.removeProvider(p.name)); if (r.ok) { onRemoved(); app.reloadModels(); } }}>
              Remove {p.name} and its key?
            </button>
            <button className="btn ghost" onClick={() => setConfirm(false)}>
              Keep
            </button>
          </>
        ) : (
          <button className="btn ghost danger" aria-label={`Remove ${p.name}`} onClick={() => setConfirm(true)}>
            Remove
          </button>
        )}
      </div>
    </li>
  );
}

function AddProvider({ presets, onAdded, taken }: { presets: PresetOut[]; onAdded: (p: ProviderInfo) => void; taken: Set<string> }) {
  const [kind, setKind] = useState('');
  const [name, setName] = useState('');
  const [baseUrl, setBaseUrl] = useState('');
  const [defaultModel, setDefaultModel] = useState('');
  const [key, setKey] = useState('');
  const { label, busy, error, setError, run } = useBusy();
  const preset = presets.find((p) => p.kind === kind);
  const custom = kind === 'openai-compatible';

  const pick = (k: string) => {
    setKind(k);
    let n = k === 'openai-compatible' ? 'custom' : k;
    for (let i = 2; taken.has(n); i++) n = `${k === 'openai-compatible' ? 'custom' : k}-${i}`;
    setName(n);
    setBaseUrl('');
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!preset) return;
    const k = key.trim();
    setKey('');
    const r = await run('Adding the provider…', async () => {
      let p = await api.addProvider({
        name: name.trim(),
        kind,
        base_url: baseUrl.trim() || null,
        default_model: defaultModel.trim() || null,
        enabled: true,
      });
      if (k) p = await api.setProviderKey(p.name, k);
      return p;
    });
    if (r.ok) {
      onAdded(r.value);
      setKind('');
      setName('');
      setBaseUrl('');
      setDefaultModel('');
    }
  };

  return (
    <section className="card">
      <h2>Add a provider</h2>
      <form className="form" onSubmit={submit}>
        <label className="field">
          <span>Service</span>
          <select value={kind} onChange={(e) => pick(e.target.value)} required>
            <option value="">Choose…</option>
            {presets.map((p) => (
              <option key={p.kind} value={p.kind}>
                {p.label}
              </option>
            ))}
          </select>
        </label>
        {preset && (
          <>
            <label className="field">
              <span>Name (models are called name/model)</span>
              <input value={name} onChange={(e) => setName(e.target.value.toLowerCase())} pattern="[a-z0-9-]+" required spellCheck={false} />
            </label>
            <label className="field">
              <span>Base URL{custom ? '' : ' (optional)'}</span>
              <input type="url" value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} placeholder={preset.base_url ?? 'https://host/v1'} required={custom} spellCheck={false} />
            </label>
            <label className="field">
              <span>Default model (optional)</span>
              <input value={defaultModel} onChange={(e) => setDefaultModel(e.target.value)} spellCheck={false} />
            </label>
            {(preset.needs_key || custom) && (
              <label className="field">
                <span>API key{preset.needs_key ? '' : ' (if the server needs one)'}</span>
                <input type="password" autoComplete="off" spellCheck={false} value={key} onChange={(e) => setKey(e.target.value)} />
                <span className="muted small">Sent once to Hearth, which keeps it in the system keychain. It is never shown again.</span>
              </label>
            )}
            <button className="btn primary" type="submit" disabled={busy || !name.trim()}>
              Add provider
            </button>
          </>
        )}
        <BusyBar label={label} />
        <ErrorNote error={error} onDismiss={() => setError(null)} context="provider" />
      </form>
    </section>
  );
}

export default function Providers() {
  const [providers, setProviders] = useState<ProviderInfo[] | null>(null);
  const [presets, setPresets] = useState<PresetOut[]>([]);
  const { label, error, setError, run } = useBusy();

  const load = useCallback(
    () =>
      run('Loading the providers…', () => Promise.all([api.providers(), api.presets()])).then((r) => {
        if (r.ok) {
          setProviders(r.value[0]);
          setPresets(r.value[1]);
        }
      }),
    [run],
  );

  useEffect(() => {
    load();
  }, [load]);

  const replace = (p: ProviderInfo) => setProviders((list) => (list ?? []).map((x) => (x.name === p.name ? p : x)));

  return (
    <div className="screen">
      <section className="card">
        <h2>Providers</h2>
        <p className="muted">Remote model services. Their models appear in the model picker as provider/model and need the network.</p>
        <BusyBar label={label} />
        <ErrorNote error={error} onDismiss={() => setError(null)} context="provider" />
        {providers && providers.length === 0 && <p className="muted">No provider yet. Add one below to use remote models.</p>}
      </section>
      {providers && providers.length > 0 && (
        <ul className="provider-list">
          {providers.map((p) => (
            <ProviderCard key={p.name} provider={p} onChange={replace} onRemoved={() => setProviders((list) => (list ?? []).filter((x) => x.name !== p.name))} />
          ))}
        </ul>
      )}
      <AddProvider presets={presets} taken={new Set((providers ?? []).map((p) => p.name))} onAdded={(p) => setProviders((list) => [...(list ?? []), p])} />
    </div>
  );
}
