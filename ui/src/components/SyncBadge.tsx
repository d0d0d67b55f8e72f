import type { SyncStatus } from '../api/types';

export type SyncState = 'synced' | 'pending' | 'offline' | 'error' | 'not-connected' | 'signed-out' | 'syncing' | 'unknown';

/** What the header badge says about sync. */
export function syncSummary(s: SyncStatus | null): { state: SyncState; label: string; title: string } {
  if (!s) return { state: 'unknown', label: 'Sync …', title: 'Asking Hearth about sync' };
  if (!s.connected) return { state: 'not-connected', label: 'Not connected', title: 'Sync is not set up: connect a Supabase project to use your chats on other devices' };
  if (!s.signed_in) return { state: 'signed-out', label: 'Signed out', title: 'Connected to a project but not signed in: sign in to sync' };
  const pending = s.pending?.changes ?? 0;
  if (s.rejected?.length) return { state: 'error', label: `${s.rejected.length} rejected`, title: 'The sync server refused some changes: see the Sync screen' };
  if (s.quarantined?.length) return { state: 'error', label: `${s.quarantined.length} kept aside`, title: 'Some pulled rows could not be applied safely: see the Sync screen' };
  if (s.activity === 'backing_off') return { state: 'offline', label: 'Offline', title: s.last_error ? `Cannot sync: ${s.last_error}` : 'Cannot reach the sync server; retrying' };
  const lastOk = [s.last_push_at, s.last_pull_at].filter(Boolean).sort().pop() ?? '';
  if (s.last_error && s.last_error_at && s.last_error_at > lastOk) return { state: 'error', label: 'Sync error', title: s.last_error };
  if (s.activity === 'pushing' || s.activity === 'pulling') return { state: 'syncing', label: pending ? `Syncing ${pending}` : 'Syncing', title: 'Syncing now' };
  if (pending > 0) return { state: 'pending', label: `${pending} pending`, title: `${pending} changes wait to be sent` };
  return { state: 'synced', label: 'Synced', title: 'Everything is synced' };
}

export function SyncBadge({ status }: { status: SyncStatus | null }) {
  const { state, label, title } = syncSummary(status);
  return (
    <a className={`sync-badge sync-${state}`} href="#/sync" title={title} aria-label={`Sync status: ${label}. Open the Sync screen`}>
      <span className="dot" aria-hidden="true" />
      {label}
    </a>
  );
}
