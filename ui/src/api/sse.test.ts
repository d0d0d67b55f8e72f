import { describe, expect, it } from 'vitest';
import { readSSE, SSEParser, type SSEEvent } from './sse';

const stream = `id: 1\r\nevent: message_start\r\ndata: {"message_id":"m1"}\r\n\r\n: keep-alive\r\n\r\nid: 2\r\nevent: delta\r\ndata: {"text":"Héllo 👋"}\r\n\r\nid: 3\nevent: delta\ndata: {"text":" world"}\n\nid: 4\revent: message_end\rdata: {"finish_reason":"stop"}\r\r`;

const expected: SSEEvent[] = [
  { event: 'message_start', data: '{"message_id":"m1"}', id: '1' },
  { event: 'delta', data: '{"text":"Héllo 👋"}', id: '2' },
  { event: 'delta', data: '{"text":" world"}', id: '3' },
  { event: 'message_end', data: '{"finish_reason":"stop"}', id: '4' },
];

function parseIn(chunks: string[]): SSEEvent[] {
  const p = new SSEParser();
  const out: SSEEvent[] = [];
  for (const c of chunks) out.push(...p.feed(c));
  return out;
}

describe('SSEParser', () => {
  it('parses a whole stream with CRLF, LF and CR line ends, comments and ids', () => {
    expect(parseIn([stream])).toEqual(expected);
  });

  it('gives the same events however the stream is split (every split point, also between CR and LF)', () => {
    for (let i = 0; i <= stream.length; i++) {
      expect(parseIn([stream.slice(0, i), stream.slice(i)])).toEqual(expected);
    }
  });

  it('gives the same events one character at a time', () => {
    expect(parseIn([...stream])).toEqual(expected);
  });

  it('joins data lines, defaults the event type, keeps the last id, ignores events without data', () => {
    const p = new SSEParser();
    const evs = p.feed('data: a\ndata:b\ndata\n\nid: 7\n\nevent: x\n\ndata: c\n\n');
    expect(evs).toEqual([
      { event: 'message', data: 'a\nb\n', id: '' },
      { event: 'message', data: 'c', id: '7' },
    ]);
    expect(p.lastEventId).toBe('7');
  });

  it('strips a leading BOM and drops an unfinished event at the end', () => {
    const p = new SSEParser();
    expect(p.feed('\ufeffdata: x\n\ndata: half')).toEqual([{ event: 'message', data: 'x', id: '' }]);
    expect(p.end()).toEqual([]);
  });

  it('reads a byte stream whose chunks split UTF-8 characters', async () => {
    const bytes = new TextEncoder().encode(stream);
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 3) c.enqueue(bytes.slice(i, i + 3));
        c.close();
      },
    });
    const got: SSEEvent[] = [];
    await readSSE(body, (e) => got.push(e));
    expect(got).toEqual(expected);
  });
});
