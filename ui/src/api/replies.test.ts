import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, setToken } from './client';
import { postForStream, runReply } from './replies';

function sseResponse(text: string, { drop = false } = {}): Response {
  const bytes = new TextEncoder().encode(text);
  let sent = false;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (!sent) {
        sent = true;
        c.enqueue(bytes);
      } else if (drop) c.error(new TypeError('network error'));
      else c.close();
    },
  });
  return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
}

const ev = (id: number, event: string, data: unknown) => `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

describe('runReply', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('streams deltas and resumes with Last-Event-ID after the connection drops', async () => {
    const requests: { url: string; lastId: string | null; accept: string | null }[] = [];
    let n = 0;
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit) => {
        const h = new Headers(init.headers);
        requests.push({ url, lastId: h.get('Last-Event-ID'), accept: h.get('Accept') });
        n++;
        if (n === 1) return sseResponse(ev(1, 'message_start', { message_id: 'r1', chat_id: 'c', parent_id: 'u', model: 'm' }) + ev(2, 'delta', { text: 'Hel' }), { drop: true });
        return sseResponse(ev(3, 'delta', { text: 'lo' }) + ev(4, 'message_end', { message: { id: 'r1', status: 'complete' }, finish_reason: 'stop' }));
      }),
    );
    setToken('t');
    const text: string[] = [];
    const ended = vi.fn();
    const failed = vi.fn();
    await runReply((signal) => postForStream('/api/v1/chats/c/messages', { content: 'hi' }, signal), { onDelta: (t) => text.push(t), onEnd: ended, onError: failed }, { backoffMs: 1 });
    expect(text.join('')).toBe('Hello');
    expect(ended).toHaveBeenCalledTimes(1);
    expect(failed).not.toHaveBeenCalled();
    expect(requests).toEqual([
      { url: '/api/v1/chats/c/messages', lastId: null, accept: 'text/event-stream' },
      { url: '/api/v1/replies/r1/events', lastId: '2', accept: 'text/event-stream' },
    ]);
  });

  it('reports an error event', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => sseResponse(ev(1, 'message_start', { message_id: 'r' }) + ev(2, 'error', { error: { message: 'model failed', code: 'unavailable' } }))));
    const failed = vi.fn();
    await runReply(() => fetch('/x'), { onDelta: () => {}, onEnd: () => {}, onError: failed });
    expect(failed).toHaveBeenCalledWith(expect.objectContaining({ message: 'model failed', code: 'unavailable' }));
  });

  it('throws the API error of a refused request', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => Response.json({ error: { message: 'no such model', type: 'invalid_request_error', param: 'model', code: 'not_found' } }, { status: 404 })),
    );
    const err = await runReply((s) => postForStream('/api/v1/chats/c/messages', {}, s), { onDelta: () => {}, onEnd: () => {}, onError: () => {} }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.message).toBe('no such model');
    expect(err.param).toBe('model');
  });
});
