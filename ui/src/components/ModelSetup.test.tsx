import { StrictMode } from 'react';
import { act, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setToken } from '../api/client';
import type { FetchStatus } from '../api/types';
import { AppContext, type AppState } from '../app/context';
import { appStub } from '../test/appStub';
import { FETCH_TOTAL, fetchStatus } from '../test/fetchStatus';
import { formatEta, ModelSetup, POLL_MS, RETRY_MS } from './ModelSetup';

const TOTAL = FETCH_TOTAL;
const status = fetchStatus;

type Answer = () => Response | Promise<Response>;

/** A fake server for the three fetch routes: each answers what the test last set. */
function fakeServer(initial: FetchStatus) {
  const calls: string[] = [];
  const signals: (AbortSignal | undefined)[] = [];
  const answers: Record<string, Answer> = {
    'GET /api/v1/models/fetch': () => Response.json(initial),
  };
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      const key = `${init.method ?? 'GET'} ${url}`;
      calls.push(key);
      signals.push(init.signal ?? undefined);
      expect(new Headers(init.headers).get('Authorization')).toBe('Bearer t');
      const answer = answers[key];
      if (!answer) return Response.json({ error: { message: `unexpected ${key}`, type: 'x', code: 'not_found' } }, { status: 404 });
      return answer();
    }),
  );
  return {
    calls,
    signals,
    /** What GET answers from now on. */
    get: (st: FetchStatus) => (answers['GET /api/v1/models/fetch'] = () => Response.json(st)),
    answer: (key: string, a: Answer) => (answers[key] = a),
    count: (key: string) => calls.filter((c) => c === key).length,
  };
}

/** Lets the pending requests answer and React render (no timer moves). */
const settle = () => act(() => vi.advanceTimersByTimeAsync(0));
/** Moves time on by `ms`, running the timers due, then settles. */
const tick = (ms: number) => act(() => vi.advanceTimersByTimeAsync(ms));

function renderSetup(app: Partial<AppState> = {}, props: Parameters<typeof ModelSetup>[0] = {}) {
  return render(
    <AppContext.Provider value={appStub({ modelsLoaded: true, ...app })}>
      <ModelSetup {...props} />
    </AppContext.Provider>,
  );
}

const startButton = () => screen.getByTestId('model-fetch-start');
const statusLine = () => screen.getByTestId('model-fetch-status').textContent;
const progress = () => screen.getByTestId('model-fetch-progress') as HTMLProgressElement;

