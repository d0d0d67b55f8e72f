import { useState, type FormEvent } from 'react';
import { api, ApiError } from '../api/client';
import type { SyncStatus } from '../api/types';
import { useSync } from '../app/context';
import { BusyBar, ErrorNote, formatDate } from '../components/Busy';
import { syncSummary } from '../components/SyncBadge';
import { useBusy } from '../lib/useBusy';

function isStatus(v: unknown): v is SyncStatus {
  return !!v && typeof v === 'object' && 'connected' in v && 'pending' in v;
}

/** An older server without the route: say how to do it from a terminal instead. */
function explain(e: unknown, cli: string): unknown {
  if (e instanceof ApiError && e.missingRoute) return `This Hearth server cannot do that from the app yet: run \`${cli}\` in a terminal, or update Hearth.`;
  return e;
}

export default function Sync() {
  const { sync: s, setSync } = useSync();
  const { label, busy, error, setError, run } = useBusy();
  const [url, setUrl] = useState('');
  const [anonKey, setAnonKey] = useState('');
  const [restUrl, setRestUrl] = useState('');
  const [authUrl, setAuthUrl] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [note, setNote] = useState<string | null>(null);
  /** Set when the server said this device syncs for another account: the user must choose. */
  const [otherAccount, setOtherAccount] = useState<string | null>(null);
  const [localData, setLocalData] = useState<'keep' | 'push'>('keep');
  const summary = syncSummary(s);

  const refresh = async (v?: unknown) => {
    if (isStatus(v)) setSync(v);
    else setSync(await api.syncStatus());
  };

  const connect = async (e: FormEvent) => {
    e.preventDefault();
    setNote(null);
    const key = anonKey.trim();
    setAnonKey('');
    const target = restUrl.trim()
      ? { rest_url: restUrl.trim(), auth_url: authUrl.trim() || null, anon_key: key || null }
      : { url: url.trim(), anon_key: key };
    const r = await run('Connecting…', () => api.syncConnect(target));
    if (r.ok) {
      setNote('Connected. Sign in to start syncing.');
      await refresh(r.value);
    } else setError(explain(r.error, 'hearth sync connect'));
  };

  const login = async (e: FormEvent) => {
    e.preventDefault();
    setNote(null);
    const pw = password;
    setPassword(''); // never kept: sent once, cleared at once
    const body = otherAccount ? { email: email.trim(), password: pw, local_data: localData } : { email: email.trim(), password: pw };
    const r = await run('Signing in…', () => api.syncLogin(body));
    if (r.ok) {
      setOtherAccount(null);
      setNote('Signed in.');
      await refresh(r.value);
    } else if (r.error instanceof ApiError && r.error.status === 409 && r.error.param === 'local_data') {
      // Not an error to dismiss: a question. Ask it, then sign in again with the answer.
      setError(null);
      setOtherAccount(r.error.message);
    } else setError(explain(r.error, 'hearth sync login'));
  };

  const logout = async () => {
    setNote(null);
    const r = await run('Signing out…', () => api.syncLogout());
    if (r.ok) {
      setNote('Signed out.');
      await refresh(r.value);
    } else setError(explain(r.error, 'hearth sync logout'));
  };

  const now = async () => {
    setNote(null);
    const r = await run('Syncing…', () => api.syncNow());
    if (r.ok) {
      const { round } = r.value;
      setNote(`Sent ${round.pushed}, received ${round.pulled}${round.rejected ? `, ${round.rejected} refused` : ''}.`);
      setSync(r.value.status);
    }
  };

  return (
    <div className="screen">
      <section className="card">
        <h2>Sync</h2>
        <p className="muted">Hearth keeps everything on this device and can copy it to your own Supabase project, to use it on your other devices.</p>
        <p>
          <span className={`sync-badge sync-${summary.state}`}>
            <span className="dot" aria-hidden="true" />
            {summary.label}
          </span>{' '}
          <span className="muted small">{summary.title}</span>
        </p>
        <BusyBar label={label} />
        <ErrorNote error={error} onDismiss={() => setError(null)} context="sync" />
        {note && (
          <p className="ok-text" role="status">
            {note}
          </p>
        )}
        {s && (
          <dl className="details">
            <dt>Project</dt>
            <dd>{s.rest_url || 'not connected'}</dd>
            <dt>Account</dt>
            <dd>{s.signed_in ? s.email || s.user_id : 'not signed in'}</dd>
            <dt>Pending</dt>
            <dd>
              {s.pending.changes} change{s.pending.changes === 1 ? '' : 's'} in {s.pending.transactions} transaction{s.pending.transactions === 1 ? '' : 's'}
              {s.pending.oldest ? ` (oldest ${formatDate(s.pending.oldest)})` : ''}
            </dd>
            <dt>Last sent</dt>
            <dd>{formatDate(s.last_push_at)}</dd>
            <dt>Last received</dt>
            <dd>{formatDate(s.last_pull_at)}</dd>
            <dt>Activity</dt>
            <dd>{s.activity.replace('_', ' ')}</dd>
            <dt>Last error</dt>
            <dd>{s.last_error ? `${s.last_error} (${formatDate(s.last_error_at)})` : 'none'}</dd>
            {s.client_id && (
              <>
                <dt>This device</dt>
                <dd>
                  <code>{s.client_id}</code>
                </dd>
              </>
            )}
          </dl>
        )}
        <div className="row">
          <button className="btn primary" disabled={busy || !s?.connected || !s?.signed_in} onClick={now}>
            Sync now
          </button>
          {s?.signed_in && (
            <button className="btn" disabled={busy} onClick={logout}>
              Sign out
            </button>
          )}
        </div>
      </section>

      {s && s.rejected.length > 0 && (
        <section className="card">
          <h2>Changes the server refused</h2>
          <ul className="rejected">
            {s.rejected.map((r) => (
              <li key={r.tx_seq}>
                <strong>Transaction {r.tx_seq}</strong>
                {r.sqlstate && <code> {r.sqlstate}</code>}: {r.message}
                {Array.isArray(r.changes) && <span className="muted small"> ({r.changes.length} change{r.changes.length === 1 ? '' : 's'})</span>}
              </li>
            ))}
          </ul>
        </section>
      )}

      {s && (s.quarantined?.length ?? 0) > 0 && (
        <section className="card">
          <h2>Rows kept aside</h2>
          <p className="muted small">These rows came from the server but were not applied: applying them would have broken this device. Fix them where they were written; a corrected version applies on the next sync.</p>
          <ul className="rejected" aria-label="Rows kept aside">
            {s.quarantined!.map((q) => (
              <li key={`${q.table}/${q.row_id}`}>
                <strong>
                  {q.table} {q.row_id}
                </strong>
                : {q.reason}
              </li>
            ))}
          </ul>
        </section>
      )}

      <section className="card">
        <h2>{s?.connected ? 'Connect another project' : 'Connect a Supabase project'}</h2>
        <form className="form" onSubmit={connect}>
          <label className="field">
            <span>Project URL</span>
            <input type="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://xyzcompany.supabase.co" required={!restUrl.trim()} disabled={!!restUrl.trim()} spellCheck={false} />
          </label>
          <label className="field">
            <span>Anon (public) key</span>
            <input type="password" autoComplete="off" value={anonKey} onChange={(e) => setAnonKey(e.target.value)} required={!restUrl.trim()} spellCheck={false} />
          </label>
          <details className="field">
            <summary>A self-hosted PostgREST server instead</summary>
            <label className="field">
              <span>REST URL</span>
              <input type="url" value={restUrl} onChange={(e) => setRestUrl(e.target.value)} placeholder="https://db.example.org" spellCheck={false} />
            </label>
            <label className="field">
              <span>Auth URL (optional)</span>
              <input type="url" value={authUrl} onChange={(e) => setAuthUrl(e.target.value)} placeholder="https://auth.example.org" spellCheck={false} />
            </label>
          </details>
          <button className="btn" type="submit" disabled={busy || (restUrl.trim() ? false : !url.trim() || !anonKey.trim())}>
            Connect
          </button>
        </form>
      </section>

      {s?.connected && !s.signed_in && (
        <section className="card">
          <h2>Sign in</h2>
          <form className="form" onSubmit={login}>
            <label className="field">
              <span>Email</span>
              <input type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} required />
            </label>
            <label className="field">
              <span>Password</span>
              <input type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
            </label>
            {otherAccount && (
              <fieldset className="field" aria-label="This device synced for another account">
                <legend>This device synced for another account. What becomes of the data on it?</legend>
                <label>
                  <input type="radio" name="local-data" value="keep" checked={localData === 'keep'} onChange={() => setLocalData('keep')} /> Keep it on this device only
                  (only what changes from now on syncs to the new account)
                </label>
                <label>
                  <input type="radio" name="local-data" value="push" checked={localData === 'push'} onChange={() => setLocalData('push')} /> Copy it to the new account
                </label>
                <p className="muted small">Enter the password again to sign in with this choice.</p>
              </fieldset>
            )}
            <button className="btn primary" type="submit" disabled={busy || !email.trim() || !password}>
              Sign in
            </button>
          </form>
        </section>
      )}
    </div>
  );
}
