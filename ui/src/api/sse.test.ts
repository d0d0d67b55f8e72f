import { describe, expect, it, vi } from 'vitest';
import { readSSE, type SSEEvent } from './sse';

const stream = `id: 1\r\nevent: message_start\r\ndata: {"message_id":"m1"}\r\n\r\n: keep-alive\r\n\r\nid: 2\r\nevent: delta\r\ndata: {"text":"Héllo 👋"}\r\n\r\nid: 3\nevent: delta\ndata: {"text":" world"}\n\nid: 4\revent: message_end\rdata: {"finish_reason":"stop"}\r\r`;

const expected: SSEEvent[] = [
  { event: 'message_start', data: '{"message_id":"m1"}', id: '1' },
  { event: 'delta', data: '{"text":"Héllo 👋"}', id: '2' },
  { event: 'delta', data: '{"text":" world"}', id: '3' },
  { event: 'message_end', data: '{"finish_reason":"stop"}', id: '4' },
];

/** A response body made of these byte chunks. */
function body(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(c) {
      for (const chunk of chunks) c.enqueue(chunk);
      c.close();
    },
  });
}

async function read(chunks: Uint8Array[]): Promise<SSEEvent[]> {
  const got: SSEEvent[] = [];
  await readSSE(body(chunks), (e) => got.push(e));
  return got;
}

const enc = new TextEncoder();

describe('readSSE', () => {
  it('reads CRLF, LF and CR line ends, comments and ids', async () => {
    expect(await read([enc.encode(stream)])).toEqual(expected);
  });

  it('gives the same events however the stream is split (every split point, also between CR and LF)', async () => {
    const bytes = enc.encode(stream);
    for (let i = 0; i <= bytes.length; i++) {
      expect(await read([bytes.slice(0, i), bytes.slice(i)])).toEqual(expected);
    }
  });

  it('reads a byte stream whose chunks split UTF-8 characters', async () => {
    const bytes = enc.encode(stream);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += 3) chunks.push(bytes.slice(i, i + 3));
    expect(await read(chunks)).toEqual(expected);
  });

  it('joins data lines, defaults the event type, drops a leading BOM and an unfinished last event', async () => {
    expect(await read([enc.encode('\ufeffdata: a\ndata:b\n\nevent: x\n\ndata: c\n\ndata: half')])).toEqual([
      { event: 'message', data: 'a\nb', id: '' },
      { event: 'message', data: 'c', id: '' },
    ]);
  });

  it('stops with an AbortError when the signal aborts, and removes its abort listener', async () => {
    const ctrl = new AbortController();
    const add = vi.spyOn(ctrl.signal, 'addEventListener');
    const remove = vi.spyOn(ctrl.signal, 'removeEventListener');
    const open = new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(enc.encode('data: one\n\n')) });
    const got: SSEEvent[] = [];
    const done = readSSE(open, (e) => {
      got.push(e);
      ctrl.abort();
    }, ctrl.signal);
    await expect(done).rejects.toMatchObject({ name: 'AbortError' });
    expect(got).toHaveLength(1);
    expect(add).toHaveBeenCalledTimes(1);
    expect(remove).toHaveBeenCalledWith('abort', add.mock.calls[0][1]);
  });
});
