import { useState } from 'react';
import type { Theme } from '../api/types';
import { applyTheme } from '../app/App';
import { useApp } from '../app/context';
import { BusyBar, ErrorNote } from '../components/Busy';
import { copyText } from '../lib/clipboard';
import { useBusy } from '../lib/useBusy';

function CopyField({ label, value, secret }: { label: string; value: string; secret?: boolean }) {
  const [shown, setShown] = useState(!secret);
  const [copied, setCopied] = useState(false);
  return (
    <div className="field">
      <span>{label}</span>
      <div className="row">
        <code className="copy-field" aria-label={label}>
          {shown ? value : '•'.repeat(Math.min(24, Math.max(8, value.length)))}
        </code>
        {secret && (
          <button className="btn small" aria-label={shown ? `Hide the ${label}` : `Show the ${label}`} onClick={() => setShown((s) => !s)}>
            {shown ? 'Hide' : 'Show'}
          </button>
        )}
        <button
          className="btn small"
          aria-label={`Copy the ${label}`}
          onClick={async () => {
            if (await copyText(value)) {
              setCopied(true);
              setTimeout(() => setCopied(false), 1500);
            }
          }}
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
    </div>
  );
}

export default function Settings() {
  const app = useApp();
  const { label, busy, error, setError, run } = useBusy();
  const savedTheme: Theme = app.settings['ui.theme'] ?? 'system';
  const [theme, setThemeState] = useState<Theme>(savedTheme);
  const keepAlive = app.settings.model_keep_alive_secs;
  const [keep, setKeep] = useState(typeof keepAlive === 'number' ? String(keepAlive) : '');
  const [saved, setSaved] = useState<string | null>(null);

  const setTheme = async (t: Theme) => {
    const before = theme;
    setThemeState(t);
    applyTheme(t);
    const r = await run('Saving…', () => app.putSetting('ui.theme', t));
    if (!r.ok) {
      setThemeState(before);
      applyTheme(before);
    }
  };

  const saveKeep = async () => {
    const n = Number.parseInt(keep, 10);
    if (!Number.isFinite(n) || n < 0) {
      setError('Enter a whole number of seconds (0 or more).');
      return;
    }
    const r = await run('Saving…', () => app.putSetting('model_keep_alive_secs', n));
    if (r.ok) setSaved(`The model stays in memory ${n} s after its last use.`);
  };

  return (
    <div className="screen">
      <section className="card">
        <h2>Connection</h2>
        <p className="muted">Other programs (OpenAI SDKs, editors, scripts) can use this address and token.</p>
        <CopyField label="API address" value={window.location.origin} />
        <CopyField label="API token" value={app.token} secret />
      </section>

      <section className="card">
        <h2>Appearance</h2>
        <fieldset className="radio-row">
          <legend>Theme</legend>
          {(['light', 'dark', 'system'] as Theme[]).map((t) => (
            <label key={t} className="radio">
              <input type="radio" name="theme" value={t} checked={theme === t} onChange={() => setTheme(t)} />
              {t === 'system' ? 'Same as the system' : t[0].toUpperCase() + t.slice(1)}
            </label>
          ))}
        </fieldset>
      </section>

      <section className="card">
        <h2>Local model</h2>
        <div className="row align-end">
          <label className="field">
            <span>Keep the model in memory after its last use (seconds)</span>
            <input type="number" min={0} step={1} value={keep} onChange={(e) => setKeep(e.target.value)} placeholder="default" />
          </label>
          <button className="btn" onClick={saveKeep} disabled={busy || keep.trim() === ''}>
            Save
          </button>
        </div>
        {saved && (
          <p className="ok-text" role="status">
            {saved}
          </p>
        )}
      </section>
      <BusyBar label={label} />
      <ErrorNote error={error} onDismiss={() => setError(null)} context="settings" />
    </div>
  );
}
