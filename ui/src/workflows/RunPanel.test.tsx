import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { setToken } from '../api/client';
import { RunPanel } from './RunPanel';
import { runningRun } from './testData';
import type { Run, RunEvent, StartInput } from './types';
import { useRun } from './useRun';

const run: Run = runningRun;

/** An event stream the test writes into. */
function controlledStream() {
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => (ctrl = c) });
  const enc = new TextEncoder();
  let seq = 0;
  return {
    response: () => new Response(body, { headers: { 'content-type': 'text/event-stream' } }),
    send: (ev: Record<string, unknown> & { type: RunEvent['type'] }) => {
      seq++;
      ctrl.enqueue(enc.encode(`id: ${seq}\nevent: ${ev.type}\ndata: ${JSON.stringify({ seq, run_id: 'r1', ...ev })}\n\n`));
    },
    close: () => ctrl.close(),
  };
}

const inputs: StartInput[] = [{ name: 'input', type: 'string', required: true }];

function Harness({ ensureSaved }: { ensureSaved: () => Promise<boolean> }) {
  const runner = useRun('w1');
  return <RunPanel runner={runner} inputs={inputs} ensureSaved={ensureSaved} onSelectNode={() => {}} />;
}

describe('<RunPanel>', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('saves, starts a run, shows each node live from the events, then the outputs', async () => {
    const stream = controlledStream();
    const calls: string[] = [];
    let posted: unknown = null;
    let finished = false;
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit = {}) => {
        const method = init.method ?? 'GET';
        calls.push(`${method} ${url}`);
        if (method === 'GET' && url === '/api/v1/workflows/w1/runs') return Response.json(finished ? [{ ...run, status: 'succeeded' }] : []);
        if (method === 'POST' && url === '/api/v1/workflows/w1/runs') {
          posted = JSON.parse(init.body as string);
          return Response.json(run, { status: 202 });
        }
        if (method === 'GET' && url === '/api/v1/runs/r1/events') return stream.response();
        if (method === 'POST' && url === '/api/v1/runs/r1/cancel') return new Response(null, { status: 202 });
        return Response.json({ error: { message: `unexpected ${method} ${url}`, type: 'x', code: 'not_found' } }, { status: 404 });
      }),
    );
    setToken('t');
    const ensureSaved = vi.fn(async () => true);
    render(<Harness ensureSaved={ensureSaved} />);
    await screen.findByText('No runs yet.');

    // A required input left empty: no run.
    fireEvent.click(screen.getByTestId('wf-run'));
    expect(await screen.findByText('Required')).toBeTruthy();
    expect(ensureSaved).not.toHaveBeenCalled();

    fireEvent.change(screen.getByTestId('wf-run-input-input'), { target: { value: 'Ada' } });
    fireEvent.click(screen.getByTestId('wf-run'));
    await waitFor(() => expect(screen.getByTestId('wf-run-status').textContent).toBe('running'));
    expect(ensureSaved).toHaveBeenCalled();
    expect(posted).toEqual({ inputs: { input: 'Ada' }, wait: false });
    expect((screen.getByTestId('wf-run') as HTMLButtonElement).disabled).toBe(true);

    await act(async () => {
      stream.send({ type: 'run_started', workflow_id: 'w1', inputs: { input: 'Ada' } });
      stream.send({ type: 'node_started', node_id: 'llm_1', node_type: 'llm', attempt: 1, inputs: {} });
      stream.send({ type: 'text_chunk', node_id: 'llm_1', text: 'Hello, ' });
    });
    const row = () => document.querySelector('[data-node="llm_1"]') as HTMLElement;
    await waitFor(() => expect(row().textContent).toContain('running'));
    await act(async () => stream.send({ type: 'text_chunk', node_id: 'llm_1', text: 'Ada' }));
    await waitFor(() => expect(row().textContent).toContain('Hello, Ada'));

    // Stop is there while it runs.
    fireEvent.click(screen.getByRole('button', { name: 'Stop the run' }));
    await waitFor(() => expect(calls).toContain('POST /api/v1/runs/r1/cancel'));

    finished = true;
    await act(async () => {
      stream.send({ type: 'node_finished', node_id: 'llm_1', node_type: 'llm', status: 'succeeded', outputs: { text: 'Hello, Ada' }, error: null, duration_ms: 1200 });
      stream.send({ type: 'run_finished', status: 'succeeded', outputs: { answer: 'Hello, Ada' }, error: null, duration_ms: 1300 });
      stream.close();
    });
    await waitFor(() => expect(screen.getByTestId('wf-run-status').textContent).toBe('succeeded'));
    const out = screen.getByTestId('wf-run-output');
    expect(within(out).getByText('answer')).toBeTruthy();
    expect(out.textContent).toContain('"answer": "Hello, Ada"');
    expect(row().textContent).toContain('succeeded');
    expect(screen.queryByRole('button', { name: 'Stop the run' })).toBeNull();
    // The history is reloaded with the finished run.
    await waitFor(() => expect(document.querySelector('[data-run-id="r1"]')?.textContent).toContain('succeeded'));
  });
});
