import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { setToken } from '../api/client';
import type { Workflow } from './types';
import WorkflowList, { fileNameFor } from './WorkflowList';

const wf = (id: string, name: string, description = ''): Workflow => ({
  id,
  name,
  description,
  nodes: [],
  edges: [],
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-02T00:00:00Z',
});

type Handler = (method: string, url: string, body: unknown) => Response | undefined;

function mockFetch(handler: Handler) {
  const calls: { method: string; url: string; body: unknown }[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      const method = init.method ?? 'GET';
      const body = init.body ? JSON.parse(init.body as string) : undefined;
      calls.push({ method, url, body });
      return handler(method, url, body) ?? Response.json({ error: { message: `unexpected ${method} ${url}`, type: 'x', code: 'not_found' } }, { status: 404 });
    }),
  );
  setToken('t');
  return calls;
}

describe('<WorkflowList>', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    window.location.hash = '';
  });

  it('lists the workflows and creates one with a start and an output node', async () => {
    const calls = mockFetch((method, url, body) => {
      if (method === 'GET' && url === '/api/v1/workflows') return Response.json([wf('w1', 'Triage', 'Answer, then check'), wf('w2', 'New workflow')]);
      if (method === 'POST' && url === '/api/v1/workflows') return Response.json({ ...wf('w3', (body as Workflow).name), ...(body as object) }, { status: 201 });
      return undefined;
    });
    render(<WorkflowList />);
    expect(await screen.findByText('Triage')).toBeTruthy();
    expect(screen.getByText('Answer, then check')).toBeTruthy();
    expect(screen.getByText('Triage').closest('a')?.getAttribute('href')).toBe('#/workflows/w1');

    fireEvent.click(screen.getByTestId('wf-new'));
    await waitFor(() => expect(window.location.hash).toBe('#/workflows/w3'));
    const created = calls.find((c) => c.method === 'POST')!.body as Workflow;
    expect(created.name).toBe('New workflow 2');
    expect(created.nodes.map((n) => [n.id, n.type])).toEqual([
      ['start', 'start'],
      ['output', 'output'],
    ]);
  });

  it('imports a file, and lists the problems when the server refuses it', async () => {
    const calls = mockFetch((method, url) => {
      if (method === 'GET' && url === '/api/v1/workflows') return Response.json([]);
      if (method === 'POST' && url.startsWith('/api/v1/workflows/import'))
        return Response.json(
          {
            error: {
              type: 'invalid_request_error',
              code: 'invalid_workflow',
              message: 'The workflow has problems',
              param: null,
              problems: [{ node_id: 'a', edge_id: null, message: 'prompt_template is required' }],
            },
          },
          { status: 400 },
        );
      return undefined;
    });
    render(<WorkflowList />);
    await screen.findByText(/No workflow yet/);
    const file = new File([JSON.stringify({ nodes: [{ id: 'a', type: 'llm' }], edges: [] })], 'simple flow.json', { type: 'application/json' });
    fireEvent.change(screen.getByTestId('wf-import-input'), { target: { files: [file] } });
    expect(await screen.findByText(/prompt_template is required/)).toBeTruthy();
    expect(screen.getByRole('alert').textContent).toContain('The workflow has problems');
    const post = calls.find((c) => c.method === 'POST')!;
    expect(post.url).toBe('/api/v1/workflows/import?name=simple%20flow');
    expect(post.body).toEqual({ nodes: [{ id: 'a', type: 'llm' }], edges: [] });
  });

  it('names exported files after the workflow', () => {
    expect(fileNameFor('Triage')).toBe('Triage.json');
    expect(fileNameFor('a/b: c?')).toBe('a b c.json');
    expect(fileNameFor('  ')).toBe('workflow.json');
  });
});
