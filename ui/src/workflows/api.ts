// The workflow routes (docs/workflows.md), through the app's request helpers so the token,
// errors and the 401 trip to the token screen work as everywhere else.
import { ApiError, json, request } from '../api/client';
import { sleep } from '../api/replies';
import { readSSE, type SSEEvent } from '../api/sse';
import type { Definition, Graph, Problem, Run, RunDetail, RunEvent, Validation, Workflow, WorkflowFields } from './types';

const enc = encodeURIComponent;

export const wfApi = {
  list: () => json<Workflow[]>('GET', '/api/v1/workflows'),
  get: (id: string) => json<Workflow>('GET', `/api/v1/workflows/${enc(id)}`),
  create: (body: Required<Pick<WorkflowFields, 'name' | 'nodes' | 'edges'>> & WorkflowFields) => json<Workflow>('POST', '/api/v1/workflows', body),
  update: (id: string, body: WorkflowFields) => json<Workflow>('PATCH', `/api/v1/workflows/${enc(id)}`, body),
  remove: (id: string) => json<void>('DELETE', `/api/v1/workflows/${enc(id)}`),
  validate: (graph: Graph, signal?: AbortSignal) => json<Validation>('POST', '/api/v1/workflows/validate', graph, signal),
  /** `doc` is the file's parsed JSON, in any format import accepts. */
  import: (doc: unknown, name?: string) => json<Workflow>('POST', `/api/v1/workflows/import${name ? `?name=${enc(name)}` : ''}`, doc),
  export: (id: string) => json<Definition>('GET', `/api/v1/workflows/${enc(id)}/export`),
  startRun: (id: string, inputs: Record<string, unknown>) => json<Run>('POST', `/api/v1/workflows/${enc(id)}/runs`, { inputs, wait: false }),
  runs: (id: string) => json<Run[]>('GET', `/api/v1/workflows/${enc(id)}/runs`),
  run: (runId: string) => json<RunDetail>('GET', `/api/v1/runs/${enc(runId)}`),
  cancelRun: (runId: string) => json<unknown>('POST', `/api/v1/runs/${enc(runId)}/cancel`),
};

/** The problems an `invalid_workflow` error lists (import, runs), else none. */
export function problemsOf(err: unknown): Problem[] {
  if (!(err instanceof ApiError)) return [];
  const list = err.details.problems;
  if (!Array.isArray(list)) return [];
  return list
    .filter((p): p is Record<string, unknown> => !!p && typeof p === 'object')
    .map((p) => ({
      node_id: typeof p.node_id === 'string' ? p.node_id : null,
      edge_id: typeof p.edge_id === 'string' ? p.edge_id : null,
      message: typeof p.message === 'string' ? p.message : String(p.message ?? ''),
    }));
}

export function openRunEvents(runId: string, after: number, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'text/event-stream' };
  if (after > 0) headers['Last-Event-ID'] = String(after);
  return request('GET', `/api/v1/runs/${enc(runId)}/events`, { headers, signal });
}

export interface FollowOptions {
  /** Reconnections in a row without a new event before giving up. */
  maxResumes?: number;
  /** The first wait before reconnecting (doubles each time). */
  backoffMs?: number;
}

/**
 * Follows a run's events from after `after` until `run_finished`. A dropped connection is
 * resumed with `Last-Event-ID` (the server replays what was missed); an event already seen is
 * never delivered twice. Throws ApiError when the stream cannot be opened (a 4xx, or too many
 * failed reconnections), AbortError when the signal aborts.
 */
export async function followRun(
  runId: string,
  after: number,
  onEvent: (ev: RunEvent) => void,
  signal?: AbortSignal,
  { maxResumes = 6, backoffMs = 400 }: FollowOptions = {},
): Promise<void> {
  let last = after;
  let finished = false;
  const handle = (ev: SSEEvent) => {
    if (finished) return;
    let data: RunEvent;
    try {
      data = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (!data || typeof data !== 'object') return;
    const seq = typeof data.seq === 'number' ? data.seq : Number(ev.id);
    if (Number.isFinite(seq)) {
      if (seq <= last) return;
      last = seq;
    }
    if (!data.type) (data as { type: string }).type = ev.event;
    onEvent(data);
    if (data.type === 'run_finished') finished = true;
  };

  let failures = 0;
  for (;;) {
    const before = last;
    try {
      const res = await openRunEvents(runId, last, signal);
      if (res.body) await readSSE(res.body, handle, signal);
    } catch (e) {
      if ((e as Error)?.name === 'AbortError' || signal?.aborted) throw e;
      // A 4xx will not get better by asking again (an unknown run, the token refused).
      if (e instanceof ApiError && e.status >= 400 && e.status < 500) throw e;
    }
    if (finished) return;
    failures = last > before ? 1 : failures + 1;
    if (failures > maxResumes) {
      throw new ApiError(0, { message: 'The connection to Hearth dropped before the run finished', type: 'network', code: 'unreachable' });
    }
    await sleep(backoffMs * 2 ** (failures - 1), signal);
  }
}
