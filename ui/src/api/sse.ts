// Reads a server-sent event stream from a fetch body (EventSource cannot send the
// Authorization header). The parsing itself (line ends, multi-line data, comments) is
// eventsource-parser's; this file feeds it decoded text and ends the read on abort.
import { createParser } from 'eventsource-parser';

export interface SSEEvent {
  /** The `event:` field, "message" when absent. */
  event: string;
  data: string;
  /** This event's own `id:` field, "" when it has none. */
  id: string;
}

/**
 * Reads an SSE response body, calling `onEvent` for each event. Resolves when the stream
 * ends (an unfinished event at the end is dropped); rejects when reading fails (a dropped
 * connection) or, with an AbortError, when the signal aborts.
 */
export async function readSSE(body: ReadableStream<Uint8Array>, onEvent: (ev: SSEEvent) => void, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = createParser({ onEvent: (m) => onEvent({ event: m.event || 'message', data: m.data, id: m.id ?? '' }) });
  // The parser keeps a chunk's final CR until it sees whether an LF follows. At the end of
  // the stream none will: an LF then completes that line end (and dispatches nothing else).
  let endsInCR = false;
  const feed = (text: string) => {
    if (!text) return;
    endsInCR = text.endsWith('\r');
    parser.feed(text);
  };
  const onAbort = () => {
    reader.cancel().catch(() => {});
  };
  signal?.addEventListener('abort', onAbort);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
      if (done) {
        feed(decoder.decode());
        if (endsInCR) parser.feed('\n');
        return;
      }
      feed(decoder.decode(value, { stream: true }));
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
