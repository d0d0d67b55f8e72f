import { describeError, type ErrorContext } from '../api/client';

/** An indeterminate progress bar with what is going on (shown after ~300 ms, see useBusy). */
export function BusyBar({ label }: { label: string | null }) {
  if (!label) return null;
  return (
    <div className="busy" role="status" aria-live="polite">
      <div className="progress indeterminate" aria-hidden="true" />
      <span className="small muted">{label}</span>
    </div>
  );
}

export function ErrorNote({ error, onDismiss, context }: { error: unknown; onDismiss?: () => void; context?: ErrorContext }) {
  if (!error) return null;
  return (
    <div className="inline-error" role="alert">
      {typeof error === 'string' ? error : describeError(error, context)}
      {onDismiss && (
        <button className="icon-btn" aria-label="Dismiss the error" onClick={onDismiss}>
          ×
        </button>
      )}
    </div>
  );
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 && i > 0 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function formatParams(n: number): string {
  if (!n) return '—';
  if (n >= 1e9) return `${(n / 1e9).toFixed(n >= 1e10 ? 0 : 1)}B`;
  if (n >= 1e6) return `${Math.round(n / 1e6)}M`;
  return String(n);
}

export function formatDate(s: string | null | undefined): string {
  if (!s) return '—';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toLocaleString();
}
