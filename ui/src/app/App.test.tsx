import { act, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SyncStatus } from '../api/types';
import { useApp } from './context';

// The chat screen replaced by one that counts its renders and reads the app context.
const renders = vi.hoisted(() => ({ chat: 0 }));
vi.mock('../chat/ChatView', () => ({
  ChatView: function CountingChatView() {
    renders.chat++;
    const app = useApp();
    return <p>{app.workspace?.name ?? 'no workspace'}</p>;
  },
}));

import { App } from './App';

const status = (activity: string): SyncStatus => ({
  connected: true,
  signed_in: true,
  pending: { changes: 0, transactions: 0 },
  rejected: [],
  activity,
  last_push_at: '2026-01-01T00:00:00Z',
});

describe('<App>', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('re-renders the sync badge, not the screen, on a sync event', async () => {
    let events!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({ start: (c) => (events = c) });
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string) => {
        switch (url) {
          case '/api/v1/settings':
            return Response.json({});
          case '/api/v1/workspaces':
            return Response.json([{ id: 'w1', name: 'Personal', handle: 'personal' }]);
          case '/v1/models':
            return Response.json({ object: 'list', data: [] });
          case '/api/v1/workspaces/w1/chats':
            return Response.json([]);
          case '/api/v1/sync':
            return Response.json(status('idle'));
          case '/api/v1/sync/events':
            return new Response(stream, { headers: { 'content-type': 'text/event-stream' } });
          default:
            return Response.json({ error: { message: `unexpected ${url}`, type: 'x', code: 'not_found' } }, { status: 404 });
        }
      }),
    );
    render(<App token="t" />);
    await screen.findByText('Personal', { selector: 'p' });
    await screen.findByRole('link', { name: /Sync status: Synced/ });
    await waitFor(() => expect(vi.mocked(fetch).mock.calls.map((c) => c[0])).toContain('/api/v1/workspaces/w1/chats'));
    const before = renders.chat;

    await act(async () => {
      events.enqueue(new TextEncoder().encode(`event: status\ndata: ${JSON.stringify(status('pushing'))}\n\n`));
    });
    await screen.findByRole('link', { name: /Sync status: Syncing/ });
    expect(renders.chat).toBe(before);
  });
});
