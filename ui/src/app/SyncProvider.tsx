// Owns the sync status: asks for it once, then follows its event stream for as long as the
// app is mounted. Its state lives here rather than in <App> so that a sync event re-renders
// the status's readers (the header badge, the Sync screen) and nothing else: `children` is
// the same element between its renders, so React skips everything under it that does not
// read `SyncContext`.
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { api } from '../api/client';
import { followSyncStatus } from '../api/syncEvents';
import type { SyncStatus } from '../api/types';
import { SyncContext } from './context';

export function SyncProvider({ children }: { children: ReactNode }) {
  const [sync, setSync] = useState<SyncStatus | null>(null);

  useEffect(() => {
    const ctrl = new AbortController();
    api.syncStatus().then(setSync, () => {});
    followSyncStatus(setSync, ctrl.signal);
    return () => ctrl.abort();
  }, []);

  const value = useMemo(() => ({ sync, setSync }), [sync]);
  return <SyncContext.Provider value={value}>{children}</SyncContext.Provider>;
}
