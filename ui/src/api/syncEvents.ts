// The sync status as it changes: `status` events from GET /api/v1/sync/events, followed for
// as long as the app runs. The server sends the current status on each connection, so a
// reconnection needs no event id; a dropped one is retried forever, backing off to 30 s.
import { ApiError, request } from './client';
import { followResumable } from './resumable';
import type { SyncStatus } from './types';

export async function followSyncStatus(onStatus: (s: SyncStatus) => void, signal: AbortSignal): Promise<void> {
  try {
    await followResumable({
      connect: (_after, s) => request('GET', '/api/v1/sync/events', { headers: { Accept: 'text/event-stream' }, signal: s }),
      onEvent: (ev) => {
        if (ev.event !== 'status') return;
        try {
          onStatus(JSON.parse(ev.data));
        } catch {
          /* ignore a malformed event */
        }
      },
      finished: () => false,
      // A refused token sends the app to the token screen; nothing to follow until then.
      fatal: (e) => e instanceof ApiError && e.status === 401,
      signal,
      maxRetries: Infinity,
      backoffMs: 1000,
      maxBackoffMs: 30_000,
    });
  } catch {
    /* aborted (the app went away), or the token was refused */
  }
}
