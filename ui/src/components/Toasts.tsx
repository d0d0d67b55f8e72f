// The toast host: the only component that re-renders when a toast comes or goes.
import { useEffect, useSyncExternalStore } from 'react';
import type { Toast, ToastStore } from '../app/toastStore';

function ToastItem({ toast, onDismiss }: { toast: Toast; onDismiss: (id: number) => void }) {
  useEffect(() => {
    const t = setTimeout(() => onDismiss(toast.id), toast.timeout ?? 4000);
    return () => clearTimeout(t);
  }, [toast.id, toast.timeout, onDismiss]);
  return (
    <div className={`toast${toast.kind === 'error' ? ' toast-error' : ''}`} role={toast.kind === 'error' ? 'alert' : 'status'}>
      <span>{toast.text}</span>
      {toast.actionLabel && (
        <button
          className="btn small"
          onClick={() => {
            toast.onAction?.();
            onDismiss(toast.id);
          }}
        >
          {toast.actionLabel}
        </button>
      )}
      <button className="icon-btn" aria-label="Dismiss" onClick={() => onDismiss(toast.id)}>
        ×
      </button>
    </div>
  );
}

export function Toasts({ store }: { store: ToastStore }) {
  const toasts = useSyncExternalStore(store.subscribe, store.snapshot);
  return (
    <div className="toasts" aria-live="polite">
      {toasts.map((t) => (
        <ToastItem key={t.id} toast={t} onDismiss={store.dismiss} />
      ))}
    </div>
  );
}
