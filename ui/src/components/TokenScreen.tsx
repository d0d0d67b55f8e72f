import { useState, type FormEvent } from 'react';
import { ApiError, describeError } from '../api/client';

/** Asks for the API token; checks it against the server before going on. */
export function TokenScreen({ onToken, refused }: { onToken: (token: string) => void; refused: boolean }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(refused ? 'Hearth refused the token. Enter it again.' : null);
  const [checking, setChecking] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const token = value.trim();
    if (!token) return;
    setChecking(true);
    setError(null);
    try {
      const res = await fetch('/api/v1/workspaces', { headers: { Authorization: `Bearer ${token}` } });
      if (res.status === 401) {
        setError('That token was refused. Copy it again from `hearth token show`.');
        return;
      }
      if (!res.ok) {
        const body = await res.json().catch(() => null);
        throw new ApiError(res.status, body?.error ?? { message: `HTTP ${res.status}` });
      }
      setValue('');
      onToken(token);
    } catch (err) {
      setError(err instanceof ApiError ? describeError(err) : 'Cannot reach Hearth. Check that `hearth serve` is running, then try again.');
    } finally {
      setChecking(false);
    }
  };

  return (
    <main className="token-screen">
      <form className="card token-card" onSubmit={submit} aria-labelledby="token-title">
        <h1 id="token-title">Connect to Hearth</h1>
        <p id="token-help">
          This page needs the API token of the Hearth server it talks to. In a terminal, run
          <code className="cmd">hearth token show</code>
          and paste what it prints.
        </p>
        <label className="field">
          <span>API token</span>
          <input
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={value}
            onChange={(e) => setValue(e.target.value)}
            aria-describedby={error ? 'token-help token-error' : 'token-help'}
            // eslint-disable-next-line jsx-a11y/no-autofocus -- the screen exists to take this paste, and the field's description reads out the instructions it skips
            autoFocus
          />
        </label>
        {error && (
          <p id="token-error" className="error-text" role="alert">
            {error}
          </p>
        )}
        <button className="btn primary" type="submit" disabled={checking || !value.trim()}>
          {checking ? 'Checking…' : 'Continue'}
        </button>
        <p className="muted small">The token stays in this tab only (session storage) and is forgotten when the tab closes.</p>
      </form>
    </main>
  );
}
