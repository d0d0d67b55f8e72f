import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, setToken } from '../api/client';
import { followRun, problemsOf, wfApi } from './api';
import type { RunEvent } from './types';

function sse(events: Partial<RunEvent>[]): string {
  return events.map((e) => `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify({ run_id: 'r1', ...e })}\n\n`).join('');
}

describe('followRun', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('resumes a dropped stream with Last-Event-ID and delivers each event once', async () => {
    const asked: (string | null)[] = [];
    const bodies = [
      sse([
        { seq: 1, type: 'run_started' },
        { seq: 2, type: 'node_started', node_id: 'a' },
      ]),
      // The server repeats seq 2 after the reconnection: it must not count twice.
      sse([
        { seq: 2, type: 'node_started', node_id: 'a' },
        { seq: 3, type: 'text_chunk', node_id: 'a', text: 'hi' },
        { seq: 4, type: 'run_finished', status: 'succeeded' },
      ]),
    ];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit = {}) => {
        expect(url).toBe('/api/v1/runs/r1/events');
        const h = new Headers(init.headers);
        expect(h.get('Authorization')).toBe('Bearer t');
        asked.push(h.get('Last-Event-ID'));
        return new Response(bodies.shift() ?? '', { headers: { 'content-type': 'text/event-stream' } });
      }),
    );
    setToken('t');
    const seen: string[] = [];
    await followRun('r1', 0, (ev) => seen.push(`${ev.seq}:${ev.type}`), undefined, { backoffMs: 1 });
    expect(seen).toEqual(['1:run_started', '2:node_started', '3:text_chunk', '4:run_finished']);
    expect(asked).toEqual([null, '2']);
  });

  it('gives up after failed reconnections, and at once on a 404', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response('', { headers: { 'content-type': 'text/event-stream' } })));
    await expect(followRun('r1', 5, () => {}, undefined, { backoffMs: 1, maxResumes: 2 })).rejects.toThrow(/dropped/);
    vi.stubGlobal('fetch', vi.fn(async () => Response.json({ error: { message: 'no such run', type: 'invalid_request_error', code: 'not_found' } }, { status: 404 })));
    await expect(followRun('r1', 0, () => {}, undefined, { backoffMs: 1 })).rejects.toBeInstanceOf(ApiError);
  });
});

describe('import errors', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('carry the problems of an invalid workflow', async () => {
    const body = {
      error: {
        type: 'invalid_request_error',
        code: 'invalid_workflow',
        message: 'The workflow has 2 problems',
        param: null,
        problems: [
          { node_id: 'a', edge_id: null, message: 'prompt_template is required' },
          { node_id: null, edge_id: 'e9', message: 'edge to a missing node' },
        ],
      },
    };
    const fetch = vi.fn(async (_url: string, _init?: RequestInit) => Response.json(body, { status: 400 }));
    vi.stubGlobal('fetch', fetch);
    const err = await wfApi.import({ nodes: [] }, 'My flow').catch((e) => e);
    expect(fetch.mock.calls[0][0]).toBe('/api/v1/workflows/import?name=My%20flow');
    expect(JSON.parse(fetch.mock.calls[0][1]!.body as string)).toEqual({ nodes: [] });
    expect(err).toBeInstanceOf(ApiError);
    expect(err.code).toBe('invalid_workflow');
    expect(problemsOf(err)).toEqual(body.error.problems);
    expect(problemsOf(new Error('x'))).toEqual([]);
  });
});
