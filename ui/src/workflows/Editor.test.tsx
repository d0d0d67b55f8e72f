import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { setToken } from '../api/client';
import { AppContext } from '../app/context';
import { appStub } from '../test/appStub';
import EditorScreen from './Editor';
import { newWorkflowGraph } from './graph';
import type { Graph, Workflow } from './types';

const workflow: Workflow = { id: 'w1', name: 'Greet', description: '', ...newWorkflowGraph(), created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z' };

describe('<Editor>', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('adds a node from the palette, edits it, shows validation problems on it, saves', async () => {
    const validated: Graph[] = [];
    let patched: Record<string, unknown> | null = null;
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit = {}) => {
        const method = init.method ?? 'GET';
        const body = init.body ? JSON.parse(init.body as string) : undefined;
        if (method === 'GET' && url === '/api/v1/workflows/w1') return Response.json(workflow);
        if (method === 'GET' && url === '/api/v1/workflows/w1/runs') return Response.json([]);
        if (method === 'POST' && url === '/api/v1/workflows/validate') {
          validated.push(body);
          const llm = (body as Graph).nodes.find((n) => n.type === 'llm');
          return Response.json(
            llm && !llm.config.prompt_template
              ? { valid: false, problems: [{ node_id: llm.id, edge_id: null, message: 'prompt_template is required' }] }
              : { valid: true, problems: [] },
          );
        }
        if (method === 'PATCH' && url === '/api/v1/workflows/w1') {
          patched = body;
          return Response.json({ ...workflow, ...body });
        }
        return Response.json({ error: { message: `unexpected ${method} ${url}`, type: 'x', code: 'not_found' } }, { status: 404 });
      }),
    );
    setToken('t');
    render(
      <AppContext.Provider value={appStub({ models: [{ id: 'tiny', object: 'model', created: 0, owned_by: 'hearth' }] })}>
        <EditorScreen id="w1" />
      </AppContext.Provider>,
    );
    expect(((await screen.findByTestId('wf-name')) as HTMLInputElement).value).toBe('Greet');
    expect((await screen.findByTestId('wf-node-start')).getAttribute('data-status')).toBe('idle');
    expect(screen.getByTestId('wf-node-output')).toBeTruthy();

    // Click to add: a new node, selected, its settings open.
    fireEvent.click(screen.getByTestId('palette-llm'));
    const node = await screen.findByTestId('wf-node-llm_1');
    const panel = await screen.findByTestId('wf-panel');
    expect(within(panel).getByText('llm_1')).toBeTruthy();
    expect(screen.getByText('● Unsaved changes')).toBeTruthy();

    // Validation names the node: outlined, with the message on it and in the list.
    await waitFor(() => expect(node.className).toContain('has-problem'), { timeout: 3000 });
    expect(node.getAttribute('title')).toBe('prompt_template is required');
    expect(within(screen.getByTestId('wf-problems')).getByText('prompt_template is required')).toBeTruthy();

    fireEvent.change(within(panel).getByLabelText('Prompt template'), { target: { value: 'Say hello to {{#start.input#}}' } });
    fireEvent.change(within(panel).getByLabelText('Max tokens'), { target: { value: '16' } });
    await waitFor(() => expect(node.className).not.toContain('has-problem'), { timeout: 3000 });
    expect(validated.at(-1)!.nodes.find((n) => n.id === 'llm_1')!.config).toEqual({ prompt_template: 'Say hello to {{#start.input#}}', max_tokens: 16 });

    // Ctrl+S saves the whole definition.
    fireEvent.keyDown(window, { key: 's', ctrlKey: true });
    await waitFor(() => expect(screen.getByText('Saved')).toBeTruthy());
    const saved = patched as unknown as Workflow;
    expect(saved.name).toBe('Greet');
    expect(saved.nodes.map((n) => n.id)).toEqual(['start', 'output', 'llm_1']);
    // The new step went between start and output (which moved right to make room).
    const x = Object.fromEntries(saved.nodes.map((n) => [n.id, n.position.x]));
    expect(x.start < x.llm_1 && x.llm_1 < x.output).toBe(true);
  });
});
