// A server-sent events parser for fetch's ReadableStream (EventSource cannot send the
// Authorization header). It follows the HTML spec's parsing rules: lines end with CRLF, LF or
// CR (a chunk may end between CR and LF), `data:` lines join with "\n", `id:` persists
// across events, lines starting with ":" are comments (keep-alives), and an event is only
// dispatched when it has data.

export interface SSEEvent {
  /** The `event:` field, "message" when absent. */
  event: string;
  data: string;
  /** The last event id seen so far (the spec's "last event ID buffer"). */
  id: string;
}

export class SSEParser {
  private buffer = '';
  private skipLF = false;
  private started = false;
  private eventType = '';
  private data: string[] = [];
  private hasData = false;
  private lastId = '';

  /** The id of the last event dispatched or the last `id:` field read. */
  get lastEventId(): string {
    return this.lastId;
  }

  /** Feeds decoded text; returns the events it completed. */
  feed(chunk: string): SSEEvent[] {
    if (!chunk) return [];
    if (!this.started) {
      this.started = true;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    if (this.skipLF) {
      this.skipLF = false;
      if (chunk[0] === '\n') chunk = chunk.slice(1);
    }
    this.buffer += chunk;
    const out: SSEEvent[] = [];
    let start = 0;
    for (;;) {
      let i = start;
      const len = this.buffer.length;
      while (i < len) {
        const c = this.buffer.charCodeAt(i);
        if (c === 10 || c === 13) break;
        i++;
      }
      if (i >= len) break;
      const line = this.buffer.slice(start, i);
      if (this.buffer.charCodeAt(i) === 13) {
        if (i + 1 < len) {
          start = this.buffer.charCodeAt(i + 1) === 10 ? i + 2 : i + 1;
        } else {
          // The chunk ended on CR: an LF may start the next one.
          this.skipLF = true;
          start = i + 1;
        }
      } else {
        start = i + 1;
      }
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  /** The stream ended: an incomplete event at the end is discarded, as the spec says. */
  end(): SSEEvent[] {
    this.buffer = '';
    this.reset();
    return [];
  }

  private reset() {
    this.eventType = '';
    this.data = [];
    this.hasData = false;
  }

  private line(line: string): SSEEvent | null {
    if (line === '') {
      if (!this.hasData) {
        this.reset();
        return null;
      }
      const ev: SSEEvent = { event: this.eventType || 'message', data: this.data.join('\n'), id: this.lastId };
      this.reset();
      return ev;
    }
    if (line[0] === ':') return null;
    const colon = line.indexOf(':');
    let field: string;
    let value: string;
    if (colon === -1) {
      field = line;
      value = '';
    } else {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value[0] === ' ') value = value.slice(1);
    }
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data.push(value);
        this.hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      default:
        // `retry` and unknown fields: ignored.
        break;
    }
    return null;
  }
}

/**
 * Reads an SSE response body, calling `onEvent` for each event. Resolves when the stream
 * ends; rejects when reading fails (a dropped connection) or the signal aborts.
 */
export async function readSSE(
  body: ReadableStream<Uint8Array>,
  onEvent: (ev: SSEEvent) => void,
  signal?: AbortSignal,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new SSEParser();
  const onAbort = () => {
    reader.cancel().catch(() => {});
  };
  signal?.addEventListener('abort', onAbort);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
      if (done) {
        for (const ev of parser.feed(decoder.decode())) onEvent(ev);
        parser.end();
        return;
      }
      for (const ev of parser.feed(decoder.decode(value, { stream: true }))) onEvent(ev);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    try {
      reader.releaseLock();
    } catch {
      /* already released */
    }
  }
}
