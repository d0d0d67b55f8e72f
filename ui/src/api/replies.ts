// Streams a reply: the response of a send / regenerate / edit-reply request *is* the reply's
// SSE stream (`Accept: text/event-stream`). When the connection drops before the last event,
// it resumes from GET /api/v1/replies/{id}/events with `Last-Event-ID`.
import { ApiError, request } from './client';
import { followResumable, GaveUp } from './resumable';
import type { SSEEvent } from './sse';
import type { ErrorObject, ReplyEnd, ReplyStart, Sent, ToolCall } from './types';

/** A tool call of a reply: its `tool` message, and whether it waits for the person. */
export interface ToolCallEvent {
  message_id: string;
  call: ToolCall;
  approval: 'required' | 'not_needed';
}

export interface ReplyHandlers {
  /** The reply's first message started; again for each message after a round of tool calls. */
  onStart?(start: ReplyStart): void;
  /** A tool call, its approval, or its result: each is stored by the time it arrives. */
  onToolStep?(step: { kind: 'tool_call'; call: ToolCallEvent } | { kind: 'approval' | 'tool_result' }): void;
  onDelta(text: string): void;
  onEnd(end: ReplyEnd): void;
  /** The reply failed: an `error` event, or the stream could not be resumed. */
  onError(err: Partial<ErrorObject> & { message: string }): void;
}

export interface ReplyOptions {
  signal?: AbortSignal;
  /** Resume attempts in a row without progress before giving up. */
  maxResumes?: number;
  /** The first wait before resuming (doubles each attempt). */
  backoffMs?: number;
  /** A reply id known in advance (resuming a reply found streaming). */
  replyId?: string;
  /** The last event id already seen (resuming). */
  lastEventId?: number;
}

/** POST a JSON body asking for the reply's event stream. Throws ApiError on an HTTP error. */
export async function postForStream(path: string, body: unknown, signal?: AbortSignal, extraHeaders?: Record<string, string>): Promise<Response> {
  return request('POST', path, { body, signal, headers: { Accept: 'text/event-stream', ...extraHeaders } });
}

export function openReplyEvents(replyId: string, lastEventId: number, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'text/event-stream' };
  if (lastEventId > 0) headers['Last-Event-ID'] = String(lastEventId);
  return request('GET', `/api/v1/replies/${encodeURIComponent(replyId)}/events`, { headers, signal });
}

/**
 * Runs a reply to its end. `start` makes the request whose body is the stream (or, for a
 * server that answered JSON, the `Sent` whose `events` URL is followed). Errors before any
 * stream (HTTP errors of `start`) are thrown as ApiError; errors after are reported through
 * `onError`. Resolves when the reply has ended one way or the other.
 */
export async function runReply(start: (signal?: AbortSignal) => Promise<Response>, h: ReplyHandlers, opts: ReplyOptions = {}): Promise<void> {
  const { signal, maxResumes = 5, backoffMs = 400 } = opts;
  let replyId: string | null = opts.replyId ?? null;
  const lastEventId = opts.lastEventId ? String(opts.lastEventId) : '';
  let finished = false;

  const onEvent = (ev: SSEEvent) => {
    let data: unknown;
    try {
      data = JSON.parse(ev.data);
    } catch {
      return;
    }
    switch (ev.event) {
      case 'message_start': {
        const s = data as ReplyStart;
        // The first message's id names the reply's event log (later ones are known by it too).
        replyId = replyId ?? s.message_id;
        h.onStart?.(s);
        break;
      }
      case 'delta':
        h.onDelta((data as { text?: string }).text ?? '');
        break;
      case 'message_end':
        finished = true;
        h.onEnd(data as ReplyEnd);
        break;
      case 'error': {
        finished = true;
        const e = (data as { error?: Partial<ErrorObject> }).error ?? {};
        h.onError({ ...e, message: e.message || 'The reply failed.' });
        break;
      }
      case 'tool_call':
        h.onToolStep?.({ kind: 'tool_call', call: data as ToolCallEvent });
        break;
      case 'approval':
      case 'tool_result':
        h.onToolStep?.({ kind: ev.event });
        break;
      default:
        break; // citations: the stored message carries them
    }
  };

  let res = await start(signal);
  const type = res.headers.get('content-type') || '';
  if (!type.includes('text/event-stream')) {
    // A server that answered 202 with JSON: follow its events URL.
    const sent = (await res.json().catch(() => null)) as Sent | null;
    replyId = sent?.reply?.id ?? replyId;
    if (!replyId) {
      h.onError({ message: 'Hearth stored the message but started no reply.' });
      return;
    }
    res = await openReplyEvents(replyId, Number(lastEventId) || 0, signal);
  }

  try {
    await followResumable({
      first: res,
      lastEventId,
      connect: (after, s) => openReplyEvents(replyId!, Number(after) || 0, s),
      onEvent,
      finished: () => finished,
      // A refused resume (the reply is gone, the token refused) will not get better.
      fatal: (e) => e instanceof ApiError && e.status !== 0 && e.status < 500,
      canResume: () => replyId !== null,
      signal,
      maxRetries: maxResumes,
      backoffMs,
    });
  } catch (e) {
    if (e instanceof GaveUp) h.onError({ message: 'The connection to Hearth dropped before the reply finished', code: 'unreachable' });
    else if (e instanceof ApiError) h.onError({ message: e.message, code: e.code, type: e.type });
    else throw e;
  }
}
