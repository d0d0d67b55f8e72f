import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Workspace } from '../api/types';
import { AppContext } from '../app/context';
import { appStub } from '../test/appStub';
import { Editor } from './Workspaces';

const ws = {
  id: 'w1',
  name: 'Garden',
  handle: 'garden',
  tone: '',
  timezone: 'UTC',
  system_prompt: '',
  knowledge_base: '',
  default_model: null,
  settings: { knowledge: true, extra: 1 },
} as unknown as Workspace;

function stubSave() {
  const sent: Record<string, unknown>[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      if (url === '/api/v1/workspaces/w1' && init.method === 'PATCH') {
        const body = JSON.parse(String(init.body));
        sent.push(body);
        return Response.json({ ...ws, ...body });
      }
      return Response.json({ error: { message: 'unexpected', type: 'x', code: 'not_found' } }, { status: 404 });
    }),
  );
  return sent;
}

function renderEditor(workspace: Workspace) {
  const models = [
    { id: 'smollm2-135m-instruct', object: 'model', created: 0, owned_by: 'hearth' },
    { id: 'openai/text-embedding-3-small', object: 'model', created: 0, owned_by: 'openai' },
  ];
  return render(
    <AppContext.Provider value={appStub({ models: models as never })}>
      <Editor ws={workspace} onSaved={() => {}} />
    </AppContext.Provider>,
  );
}

describe('<Editor> embedding model', () => {
  afterEach(() => vi.unstubAllGlobals());

  it("offers the providers' models and saves the one named, keeping the other settings", async () => {
    const sent = stubSave();
    const { container } = renderEditor(ws);
    const input = screen.getByLabelText(/^Embedding model for documents/) as HTMLInputElement;
    expect(input.value).toBe('');
    const offered = [...container.querySelectorAll('#embedding-models option')].map((o) => (o as HTMLOptionElement).value);
    expect(offered).toEqual(['openai/text-embedding-3-small']);
    fireEvent.change(input, { target: { value: 'openai/text-embedding-3-small' } });
    fireEvent.click(screen.getByRole('button', { name: /save/i }));
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(sent[0].settings).toEqual({ knowledge: true, tools: false, extra: 1, fallback_models: [], embedding_model: 'openai/text-embedding-3-small' });
  });

  it('turns tools on for the workspace', async () => {
    const sent = stubSave();
    renderEditor(ws);
    const box = screen.getByLabelText(/Let replies call tools/) as HTMLInputElement;
    expect(box.checked).toBe(false);
    fireEvent.click(box);
    fireEvent.click(screen.getByRole('button', { name: /save/i }));
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(sent[0].settings).toMatchObject({ tools: true, knowledge: true });
  });

  it('clears it back to the local model when emptied', async () => {
    const sent = stubSave();
    renderEditor({ ...ws, settings: { embedding_model: 'openai/text-embedding-3-small' } } as unknown as Workspace);
    const input = screen.getByLabelText(/^Embedding model for documents/) as HTMLInputElement;
    expect(input.value).toBe('openai/text-embedding-3-small');
    fireEvent.change(input, { target: { value: '  ' } });
    fireEvent.click(screen.getByRole('button', { name: /save/i }));
    await waitFor(() => expect(sent).toHaveLength(1));
    expect((sent[0].settings as Record<string, unknown>).embedding_model).toBeNull();
  });
});
