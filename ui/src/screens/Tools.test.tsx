import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { setToken } from '../api/client';
import { AppContext } from '../app/context';
import { appStub } from '../test/appStub';
import Tools from './Tools';

const base = { env: {}, headers: {}, secrets: [], workspace_id: null, url: null };
const servers = [
  { ...base, name: 'time', transport: 'stdio', command: 'mcp-server-time', args: ['--local-timezone', 'UTC'], enabled: true, health: { state: 'ready', tools: 2 } },
  { ...base, name: 'broken', transport: 'stdio', command: '/nope', args: [], enabled: true, health: { state: 'failed', error: 'could not be started', attempts: 3 } },
];

describe('<Tools>', () => {
  afterEach(() => vi.unstubAllGlobals());

  it("shows each server's health, attaches a server, and lets an always-allowed tool ask again", async () => {
    const puts: { url: string; body: unknown }[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit = {}) => {
        const method = init.method ?? 'GET';
        if (method === 'GET' && url === '/api/v1/mcp/servers') return Response.json(servers);
        if (method === 'PATCH' && url === '/api/v1/mcp/servers/time') {
          puts.push({ url: `PATCH ${url}`, body: JSON.parse(init.body as string) });
          return Response.json({ ...servers[0], enabled: false });
        }
        if (method === 'PUT' && url.startsWith('/api/v1/mcp/servers/')) {
          puts.push({ url, body: JSON.parse(init.body as string) });
          return Response.json(servers[0]);
        }
        return Response.json({ error: { message: `unexpected ${method} ${url}`, type: 'x', code: 'not_found' } }, { status: 404 });
      }),
    );
    setToken('t');
    const settings: [string, unknown][] = [];
    render(
      <AppContext.Provider value={appStub({ settings: { 'tools.allowed': ['time__get_current_time'] }, putSetting: async (k, v) => void settings.push([k, v]) })}>
        <Tools />
      </AppContext.Provider>,
    );
    const health = await screen.findAllByTestId('server-health');
    expect(health.map((h) => h.textContent)).toEqual(['running · 2 tools', 'failed (3 tries; retrying): could not be started']);

    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'files' } });
    fireEvent.change(screen.getByLabelText('Command'), { target: { value: 'npx -y "@modelcontextprotocol/server-filesystem" /tmp' } });
    fireEvent.click(screen.getByRole('button', { name: 'Attach' }));
    await waitFor(() => expect(puts).toHaveLength(1));
    expect(puts[0]).toEqual({
      url: '/api/v1/mcp/servers/files',
      body: { transport: 'stdio', command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '/tmp'] },
    });

    // Turning a server off changes only that (its secrets stay).
    fireEvent.click(screen.getByRole('checkbox', { name: 'time enabled' }));
    await waitFor(() => expect(puts).toHaveLength(2));
    expect(puts[1]).toEqual({ url: 'PATCH /api/v1/mcp/servers/time', body: { enabled: false } });

    fireEvent.click(screen.getByRole('button', { name: 'Ask before time__get_current_time' }));
    await waitFor(() => expect(settings).toEqual([['tools.allowed', []]]));
  });
});
