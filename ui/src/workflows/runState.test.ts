import { describe, expect, it } from 'vitest';
import { applyEvent, noRun, textOutputs, viewOfDetail, viewOfRun, type RunView } from './runState';
import { runningRun } from './testData';
import type { Run, RunEvent } from './types';

const run: Run = runningRun;

const events: RunEvent[] = [
  { seq: 1, type: 'run_started', run_id: 'r1', workflow_id: 'w1', inputs: { input: 'Ada' } },
  { seq: 2, type: 'node_started', run_id: 'r1', node_id: 'start', node_type: 'start', attempt: 1, inputs: {} },
  { seq: 3, type: 'node_finished', run_id: 'r1', node_id: 'start', node_type: 'start', status: 'succeeded', outputs: { input: 'Ada' }, error: null, duration_ms: 1 },
  { seq: 4, type: 'node_started', run_id: 'r1', node_id: 'llm_1', node_type: 'llm', attempt: 1, inputs: {} },
  { seq: 5, type: 'text_chunk', run_id: 'r1', node_id: 'llm_1', text: 'Hel' },
  { seq: 6, type: 'text_chunk', run_id: 'r1', node_id: 'llm_1', text: 'lo' },
  { seq: 7, type: 'node_finished', run_id: 'r1', node_id: 'llm_1', node_type: 'llm', status: 'succeeded', outputs: { text: 'Hello', model: 'm' }, error: null, duration_ms: 900 },
  { seq: 8, type: 'node_finished', run_id: 'r1', node_id: 'other', node_type: 'output', status: 'skipped', outputs: {}, error: null, duration_ms: 0 },
  { seq: 9, type: 'run_finished', run_id: 'r1', status: 'succeeded', outputs: { answer: 'Hello', n: 2 }, error: null, duration_ms: 1000 },
];

const statuses = (v: RunView) => Object.fromEntries(Object.entries(v.nodes).map(([id, n]) => [id, n.status]));

describe('applying run events', () => {
  it('follows each node from running to its end, with the streamed text', () => {
    let v = viewOfRun(run);
    v = applyEvent(v, events[0]);
    v = applyEvent(v, events[1]);
    expect(statuses(v)).toEqual({ start: 'running' });
    v = applyEvent(v, events[2]);
    v = applyEvent(v, events[3]);
    v = applyEvent(v, events[4]);
    v = applyEvent(v, events[5]);
    expect(statuses(v)).toEqual({ start: 'succeeded', llm_1: 'running' });
    expect(v.nodes.llm_1.text).toBe('Hello');
    for (const ev of events.slice(6)) v = applyEvent(v, ev);
    expect(statuses(v)).toEqual({ start: 'succeeded', llm_1: 'succeeded', other: 'skipped' });
    expect(v.order).toEqual(['start', 'llm_1', 'other']);
    expect(v).toMatchObject({ status: 'succeeded', outputs: { answer: 'Hello', n: 2 }, duration_ms: 1000, lastSeq: 9 });
    expect(textOutputs(v.outputs)).toEqual([['answer', 'Hello']]);
  });

  it('ignores events already seen (a resumed stream that repeats some) and other runs', () => {
    let once = viewOfRun(run);
    for (const ev of events.slice(0, 6)) once = applyEvent(once, ev);
    // The connection dropped after seq 6; the resumed stream starts again at 4.
    let twice = once;
    for (const ev of events.slice(3, 6)) twice = applyEvent(twice, ev);
    expect(twice).toBe(once);
    expect(twice.nodes.llm_1.text).toBe('Hello');
    expect(applyEvent(once, { ...events[6], run_id: 'r2', seq: 100 })).toBe(once);
  });

  it('a retried node starts its text over', () => {
    let v = viewOfRun(run);
    v = applyEvent(v, events[3]);
    v = applyEvent(v, events[4]);
    v = applyEvent(v, { seq: 10, type: 'node_started', run_id: 'r1', node_id: 'llm_1', node_type: 'llm', attempt: 2, inputs: {} });
    expect(v.nodes.llm_1).toMatchObject({ status: 'running', attempt: 2, text: '' });
  });

  it('a stored run shows its node records', () => {
    const v = viewOfDetail({
      ...run,
      status: 'failed',
      error: 'llm_1 failed',
      nodes: [
        { node_id: 'start', node_type: 'start', status: 'succeeded', attempts: 1, inputs: {}, outputs: { input: 'Ada' }, error: null, started_at: null, finished_at: null, duration_ms: 1, prompt_tokens: 0, completion_tokens: 0 },
        { node_id: 'llm_1', node_type: 'llm', status: 'failed', attempts: 2, inputs: {}, outputs: {}, error: 'timeout', started_at: null, finished_at: null, duration_ms: 5, prompt_tokens: 0, completion_tokens: 0 },
      ],
    });
    expect(statuses(v)).toEqual({ start: 'succeeded', llm_1: 'failed' });
    expect(v.nodes.llm_1).toMatchObject({ attempt: 2, error: 'timeout' });
    expect(v.status).toBe('failed');
    expect(noRun.nodes).toEqual({}); // the shared empty view is never written to
  });
});