describe('<ModelSetup>', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    setToken('t');
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('downloads: progress with bytes, rate and time left, the check, then reloads the models', async () => {
    const server = fakeServer(status());
    const reloadModels = vi.fn(async () => {});
    renderSetup({ reloadModels });
    await settle();

    expect(screen.getByRole('heading', { level: 2 }).textContent).toBe('No local model yet');
    expect(screen.getByTestId('model-setup').querySelector('p')?.textContent).toBe(
      'SmolLM2 135M Instruct, a 93 MB download, is a small model: quick and private, not wise. Import a bigger GGUF for better answers.',
    );
    expect(startButton().textContent).toBe('Download the default model');
    expect(screen.getByRole('link', { name: 'Import a GGUF from disk' }).getAttribute('href')).toBe('#/models');
    expect(screen.queryByTestId('model-fetch-progress')).toBeNull();
    // Idle: nothing is asked again.
    await tick(POLL_MS * 4);
    expect(server.calls).toEqual(['GET /api/v1/models/fetch']);

    server.answer('POST /api/v1/models/fetch', () => Response.json(status({ state: 'downloading' }), { status: 202 }));
    fireEvent.click(startButton());
    await settle();
    expect(server.calls).toEqual(['GET /api/v1/models/fetch', 'POST /api/v1/models/fetch']);
    expect(screen.getByRole('progressbar', { name: 'Downloading the default model' })).toBe(progress());
    expect(progress().value).toBe(0);
    expect(progress().max).toBe(TOTAL);
    expect(statusLine()).toBe('0 B of 93 MB');
    expect(screen.queryByTestId('model-fetch-start')).toBeNull();
    expect(screen.getByTestId('model-fetch-cancel').textContent).toBe('Cancel');

    server.get(status({ state: 'downloading', received_bytes: 12_300_000, bytes_per_second: 4_100_000, eta_seconds: 19.4 }));
    await tick(POLL_MS - 1);
    expect(server.count('GET /api/v1/models/fetch')).toBe(1);
    await tick(1);
    expect(server.count('GET /api/v1/models/fetch')).toBe(2);
    expect(progress().value).toBe(12_300_000);
    expect(statusLine()).toBe('12 MB of 93 MB · 4.1 MB/s · about 19 s left');

    server.get(status({ state: 'downloading', received_bytes: 60_000_000, bytes_per_second: 5_000_000, eta_seconds: 150 }));
    await tick(POLL_MS);
    expect(progress().value).toBe(60_000_000);
    expect(statusLine()).toBe('60 MB of 93 MB · 5.0 MB/s · about 3 min left');

    server.get(status({ state: 'verifying', received_bytes: TOTAL }));
    await tick(POLL_MS);
    expect(statusLine()).toBe('Checking the file…');
    expect(progress().value).toBe(TOTAL);
    expect(reloadModels).not.toHaveBeenCalled();

    server.get(status({ state: 'done', received_bytes: TOTAL, present: true }));
    await tick(POLL_MS);
    expect(reloadModels).toHaveBeenCalledTimes(1);
    expect(statusLine()).toBe('SmolLM2 135M Instruct is ready.');
    expect(screen.queryByTestId('model-fetch-progress')).toBeNull();
    expect(screen.queryByTestId('model-fetch-start')).toBeNull();

    // Done: no more polling, no timer left.
    const gets = server.count('GET /api/v1/models/fetch');
    await tick(POLL_MS * 10);
    expect(server.count('GET /api/v1/models/fetch')).toBe(gets);
    expect(vi.getTimerCount()).toBe(0);
    expect(reloadModels).toHaveBeenCalledTimes(1);
  });

  it('shows why a download failed, and Try again resumes it', async () => {
    const server = fakeServer(
      status({ state: 'failed', received_bytes: 50_000_000, error: 'the downloaded file does not match its SHA-256; it was deleted' }),
    );
    renderSetup();
    await settle();
    expect(screen.getByRole('alert').textContent).toBe('the downloaded file does not match its SHA-256; it was deleted');
    expect(screen.getByTestId('model-fetch-error')).toBe(screen.getByRole('alert'));
    expect(startButton().textContent).toBe('Try again');
    // A failed download is not polled.
    await tick(POLL_MS * 4);
    expect(server.calls).toEqual(['GET /api/v1/models/fetch']);

    server.answer('POST /api/v1/models/fetch', () =>
      Response.json(status({ state: 'downloading', received_bytes: 50_000_000, bytes_per_second: 1_000_000, eta_seconds: 43 }), { status: 202 }),
    );
    fireEvent.click(startButton());
    await settle();
    expect(server.calls).toEqual(['GET /api/v1/models/fetch', 'POST /api/v1/models/fetch']);
    expect(screen.queryByRole('alert')).toBeNull();
    expect(progress().value).toBe(50_000_000);
    expect(statusLine()).toBe('50 MB of 93 MB · 1.0 MB/s · about 43 s left');
    // …and polling starts again.
    await tick(POLL_MS);
    expect(server.calls).toEqual(['GET /api/v1/models/fetch', 'POST /api/v1/models/fetch', 'GET /api/v1/models/fetch']);
  });

  it("shows the server's error when the download cannot start, with what to do", async () => {
    const server = fakeServer(status());
    renderSetup();
    await settle();
    server.answer('POST /api/v1/models/fetch', () =>
      Response.json({ error: { message: 'Hearth is busy', type: 'server_error', code: 'busy' } }, { status: 503 }),
    );
    fireEvent.click(startButton());
    await settle();
    expect(screen.getByTestId('model-fetch-error').textContent).toBe('Hearth is busy. Hearth is busy: wait a moment and try again.');
    expect(startButton().textContent).toBe('Try again');
    expect(screen.queryByTestId('model-fetch-progress')).toBeNull();
  });

  it('Cancel asks the server to stop; what was received is kept for Try again', async () => {
    // Opened while a download runs (a reload of the page): it shows and follows it.
    const server = fakeServer(status({ state: 'downloading', received_bytes: 30_000_000, bytes_per_second: 2_000_000, eta_seconds: 31 }));
    renderSetup();
    await settle();
    expect(statusLine()).toBe('30 MB of 93 MB · 2.0 MB/s · about 31 s left');
    await tick(POLL_MS);
    expect(server.count('GET /api/v1/models/fetch')).toBe(2);

    server.answer('POST /api/v1/models/fetch/cancel', () => Response.json(status({ state: 'cancelled', received_bytes: 40_000_000 })));
    fireEvent.click(screen.getByTestId('model-fetch-cancel'));
    await settle();
    expect(server.calls).toEqual(['GET /api/v1/models/fetch', 'GET /api/v1/models/fetch', 'POST /api/v1/models/fetch/cancel']);
    expect(statusLine()).toBe('Download cancelled at 40 MB of 93 MB. Try again to resume it.');
    expect(screen.queryByTestId('model-fetch-progress')).toBeNull();
    expect(screen.queryByTestId('model-fetch-cancel')).toBeNull();
    expect(startButton().textContent).toBe('Try again');
    // Cancelled: polling stopped.
    await tick(POLL_MS * 10);
    expect(server.count('GET /api/v1/models/fetch')).toBe(2);
    expect(vi.getTimerCount()).toBe(0);

    server.answer('POST /api/v1/models/fetch', () => Response.json(status({ state: 'downloading', received_bytes: 40_000_000 }), { status: 202 }));
    fireEvent.click(startButton());
    await settle();
    expect(server.calls[server.calls.length - 1]).toBe('POST /api/v1/models/fetch');
    expect(progress().value).toBe(40_000_000);
  });

  it('stops polling when it goes away, and drops the request in flight', async () => {
    const server = fakeServer(status({ state: 'downloading', received_bytes: 1_000_000 }));
    const view = renderSetup();
    await settle();
    await tick(POLL_MS);
    expect(server.count('GET /api/v1/models/fetch')).toBe(2);
    expect(vi.getTimerCount()).toBe(1);

    // A poll that never answers: unmounting aborts it.
    server.get(status({ state: 'downloading' }));
    server.answer('GET /api/v1/models/fetch', () => new Promise<Response>(() => {}));
    await tick(POLL_MS);
    expect(server.count('GET /api/v1/models/fetch')).toBe(3);
    const signal = server.signals[server.signals.length - 1];
    expect(signal?.aborted).toBe(false);

    view.unmount();
    expect(signal?.aborted).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    await tick(POLL_MS * 10);
    expect(server.count('GET /api/v1/models/fetch')).toBe(3);
  });

  it('polls once at a time under StrictMode (mounted twice)', async () => {
    const server = fakeServer(status({ state: 'downloading', received_bytes: 1_000_000 }));
    render(
      <StrictMode>
        <AppContext.Provider value={appStub({ modelsLoaded: true })}>
          <ModelSetup />
        </AppContext.Provider>
      </StrictMode>,
    );
    await settle();
    // The first mount's request was aborted; one chain of polls follows.
    expect(server.signals[0]?.aborted).toBe(true);
    const first = server.count('GET /api/v1/models/fetch');
    expect(vi.getTimerCount()).toBe(1);
    await tick(POLL_MS * 3);
    expect(server.count('GET /api/v1/models/fetch')).toBe(first + 3);
    expect(vi.getTimerCount()).toBe(1);
  });

  it('keeps following a download when a status request fails, and says why', async () => {
    const server = fakeServer(status({ state: 'downloading', received_bytes: 1_000_000 }));
    renderSetup();
    await settle();
    server.answer('GET /api/v1/models/fetch', () => Promise.reject(new TypeError('Failed to fetch')));
    await tick(POLL_MS);
    expect(screen.getByTestId('model-fetch-error').textContent).toBe(
      'Cannot reach Hearth. Check that `hearth serve` (or the Hearth app) is running, then try again.',
    );
    // The last known progress stays, with Cancel.
    expect(progress().value).toBe(1_000_000);
    server.get(status({ state: 'downloading', received_bytes: 2_000_000 }));
    await tick(RETRY_MS);
    expect(screen.queryByTestId('model-fetch-error')).toBeNull();
    expect(progress().value).toBe(2_000_000);
  });

  it('reloads the models once when the model is already in place', async () => {
    fakeServer(status({ state: 'idle', present: true }));
    const reloadModels = vi.fn(async () => {});
    const onReady = vi.fn();
    renderSetup({ reloadModels }, { onReady });
    await settle();
    expect(reloadModels).toHaveBeenCalledTimes(1);
    expect(onReady).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('offers only the import where the server does not download models', async () => {
    const server = fakeServer(status());
    server.answer('GET /api/v1/models/fetch', () =>
      Response.json({ error: { message: 'this server does not download models', type: 'invalid_request_error', code: 'not_found' } }, { status: 404 }),
    );
    renderSetup();
    await settle();
    expect(screen.queryByTestId('model-fetch-start')).toBeNull();
    expect(screen.queryByTestId('model-fetch-error')).toBeNull();
    expect(screen.getByText(/^This Hearth server/).textContent).toBe('This Hearth server does not download models: import a GGUF file.');
    expect(screen.getByRole('link', { name: 'Import a GGUF from disk' }).getAttribute('href')).toBe('#/models');
  });

  it('offers the import as a button where one is given (the Models screen)', async () => {
    fakeServer(status());
    const onImport = vi.fn();
    renderSetup({}, { onImport });
    await settle();
    expect(screen.queryByRole('link', { name: 'Import a GGUF from disk' })).toBeNull();
    fireEvent.click(screen.getByRole('button', { name: 'Import a GGUF from disk' }));
    expect(onImport).toHaveBeenCalledTimes(1);
  });

  it('mentions the online models when a provider has some', async () => {
    fakeServer(status());
    renderSetup({ models: [{ id: 'openai/gpt-4o-mini', object: 'model', owned_by: 'openai', created: 0 }] });
    await settle();
    expect(screen.getByTestId('model-setup').querySelector('p')?.textContent).toBe(
      'SmolLM2 135M Instruct, a 93 MB download, is a small model: quick and private, not wise. Import a bigger GGUF for better answers. Or pick an online model in the model picker.',
    );
  });
});

describe('formatEta', () => {
  it('says seconds, minutes, then hours', () => {
    expect(formatEta(0.2)).toBe('about 1 s left');
    expect(formatEta(18)).toBe('about 18 s left');
    expect(formatEta(59.4)).toBe('about 59 s left');
    expect(formatEta(90)).toBe('about 2 min left');
    expect(formatEta(3_900)).toBe('about 1 h 5 min left');
  });
});
