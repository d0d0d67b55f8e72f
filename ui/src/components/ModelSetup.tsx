// The first run: no model on this device yet. Offers the default model's download (with its
// progress, Cancel, and "Try again", which resumes) or a GGUF of one's own.
import { useEffect, useRef, useState } from 'react';
import { ApiError, api, describeError } from '../api/client';
import type { FetchStatus } from '../api/types';
import { localModels, useApp } from '../app/context';
import { hrefFor } from '../lib/router';
import { useLatest } from '../lib/useLatest';
import { formatBytes } from './Busy';

/** How often the download's status is asked for while it runs. */
export const POLL_MS = 500;
/** How long to wait before asking again after a status request failed. */
export const RETRY_MS = 2000;

/** What the intro says before the server has answered (the server's catalog is the truth). */
const FALLBACK = { title: 'SmolLM2 135M Instruct', download_bytes: 92_871_040 };

/** "about 18 s left", "about 3 min left", "about 1 h 5 min left". */
export function formatEta(seconds: number): string {
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return `about ${s} s left`;
  const min = Math.round(s / 60);
  if (min < 60) return `about ${min} min left`;
  return `about ${Math.floor(min / 60)} h ${min % 60} min left`;
}

/** "12 MB of 93 MB · 4.1 MB/s · about 18 s left" (rate and time left once the server knows them). */
export function progressLine(st: FetchStatus): string {
  const total = st.total_bytes || st.model.download_bytes;
  const parts = [`${formatBytes(st.received_bytes)} of ${formatBytes(total)}`];
  if (st.bytes_per_second != null && st.bytes_per_second > 0) parts.push(`${formatBytes(st.bytes_per_second)}/s`);
  if (st.eta_seconds != null) parts.push(formatEta(st.eta_seconds));
  return parts.join(' · ');
}

const running = (st: FetchStatus | null) => st?.state === 'downloading' || st?.state === 'verifying';

/**
 * Shown where there is no local model (the empty chat, the Models screen). When the model is
 * in place it reloads the app's models (and calls `onReady`): the parent then stops showing it.
 * `onImport` replaces the link to the Models screen's import (on that screen itself).
 */
export function ModelSetup({ onImport, onReady }: { onImport?: () => void; onReady?: () => void | Promise<void> }) {
  const app = useApp();
  const [status, setStatus] = useState<FetchStatus | null>(null);
  const [requestError, setRequestError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  /** This server does not download models (404): only the import is offered. */
  const [noFetch, setNoFetch] = useState(false);
  const appRef = useLatest(app);
  const onReadyRef = useLatest(onReady);
  /** The status poller, made and owned by the mount effect below; null once unmounted. */
  const poller = useRef<{ stop(): void; apply(st: FetchStatus): void } | null>(null);

  // Asks for the download's status once, then keeps asking while it runs. Everything the
  // poller holds (its timer, its request in flight) lives in this effect and ends with it.
  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let inFlight: AbortController | null = null;
    let readySent = false;

    const stop = () => {
      if (timer) clearTimeout(timer);
      timer = null;
      inFlight?.abort();
      inFlight = null;
    };

    const apply = (st: FetchStatus) => {
      if (!alive) return;
      setStatus(st);
      if (running(st)) {
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => poll(false), POLL_MS);
      } else if (st.present && !readySent) {
        readySent = true;
        Promise.all([appRef.current.reloadModels(), onReadyRef.current?.()]).catch(() => {});
      }
    };

    const poll = async (first: boolean) => {
      timer = null;
      const ctrl = new AbortController();
      inFlight = ctrl;
      try {
        const st = await api.modelFetch(ctrl.signal);
        if (inFlight !== ctrl) return;
        inFlight = null;
        if (!first) setRequestError(null);
        apply(st);
      } catch (e) {
        if (inFlight !== ctrl || !alive) return;
        inFlight = null;
        // Before anything was asked, say nothing: the download button is there. While the
        // download runs, say what went wrong and keep asking (the server may be back soon).
        if (first) {
          if (e instanceof ApiError && e.status === 404) setNoFetch(true);
          return;
        }
        setRequestError(describeError(e, 'models'));
        timer = setTimeout(() => poll(false), RETRY_MS);
      }
    };

    poller.current = { stop, apply };
    poll(true);
    return () => {
      alive = false;
      stop();
      poller.current = null;
    };
  }, [appRef, onReadyRef]);

  /** Starts or cancels the download; its answer restarts the polling when the download runs. */
  const ask = async (call: () => Promise<FetchStatus>) => {
    poller.current?.stop();
    setRequestError(null);
    setPending(true);
    try {
      const st = await call();
      poller.current?.apply(st);
    } catch (e) {
      if (poller.current) setRequestError(describeError(e, 'models'));
    } finally {
      if (poller.current) setPending(false);
    }
  };

  const model = status?.model ?? FALLBACK;
  const state = status?.state ?? 'idle';
  const active = running(status);
  const ready = !!status?.present;
  const total = status ? status.total_bytes || status.model.download_bytes : 0;
  const error = requestError ?? (state === 'failed' ? status?.error || 'The download failed.' : null);
  const retry = !!error || state === 'cancelled';
  const online = app.models.length > localModels(app.models).length;

  let line: string | null = null;
  if (status && state === 'downloading') line = progressLine(status);
  else if (state === 'verifying') line = 'Checking the file…';
  else if (ready) line = `${model.title} is ready.`;
  else if (status && state === 'cancelled')
    line = `Download cancelled at ${formatBytes(status.received_bytes)} of ${formatBytes(total)}. Try again to resume it.`;

  const importLabel = 'Import a GGUF from disk';
  return (
    <section className="card model-setup" data-testid="model-setup" aria-labelledby="model-setup-title">
      <h2 id="model-setup-title">No local model yet</h2>
      <p>
        {model.title}, a {formatBytes(model.download_bytes)} download, is a small model: quick and private, not wise. Import a
        bigger GGUF for better answers.{online && ' Or pick an online model in the model picker.'}
      </p>
      {active && (
        <progress
          data-testid="model-fetch-progress"
          aria-label="Downloading the default model"
          value={state === 'verifying' ? total : Math.min(status!.received_bytes, total)}
          max={total || 1}
        />
      )}
      {noFetch && <p className="small muted">This Hearth server does not download models: import a GGUF file.</p>}
      {line && (
        <p className="small muted" data-testid="model-fetch-status" aria-live={state === 'downloading' ? 'off' : 'polite'}>
          {line}
        </p>
      )}
      {error && (
        <div className="inline-error" role="alert" data-testid="model-fetch-error">
          {error}
        </div>
      )}
      {!ready && (
        <div className="row">
          {active ? (
            <button className="btn" data-testid="model-fetch-cancel" disabled={pending} onClick={() => ask(api.cancelModelFetch)}>
              Cancel
            </button>
          ) : noFetch ? null : (
            <button className="btn primary" data-testid="model-fetch-start" disabled={pending} onClick={() => ask(api.startModelFetch)}>
              {retry ? 'Try again' : 'Download the default model'}
            </button>
          )}
          {onImport ? (
            <button className="btn" onClick={onImport}>
              {importLabel}
            </button>
          ) : (
            <a className="btn" href={hrefFor({ name: 'models' })}>
              {importLabel}
            </a>
          )}
        </div>
      )}
    </section>
  );
}
