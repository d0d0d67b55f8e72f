import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LocalModel } from '../api/types';
import { AppContext } from '../app/context';
import { appStub } from '../test/appStub';
import { fetchStatus } from '../test/fetchStatus';
import Models from './Models';

const idle = fetchStatus();

const smol: LocalModel = {
  id: 'm1',
  name: 'smollm2-135m-instruct',
  architecture: 'llama',
  created_at: '2026-01-01T00:00:00Z',
  is_default: true,
  parameters: 134_515_008,
  path: '/data/models/SmolLM2-135M-Instruct.Q4_1.gguf',
  quantization: 'Q4_1',
  sha256: 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53',
  size: 98_362_432,
  source: 'default',
};

function stubFetch(local: LocalModel[]) {
  const calls: string[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      calls.push(`${init.method ?? 'GET'} ${url}`);
      if (url === '/api/v1/models') return Response.json(local);
      if (url === '/api/v1/models/fetch') return Response.json(idle);
      return Response.json({ error: { message: 'unexpected', type: 'x', code: 'not_found' } }, { status: 404 });
    }),
  );
  return calls;
}

describe('<Models>', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('says what the default model is worth', async () => {
    stubFetch([smol]);
    render(
      <AppContext.Provider value={appStub()}>
        <Models />
      </AppContext.Provider>,
    );
    await screen.findByText('smollm2-135m-instruct');
    expect(screen.getByText(/^GGUF files run by/).textContent).toBe(
      "GGUF files run by Hearth's local engine. They work offline. The default model, SmolLM2 135M Instruct, is small: quick and private, not wise. A bigger GGUF, for better answers, is one import away.",
    );
    expect(screen.queryByTestId('model-setup')).toBeNull();
  });

  it('with no local model, offers the download above the import form, and the import button goes to the form', async () => {
    const calls = stubFetch([]);
    render(
      <AppContext.Provider value={appStub()}>
        <Models />
      </AppContext.Provider>,
    );
    const setup = await screen.findByTestId('model-setup');
    expect(screen.getByText(/^No model yet/).textContent).toBe('No model yet: download the default one, or import a GGUF file below.');
    const importForm = screen.getByRole('heading', { name: 'Import a GGUF model' });
    expect(setup.compareDocumentPosition(importForm) & Node.DOCUMENT_POSITION_FOLLOWING).toBe(Node.DOCUMENT_POSITION_FOLLOWING);
    await waitFor(() => expect(calls).toEqual(['GET /api/v1/models', 'GET /api/v1/models/fetch']));

    fireEvent.click(screen.getByRole('button', { name: 'Import a GGUF from disk' }));
    expect(document.activeElement).toBe(screen.getByRole('textbox', { name: 'File path on this machine' }));
  });
});
