import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from './client';
import { backoff, followResumable, GaveUp, sleep, type Resumable } from './resumable';
import type { SSEEvent } from './sse';

const ev = (id: number, data: string) => `id: ${id}\ndata: ${data}\n\n`;
const sse = (text: string) => new Response(text, { headers: { 'content-type': 'text/event-stream' } });

/** A stream whose connections answer these bodies in turn (then empty ones); ends at "end". */
function scripted(bodies: (string | Error)[], extra: Partial<Resumable> = {}) {
  const asked: string[] = [];
  const seen: string[] = [];
  const s: Resumable = {
    connect: async (after) => {
      asked.push(after);
      const next = bodies.shift() ?? '';
      if (next instanceof Error) throw next;
      return sse(next);
    },
    onEvent: (e: SSEEvent) => seen.push(e.data),
    finished: () => seen.includes('end'),
    fatal: (e) => e instanceof ApiError && e.status === 404,
    maxRetries: 3,
    backoffMs: 1,
    ...extra,
  };
  return { s, asked, seen };
}

describe('followResumable', () => {
  afterEach(() => vi.useRealTimers());

  it('resumes after the last id seen and delivers a replayed event once', async () => {
    const { s, asked, seen } = scripted([ev(1, 'a') + ev(2, 'b'), ev(2, 'b') + ev(3, 'c') + ev(4, 'end')]);
    await followResumable(s);
    expect(asked).toEqual(['', '2']);
    expect(seen).toEqual(['a', 'b', 'c', 'end']);
  });

  it('reads an already open stream first, and starts after a given id', async () => {
    const { s, asked, seen } = scripted([ev(8, 'end')], { first: sse(ev(6, 'old') + ev(7, 'new')), lastEventId: '6' });
    await followResumable(s);
    expect(asked).toEqual(['7']);
    expect(seen).toEqual(['new', 'end']);
  });

  it('retries errors that may pass, and gives up after maxRetries reconnections without news', async () => {
    const down = new ApiError(0, { message: 'unreachable', code: 'unreachable' });
    const { s, asked } = scripted([ev(1, 'a'), down, '', down, down]);
    const err = await followResumable(s).catch((e) => e);
    expect(err).toBeInstanceOf(GaveUp);
    expect(err.last).toBe(down);
    // The first connection, then three in a row that brought nothing.
    expect(asked).toEqual(['', '1', '1', '1']);
  });

  it('throws a fatal error at once', async () => {
    const gone = new ApiError(404, { message: 'no such reply', code: 'not_found' });
    const { s, asked } = scripted([gone]);
    await expect(followResumable(s)).rejects.toBe(gone);
    expect(asked).toEqual(['']);
  });

  it('gives up when the stream cannot be resumed', async () => {
    const { s, asked } = scripted([], { first: sse(ev(1, 'a')), canResume: () => false });
    await expect(followResumable(s)).rejects.toBeInstanceOf(GaveUp);
    expect(asked).toEqual([]);
  });

  it('leaves no abort listener behind, however many times it reconnects', async () => {
    // A signal that counts its listeners (the old sleep left one per reconnection).
    const live = new Set<unknown>();
    const signal = {
      aborted: false,
      addEventListener: (_type: string, fn: unknown) => live.add(fn),
      removeEventListener: (_type: string, fn: unknown) => live.delete(fn),
    } as unknown as AbortSignal;
    const { s, asked } = scripted(['', '', '', ev(1, 'a'), '', '', ev(2, 'end')], { signal });
    await followResumable(s);
    expect(asked).toHaveLength(7);
    expect(live.size).toBe(0);
  });

  it('stops at once when aborted while waiting to reconnect', async () => {
    const ctrl = new AbortController();
    const { s, asked } = scripted([''], { signal: ctrl.signal, backoffMs: 60_000 });
    const started = Date.now();
    setTimeout(() => ctrl.abort(), 10);
    await expect(followResumable(s)).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(asked).toEqual(['']);
  });
});

describe('sleep', () => {
  it('removes its abort listener when the wait ends', async () => {
    const ctrl = new AbortController();
    const add = vi.spyOn(ctrl.signal, 'addEventListener');
    const remove = vi.spyOn(ctrl.signal, 'removeEventListener');
    for (let i = 0; i < 3; i++) await sleep(1, ctrl.signal);
    expect(add).toHaveBeenCalledTimes(3);
    expect(remove.mock.calls.map((c) => c[1])).toEqual(add.mock.calls.map((c) => c[1]));
  });

  it('rejects at once on abort, before or during the wait', async () => {
    vi.useFakeTimers();
    const ctrl = new AbortController();
    const waiting = sleep(60_000, ctrl.signal);
    ctrl.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    await expect(sleep(1, ctrl.signal)).rejects.toMatchObject({ name: 'AbortError' });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('backoff', () => {
  it('doubles from the first wait, up to the cap', () => {
    const table: [number, number, number, number][] = [
      // attempt, base, cap, wait
      [1, 400, Infinity, 400],
      [2, 400, Infinity, 800],
      [4, 400, Infinity, 3200],
      [5, 1000, 30_000, 16_000],
      [6, 1000, 30_000, 30_000],
    ];
    for (const [attempt, base, cap, wait] of table) expect([attempt, backoff(attempt, base, cap)]).toEqual([attempt, wait]);
  });
});
