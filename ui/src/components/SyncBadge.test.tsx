import { describe, expect, it } from 'vitest';
import type { SyncStatus } from '../api/types';
import { syncSummary } from './SyncBadge';

const base: SyncStatus = { connected: true, signed_in: true, pending: { changes: 0, transactions: 0 }, rejected: [], quarantined: [], activity: 'idle' };

describe('syncSummary', () => {
  it('says everything is synced when nothing waits or was kept aside', () => {
    expect(syncSummary(base).state).toBe('synced');
  });

  it('flags pulled rows kept aside, so the user looks at the Sync screen', () => {
    const s: SyncStatus = { ...base, quarantined: [{ table: 'messages', row_id: 'm1', reason: 'its parent_id is the message itself', quarantined_at: '2026-12-04T00:00:00Z' }] };
    expect(syncSummary(s)).toMatchObject({ state: 'error', label: '1 kept aside' });
  });
});
