// A run as the server reports it while it goes: the fixture the run-state and run-panel
// tests start from.
import type { Run } from './types';

export const runningRun: Run = {
  id: 'r1',
  workflow_id: 'w1',
  workflow_name: 'Greet',
  status: 'running',
  inputs: { input: 'Ada' },
  outputs: {},
  error: null,
  steps: 0,
  prompt_tokens: 0,
  completion_tokens: 0,
  started_at: '2026-01-01T00:00:00Z',
  finished_at: null,
  duration_ms: null,
};
