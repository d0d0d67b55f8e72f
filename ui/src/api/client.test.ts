import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, setToken, setUnauthorizedHandler } from './client';

/** Stubs fetch with one answer and records what was asked. */
function answer(res: () => Response) {
  const calls: { url: string; method?: string; headers: Headers; body?: unknown }[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      calls.push({ url, method: init.method, headers: new Headers(init.headers), body: init.body ? JSON.parse(String(init.body)) : undefined });
      return res();
    }),
  );
  return calls;
}

describe('the typed client', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    setUnauthorizedHandler(null);
  });

  it('sends a route with its path parameters encoded, the JSON body and the token', async () => {
    setToken('t');
    const calls = answer(() => Response.json({ id: 'c 1', pinned: true }));
    const chat = await api.updateChat('c 1', { pinned: true });
    expect(chat).toEqual({ id: 'c 1', pinned: true });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ url: '/api/v1/chats/c%201', method: 'PATCH', body: { pinned: true } });
    expect(calls[0].headers.get('Authorization')).toBe('Bearer t');
    expect(calls[0].headers.get('Content-Type')).toBe('application/json');
  });

  it('puts query parameters in the URL, encoded', async () => {
    const calls = answer(() => Response.json([]));
    await api.search('fish & chips', 5);
    expect(calls[0].url).toBe('/api/v1/search?q=fish%20%26%20chips&limit=5');
  });

  it('resolves an empty answer as undefined', async () => {
    answer(() => new Response(null, { status: 204 }));
    expect(await api.deleteChat('c1')).toBeUndefined();
  });

  it("throws the server's error as an ApiError with its code, message and param", async () => {
    answer(() => Response.json({ error: { message: 'no model named "x"', type: 'invalid_request_error', param: 'model', code: 'not_found' } }, { status: 404 }));
    const err = await api.createChat('w1', { title: 'x' }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect([err.status, err.code, err.message, err.param]).toEqual([404, 'not_found', 'no model named "x"', 'model']);
  });

  it('throws an unreachable ApiError when the network fails, and sends a 401 to the token screen', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('fetch failed'))));
    const down = await api.settings().catch((e) => e);
    expect([down.status, down.code]).toEqual([0, 'unreachable']);

    const refused = vi.fn();
    setUnauthorizedHandler(refused);
    answer(() => Response.json({ error: { message: 'bad token', type: 'auth', code: 'unauthorized' } }, { status: 401 }));
    await expect(api.workspaces()).rejects.toBeInstanceOf(ApiError);
    expect(refused).toHaveBeenCalledTimes(1);
  });
});
