// Tools: the MCP servers replies may use (attach, detach, turn off, each one's health while
// the app runs), the tools that run without asking, and the switch for the fetch tool. A
// workspace turns tools on for its chats on the Workspaces screen.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api } from '../api/client';
import type { McpHealth, McpServerOut } from '../api/types';
import { useApp } from '../app/context';
import { BusyBar, ErrorNote } from '../components/Busy';
import { useBusy } from '../lib/useBusy';

/** A server's health in words, and whether it is well. */
function healthOf(health: unknown): { text: string; ok: boolean } {
  const h = health as McpHealth | null | undefined;
  switch (h?.state) {
    case 'ready':
      return { text: `running · ${h.tools} tool${h.tools === 1 ? '' : 's'}`, ok: true };
    case 'starting':
      return { text: 'starting…', ok: true };
    case 'failed':
      return { text: `failed (${h.attempts} ${h.attempts === 1 ? 'try' : 'tries'}; retrying): ${h.error}`, ok: false };
    case 'disabled':
      return { text: 'turned off', ok: true };
    default:
      return { text: 'not running here', ok: true };
  }
}

/** Splits a command line into words, honouring double quotes. */
function words(line: string): string[] {
  return (line.match(/"[^"]*"|\S+/g) ?? []).map((w) => w.replace(/^"|"$/g, ''));
}

function AddServer({ onAdded }: { onAdded: () => void }) {
  const { label, busy, error, setError, run } = useBusy();
  const [name, setName] = useState('');
  const [transport, setTransport] = useState<'stdio' | 'http'>('stdio');
  const [command, setCommand] = useState('');
  const [url, setUrl] = useState('');
  const add = async (e: FormEvent) => {
    e.preventDefault();
    const [program, ...args] = words(command);
    const body = transport === 'stdio' ? { transport, command: program ?? '', args } : { transport, url: url.trim() };
    const r = await run('Attaching the server…', () => api.putMcpServer(name.trim(), body));
    if (r.ok) {
      setName('');
      setCommand('');
      setUrl('');
      onAdded();
    }
  };
  return (
    <form className="form card" onSubmit={add} aria-label="Attach an MCP server">
      <h3>Attach an MCP server</h3>
      <div className="grid-2">
        <label className="field">
          <span>Name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} required pattern="[A-Za-z0-9_\-]{1,64}" title="letters, digits, _ or -" spellCheck={false} />
        </label>
        <label className="field">
          <span>Transport</span>
          <select value={transport} onChange={(e) => setTransport(e.target.value as 'stdio' | 'http')}>
            <option value="stdio">A program Hearth starts (stdio)</option>
            <option value="http">A URL (Streamable HTTP)</option>
          </select>
        </label>
      </div>
      {transport === 'stdio' ? (
        <label className="field">
          <span>Command</span>
          <input value={command} onChange={(e) => setCommand(e.target.value)} required placeholder="npx -y @modelcontextprotocol/server-everything" spellCheck={false} />
        </label>
      ) : (
        <label className="field">
          <span>URL</span>
          <input value={url} onChange={(e) => setUrl(e.target.value)} required placeholder="https://example.com/mcp" spellCheck={false} />
        </label>
      )}
      <p className="muted small">Secrets in a server's environment or headers go in with the command line: `hearth mcp add NAME --secret KEY -- COMMAND`.</p>
      <div className="row">
        <button className="btn primary" type="submit" disabled={busy}>
          Attach
        </button>
      </div>
      <BusyBar label={label} />
      <ErrorNote error={error} onDismiss={() => setError(null)} />
    </form>
  );
}

function ServerCard({ server, onChange }: { server: McpServerOut; onChange: () => void }) {
  const { label, busy, error, setError, run } = useBusy();
  const health = healthOf(server.health);
  const target = server.transport === 'stdio' ? [server.command, ...server.args].join(' ') : (server.url ?? '');
  // Only the switch: a PUT would replace the server, and with it forget its secrets.
  const toggle = async (enabled: boolean) => {
    const r = await run('Saving…', () => api.setMcpServerEnabled(server.name, enabled));
    if (r.ok) onChange();
  };
  return (
    <li className="card" data-server={server.name}>
      <div className="provider-head">
        <div>
          <h3>{server.name}</h3>
          <div className="muted small">
            <code>{target}</code>
          </div>
          <div className={health.ok ? 'small' : 'small error-text'} data-testid="server-health">
            {health.text}
          </div>
        </div>
        <label className="switch">
          <input type="checkbox" aria-label={`${server.name} enabled`} checked={server.enabled} disabled={busy} onChange={(e) => toggle(e.target.checked)} />
          <span>{server.enabled ? 'On' : 'Off'}</span>
        </label>
      </div>
      {server.secrets.length > 0 && <p className="muted small">Secrets in the keychain: {server.secrets.join(', ')}</p>}
      <div className="row">
        <button
          className="btn small"
          aria-label={`Remove ${server.name}`}
          disabled={busy}
          onClick={async () => {
            const r = await run('Removing…', () => api.removeMcpServer(server.name));
            if (r.ok) onChange();
          }}
        >
          Remove
        </button>
      </div>
      <BusyBar label={label} />
      <ErrorNote error={error} onDismiss={() => setError(null)} />
    </li>
  );
}

export default function Tools() {
  const app = useApp();
  const [servers, setServers] = useState<McpServerOut[] | null>(null);
  const { label, error, setError, run } = useBusy();
  const allowed = Array.isArray(app.settings['tools.allowed']) ? (app.settings['tools.allowed'] as string[]) : [];
  const fetchOn = app.settings['tools.fetch_url'] === true;

  const load = useCallback(async () => {
    try {
      setServers(await api.mcpServers());
    } catch (e) {
      setError(e);
    }
  }, [setError]);

  // Health changes while the screen is open (a server starting, failing, retrying).
  useEffect(() => {
    let live = true;
    const tick = () =>
      api.mcpServers().then(
        (s) => live && setServers(s),
        (e) => live && setError(e),
      );
    tick();
    const timer = setInterval(tick, 3000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [setError]);

  return (
    <div className="screen">
      <h1>Tools</h1>
      <p className="muted">
        Replies in a workspace with tools turned on may call Hearth's own tools (the time, its documents, your chats, your workflows) and the tools of the MCP servers
        below. A tool that changes things asks you first.
      </p>
      <BusyBar label={label} />
      <ErrorNote error={error} onDismiss={() => setError(null)} />
      <h2>MCP servers</h2>
      {servers && servers.length === 0 && <p className="muted">No server is attached.</p>}
      <ul className="cards">
        {servers?.map((s) => (
          <ServerCard key={s.name} server={s} onChange={load} />
        ))}
      </ul>
      <AddServer onAdded={load} />
      <h2>Run without asking</h2>
      {allowed.length === 0 ? (
        <p className="muted">Every tool that changes things asks first. "Always allow" on a call adds its tool here.</p>
      ) : (
        <ul className="plain-list">
          {allowed.map((name) => (
            <li key={name} className="row">
              <code>{name}</code>
              <button
                className="btn small"
                aria-label={`Ask before ${name}`}
                onClick={() => run('Saving…', () => app.putSetting('tools.allowed', allowed.filter((n) => n !== name)))}
              >
                Ask again
              </button>
            </li>
          ))}
        </ul>
      )}
      <label className="check">
        <input type="checkbox" checked={fetchOn} onChange={(e) => run('Saving…', () => app.putSetting('tools.fetch_url', e.target.checked))} /> Offer the fetch
        tool: replies may read public web pages (it asks first; private and local addresses are refused)
      </label>
    </div>
  );
}
