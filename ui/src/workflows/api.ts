// The workflow routes (docs/workflows.md), through the app's request helpers so the token,
// errors and the 401 trip to the token screen work as everywhere else.
import { ApiError, http, okAs, request } from '../api/client';
import { followResumable, GaveUp } from '../api/resumable';
import type { SSEEvent } from '../api/sse';
import type { Definition, Graph, Problem, Run, RunDetail, RunEvent, Validation, Workflow, WorkflowFields } from './types';

const enc = encodeURIComponent;

/** The workflow routes. Paths, parameters and bodies are checked against the OpenAPI document;
 * answers take the editor's stricter types (checked against the document in `types.ts`). */
export const wfApi = {
  list: () => okAs<Workflow[]>(http.GET('/api/v1/workflows')),
  get: (id: string) => okAs<Workflow>(http.GET('/api/v1/workflows/{workflow}', { params: { path: { workflow: id } } })),
  create: (body: Required<Pick<WorkflowFields, 'name' | 'nodes' | 'edges'>> & WorkflowFields) => okAs<Workflow>(http.POST('/api/v1/workflows', { body })),
  update: (id: string, body: WorkflowFields) => okAs<Workflow>(http.PATCH('/api/v1/workflows/{workflow}', { params: { path: { workflow: id } }, body })),
  remove: (id: string) => okAs<void>(http.DELETE('/api/v1/workflows/{workflow}', { params: { path: { workflow: id } } })),
  validate: (graph: Graph, signal?: AbortSignal) => okAs<Validation>(http.POST('/api/v1/workflows/validate', { body: graph, signal })),
  /** `doc` is the file's parsed JSON, in any format import accepts. */
  // Whatever JSON the file holds goes as it is: the server's problems say what is wrong with it.
  import: (doc: unknown, name?: string) =>
    okAs<Workflow>(http.POST('/api/v1/workflows/import', { params: { query: name ? { name } : {} }, body: doc as Record<string, unknown> })),
  export: (id: string) => okAs<Definition>(http.GET('/api/v1/workflows/{workflow}/export', { params: { path: { workflow: id } } })),
  startRun: (id: string, inputs: Record<string, unknown>) =>
    okAs<Run>(http.POST('/api/v1/workflows/{workflow}/runs', { params: { path: { workflow: id } }, body: { inputs, wait: false } })),
  runs: (id: string) => okAs<Run[]>(http.GET('/api/v1/workflows/{workflow}/runs', { params: { path: { workflow: id } } })),
  run: (runId: string) => okAs<RunDetail>(http.GET('/api/v1/runs/{run}', { params: { path: { run: runId } } })),
  cancelRun: (runId: string) => okAs<unknown>(http.POST('/api/v1/runs/{run}/cancel', { params: { path: { run: runId } } })),
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
    let data: RunEvent;
    try {
      data = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (!data || typeof data !== 'object') return;
    // The run's own sequence number, when an event carries it beside (or instead of) its id.
    const seq = typeof data.seq === 'number' ? data.seq : ev.id !== '' ? Number(ev.id) : NaN;
    if (Number.isFinite(seq)) {
      if (seq <= last) return;
      last = seq;
    }
    if (!data.type) (data as { type: string }).type = ev.event;
    onEvent(data);
    if (data.type === 'run_finished') finished = true;
  };

  try {
    await followResumable({
      lastEventId: after > 0 ? String(after) : '',
      connect: (lastEventId, s) => openRunEvents(runId, Math.max(last, Number(lastEventId) || 0), s),
      onEvent: handle,
      finished: () => finished,
      // A 4xx will not get better by asking again (an unknown run, the token refused).
      fatal: (e) => e instanceof ApiError && e.status >= 400 && e.status < 500,
      signal,
      maxRetries: maxResumes,
      backoffMs,
    });
  } catch (e) {
    if (e instanceof GaveUp) {
      throw new ApiError(0, { message: 'The connection to Hearth dropped before the run finished', type: 'network', code: 'unreachable' });
    }
    throw e;
  }
}
