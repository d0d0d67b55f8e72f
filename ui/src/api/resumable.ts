// Following a server-sent event stream across dropped connections: the one reconnect loop
// behind a reply's stream, a workflow run's and the sync status's.
//
// It reconnects with the last event id seen (the server replays from there, as `Last-Event-ID`
// asks), drops an event whose numeric id it has already delivered, waits longer after each
// reconnection that brought nothing new, and stops at once when the signal aborts, leaving no
// timer and no abort listener behind. What it does not know, each stream says: how to open it,
// when it is finished, and which errors asking again will not fix.
import { readSSE, type SSEEvent } from './sse';

export interface Resumable {
  /** Opens the stream after `lastEventId` ("" when none was seen). Throws on an HTTP error. */
  connect(lastEventId: string, signal?: AbortSignal): Promise<Response>;
  onEvent(ev: SSEEvent): void;
  /** The last event has come: stop reading and do not reconnect. */
  finished(): boolean;
  /** An error that asking again will not fix: thrown at once. */
  fatal(err: unknown): boolean;
  /** Whether a dropped stream can be opened again (a reply's id may not be known yet). */
  canResume?(): boolean;
  /** A stream already open (the response of the request that started it). */
  first?: Response;
  /** The last event id already seen. */
  lastEventId?: string;
  signal?: AbortSignal;
  /** Reconnections in a row without a new event before giving up (`Infinity`: never). */
  maxRetries: number;
  /** The wait before the first reconnection; it doubles with each one that brings nothing. */
  backoffMs: number;
  maxBackoffMs?: number;
}

/** Reconnecting failed `maxRetries` times in a row, or the stream cannot be resumed. */
export class GaveUp extends Error {
  constructor(readonly last: unknown) {
    super('The stream dropped and could not be resumed');
    this.name = 'GaveUp';
  }
}

const abortError = () => new DOMException('aborted', 'AbortError');

/** The wait before the `attempt`-th reconnection in a row (1-based). */
export function backoff(attempt: number, baseMs: number, maxMs = Infinity): number {
  return Math.min(baseMs * 2 ** (attempt - 1), maxMs);
}

/** Waits `ms`; rejects with an AbortError as soon as the signal aborts. Leaves no listener. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Reads the stream until `finished()`. Rejects with an AbortError when the signal aborts,
 * with the error itself when `fatal` says so, and with `GaveUp` when reconnecting fails.
 */
export async function followResumable(s: Resumable): Promise<void> {
  const { signal } = s;
  let lastId = s.lastEventId ?? '';
  let lastSeq = lastId !== '' && Number.isFinite(Number(lastId)) ? Number(lastId) : -Infinity;
  let res = s.first;
  let attempts = 0;
  for (;;) {
    let fresh = false;
    let down: unknown = null;
    try {
      res ??= await s.connect(lastId, signal);
      if (!res.body) throw new Error('The stream has no body');
      await readSSE(
        res.body,
        (ev) => {
          if (s.finished()) return;
          if (ev.id !== '') {
            const seq = Number(ev.id);
            if (Number.isFinite(seq)) {
              if (seq <= lastSeq) return; // replayed after a reconnection: delivered already
              lastSeq = seq;
            }
            lastId = ev.id;
          }
          fresh = true;
          s.onEvent(ev);
        },
        signal,
      );
    } catch (e) {
      if (signal?.aborted) throw abortError();
      if ((e as Error)?.name === 'AbortError' || s.fatal(e)) throw e;
      down = e;
    }
    res = undefined;
    if (s.finished()) return;
    attempts = fresh ? 1 : attempts + 1;
    if (attempts > s.maxRetries || (s.canResume && !s.canResume())) throw new GaveUp(down);
    await sleep(backoff(attempts, s.backoffMs, s.maxBackoffMs), signal);
  }
}
