import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { setToken } from '../api/client';
import type { BranchMessage, Chat } from '../api/types';
import { AppContext } from '../app/context';
import { appStub } from '../test/appStub';
import { fetchStatus } from '../test/fetchStatus';
import { ChatView } from './ChatView';

const chat: Chat = {
  id: 'c1',
  workspace_id: 'w1',
  title: 'A chat',
  model: null,
  pinned: false,
  archived: false,
  activity_at: '2026-01-01T00:00:00Z',
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
};

function msg(id: string, role: 'user' | 'assistant' | 'tool', content: string, extra: Partial<BranchMessage> = {}): BranchMessage {
  return {
    id,
    chat_id: 'c1',
    parent_id: null,
    role,
    content,
    status: 'complete',
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    sibling_index: 0,
    sibling_count: 1,
    ...extra,
  };
}

/** A reply stream the test writes into. */
function controlledStream() {
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => (ctrl = c) });
  const enc = new TextEncoder();
  let id = 0;
  return {
    response: () => new Response(body, { headers: { 'content-type': 'text/event-stream' } }),
    send: (event: string, data: unknown) => ctrl.enqueue(enc.encode(`id: ${++id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`)),
    close: () => ctrl.close(),
  };
}

describe('<ChatView>', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('sends with Enter, streams the reply, Esc stops it, then shows the stored thread', async () => {
    const stream = controlledStream();
    let stored: BranchMessage[] = [];
    const calls: string[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit = {}) => {
        const method = init.method ?? 'GET';
        calls.push(`${method} ${url}`);
        if (method === 'GET' && url === '/api/v1/chats/c1/messages') return Response.json({ chat, messages: stored });
        if (method === 'POST' && url === '/api/v1/chats/c1/messages') {
          expect(new Headers(init.headers).get('Accept')).toBe('text/event-stream');
          expect(JSON.parse(init.body as string)).toMatchObject({ content: 'Hello there' });
          return stream.response();
        }
        if (method === 'POST' && url === '/api/v1/replies/r1/cancel') return new Response(null, { status: 202 });
        return Response.json({ error: { message: `unexpected ${method} ${url}`, type: 'x', code: 'not_found' } }, { status: 404 });
      }),
    );
    setToken('t');
    render(
      <AppContext.Provider value={appStub()}>
        <ChatView chatId="c1" />
      </AppContext.Provider>,
    );
    const box = await screen.findByRole('textbox', { name: 'Message' });
    await waitFor(() => expect(screen.queryByRole('status', { name: 'Loading the chat' })).toBeNull());
    fireEvent.change(box, { target: { value: 'Hello there' } });
    fireEvent.keyDown(box, { key: 'Enter' });

    // The question shows at once, then the reply streams in.
    await screen.findByText('Hello there');
    await screen.findByTestId('streaming-indicator');
    await act(async () => {
      stream.send('message_start', { message_id: 'r1', chat_id: 'c1', parent_id: 'u1', model: 'gemma' });
      stream.send('delta', { text: 'Once ' });
      stream.send('delta', { text: 'upon **a** time' });
    });
    await waitFor(() => expect(screen.getByTestId('streaming-message').textContent).toContain('Once upon a time'));
    expect(screen.getByTestId('streaming-message').querySelector('strong')?.textContent).toBe('a');

    // Esc asks the server to stop this reply.
    fireEvent.keyDown(window, { key: 'Escape' });
    await waitFor(() => expect(calls).toContain('POST /api/v1/replies/r1/cancel'));

    stored = [msg('u1', 'user', 'Hello there'), msg('r1', 'assistant', 'Once upon **a** time', { parent_id: 'u1', status: 'cancelled', model: 'gemma' })];
    await act(async () => {
      stream.send('message_end', { message: stored[1], finish_reason: 'cancelled' });
      stream.close();
    });
    await waitFor(() => expect(screen.queryByTestId('streaming-indicator')).toBeNull());
    expect(screen.getByTestId('stopped-mark')).toBeTruthy();
    expect(document.querySelector('[data-message-id="r1"]')?.textContent).toContain('Once upon a time');
  });

  it('a reply that calls a tool shows the call, waits for approval, and goes on with the result', async () => {
    const stream = controlledStream();
    let stored: BranchMessage[] = [];
    const approvals: unknown[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit = {}) => {
        const method = init.method ?? 'GET';
        if (method === 'GET' && url === '/api/v1/chats/c1/messages') return Response.json({ chat, messages: stored });
        if (method === 'POST' && url === '/api/v1/chats/c1/messages') return stream.response();
        if (method === 'POST' && url === '/api/v1/messages/t1/approval') {
          approvals.push(JSON.parse(init.body as string));
          return new Response(null, { status: 202 });
        }
        return Response.json({ error: { message: `unexpected ${method} ${url}`, type: 'x', code: 'not_found' } }, { status: 404 });
      }),
    );
    setToken('t');
    render(
      <AppContext.Provider value={appStub()}>
        <ChatView chatId="c1" />
      </AppContext.Provider>,
    );
    const box = await screen.findByRole('textbox', { name: 'Message' });
    await waitFor(() => expect(screen.queryByRole('status', { name: 'Loading the chat' })).toBeNull());
    fireEvent.change(box, { target: { value: 'Note it' } });
    fireEvent.keyDown(box, { key: 'Enter' });
    await screen.findByTestId('streaming-indicator');

    const call = { id: 'call_1', name: 'notes__add', arguments: '{"text":"milk"}' };
    const question = msg('u1', 'user', 'Note it');
    const calling = msg('a1', 'assistant', 'Let me note that.', { parent_id: 'u1', tool_calls: [call] });
    await act(async () => {
      stream.send('message_start', { message_id: 'a1', chat_id: 'c1', parent_id: 'u1', model: 'm' });
      stream.send('delta', { text: 'Let me note that.' });
    });
    stored = [question, calling, msg('t1', 'tool', '', { parent_id: 'a1', status: 'pending', tool_call_id: 'call_1' })];
    await act(async () => stream.send('tool_call', { message_id: 't1', call, approval: 'required' }));

    // The call shows with its arguments and the choice; the text so far is the stored message's.
    const card = await screen.findByRole('article', { name: 'Tool call: notes__add' });
    expect(card.textContent).toContain('waits for your approval');
    expect(card.textContent).toContain('{"text":"milk"}');
    expect(document.querySelector('[data-message-id="a1"]')?.textContent).toContain('Called notes__add');
    fireEvent.click(screen.getByRole('button', { name: 'Allow once' }));
    await waitFor(() => expect(approvals).toEqual([{ decision: 'once' }]));

    stored = [
      question,
      calling,
      msg('t1', 'tool', 'noted', { parent_id: 'a1', tool_call_id: 'call_1' }),
      msg('a2', 'assistant', '', { parent_id: 't1', status: 'streaming' }),
    ];
    await act(async () => {
      stream.send('approval', { message_id: 't1', decision: 'once' });
      stream.send('tool_result', { message: stored[2] });
      stream.send('message_start', { message_id: 'a2', chat_id: 'c1', parent_id: 't1', model: 'm' });
      stream.send('delta', { text: 'Done: milk.' });
    });
    await waitFor(() => expect(screen.getByRole('article', { name: 'Tool call: notes__add' }).textContent).toContain('noted'));
    await waitFor(() => expect(screen.getByTestId('streaming-message').textContent).toContain('Done: milk.'));
    expect(screen.getByTestId('streaming-message').textContent).not.toContain('Let me note that.');
    expect(screen.queryByRole('button', { name: 'Allow once' })).toBeNull();

    stored = [...stored.slice(0, 3), msg('a2', 'assistant', 'Done: milk.', { parent_id: 't1' })];
    await act(async () => {
      stream.send('message_end', { message: stored[3], finish_reason: 'stop' });
      stream.close();
    });
    await waitFor(() => expect(screen.queryByTestId('streaming-indicator')).toBeNull());
    expect(document.querySelector('[data-message-id="a2"]')?.textContent).toContain('Done: milk.');
    expect(screen.getAllByRole('article').map((a) => a.getAttribute('data-role'))).toEqual(['user', 'assistant', 'tool', 'assistant']);
  });

  it('shows an HTTP error inline with what to do, and gives the text back', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async (_url: string, init: RequestInit = {}) => {
        if ((init.method ?? 'GET') === 'GET') return Response.json({ chat, messages: [] });
        return Response.json({ error: { message: 'no model named "nope"', type: 'invalid_request_error', param: 'model', code: 'not_found' } }, { status: 404 });
      }),
    );
    render(
      <AppContext.Provider value={appStub()}>
        <ChatView chatId="c1" />
      </AppContext.Provider>,
    );
    const box = (await screen.findByRole('textbox', { name: 'Message' })) as HTMLTextAreaElement;
    await waitFor(() => expect(screen.queryByRole('status', { name: 'Loading the chat' })).toBeNull());
    fireEvent.change(box, { target: { value: 'Hi' } });
    fireEvent.keyDown(box, { key: 'Enter' });
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('no model named "nope"');
    expect(alert.textContent).toContain('Pick another model');
    await waitFor(() => expect(box.value).toBe('Hi'));
  });

  describe('with no model on this device', () => {
    const idle = fetchStatus();
    function stubFetch() {
      const calls: string[] = [];
      vi.stubGlobal(
        'fetch',
        vi.fn(async (url: string, init: RequestInit = {}) => {
          calls.push(`${init.method ?? 'GET'} ${url}`);
          if (url === '/api/v1/models/fetch') return Response.json(idle);
          return Response.json({ error: { message: 'unexpected', type: 'x', code: 'not_found' } }, { status: 404 });
        }),
      );
      return calls;
    }

    it('a new chat offers the default model instead of a message box that cannot work', async () => {
      const calls = stubFetch();
      render(
        <AppContext.Provider value={appStub({ modelsLoaded: true, models: [] })}>
          <ChatView chatId={null} />
        </AppContext.Provider>,
      );
      await screen.findByTestId('model-setup');
      expect(screen.getByRole('heading', { name: 'No local model yet' }).tagName).toBe('H2');
      expect(screen.getByTestId('model-fetch-start').textContent).toBe('Download the default model');
      expect(screen.queryByRole('textbox', { name: 'Message' })).toBeNull();
      expect(screen.queryByText('What can I help with?')).toBeNull();
      await waitFor(() => expect(calls).toEqual(['GET /api/v1/models/fetch']));
    });

    it('with online models only, it offers the download and keeps the message box', async () => {
      stubFetch();
      const models = [{ id: 'openai/gpt-4o-mini', object: 'model', owned_by: 'openai', created: 0 }];
      render(
        <AppContext.Provider value={appStub({ modelsLoaded: true, models })}>
          <ChatView chatId={null} />
        </AppContext.Provider>,
      );
      await screen.findByTestId('model-setup');
      expect(screen.getByRole('textbox', { name: 'Message' }).tagName).toBe('TEXTAREA');
    });

    it('shows nothing of it before the models are known, nor once a local model is there', async () => {
      const calls = stubFetch();
      const { rerender } = render(
        <AppContext.Provider value={appStub({ modelsLoaded: false, models: [] })}>
          <ChatView chatId={null} />
        </AppContext.Provider>,
      );
      expect(screen.getByText('What can I help with?').tagName).toBe('H2');
      expect(screen.queryByTestId('model-setup')).toBeNull();
      rerender(
        <AppContext.Provider value={appStub({ modelsLoaded: true, models: [{ id: 'smollm2-135m-instruct', object: 'model', owned_by: 'hearth', created: 1 }] })}>
          <ChatView chatId={null} />
        </AppContext.Provider>,
      );
      expect(screen.getByText('What can I help with?').tagName).toBe('H2');
      expect(screen.queryByTestId('model-setup')).toBeNull();
      expect(screen.getByRole('textbox', { name: 'Message' }).tagName).toBe('TEXTAREA');
      expect(calls).toEqual([]);
    });
  });
});
