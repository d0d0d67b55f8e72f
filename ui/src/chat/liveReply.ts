// The reply a chat view shows while it is being written, as a pure state machine:
//
//   idle ─send→ sending ─started→ streaming ─ended→ settling ─settled→ idle
//                                                              └──────→ error ─dismiss/send→ …
//
// `sending` is a request out with no reply yet; `streaming` has the reply's id (Stop can
// cancel it); `settling` is the stream over while the stored thread is fetched, so the
// finished text stays on screen until the stored message replaces it. `error` is idle with
// a message to show. The reducer does no IO: ChatView's driver makes the requests and
// dispatches what happened. The streamed text itself lives in a `StreamingText` store the
// reply holds, so deltas re-render only the streaming message, never pass through here.
import type { StreamingText } from '../lib/streamingText';

export interface Reply {
  /** The reply shows after the first `base` messages of the thread. */
  base: number;
  /** The question it answers, while that is not in the stored thread yet (a send, an edit). */
  user?: { content: string };
  /** Known from the reply's first event, or in advance when attaching to a running reply. */
  replyId: string | null;
  model: string | null;
  /** Stop was asked for: the driver cancels the reply as soon as its id is known. */
  stopRequested: boolean;
  stream: StreamingText;
  /** Something to say while the reply runs (a Stop that failed); kept once it ends. */
  notice: string | null;
}

export type LiveState =
  | { phase: 'idle' }
  | { phase: 'error'; message: string }
  | { phase: 'sending' | 'streaming' | 'settling'; reply: Reply };

export type LiveEvent =
  /** A request for a reply went out, or a reply found running is being attached to. */
  | { type: 'send'; base: number; user?: { content: string }; model: string | null; stream: StreamingText; replyId?: string }
  /** The reply's first event. */
  | { type: 'started'; replyId: string; model: string | null }
  /**
   * The reply moved on past a tool call: the text so far is stored, so it streams afresh
   * (`stream`), and once the stored thread is fetched it shows up to `base`.
   */
  | { type: 'advanced'; base?: number; stream?: StreamingText }
  | { type: 'stop' }
  /** The stream is over, one way or another; the stored thread is being fetched. */
  | { type: 'ended' }
  /** The stored thread is on screen; `error` is what to say about a failure it does not show. */
  | { type: 'settled'; error: string | null }
  /** The view gave up on the reply (it is going away). */
  | { type: 'aborted' }
  /** Something failed: shown as the error when idle, as the reply's notice while one runs. */
  | { type: 'failed'; message: string }
  | { type: 'dismiss' };

export const IDLE: LiveState = { phase: 'idle' };

/** The reply in flight, if any. */
export function liveOf(state: LiveState): Reply | null {
  return 'reply' in state ? state.reply : null;
}

/** The same phase with the reply changed. */
function patch(state: LiveState, changes: Partial<Reply>): LiveState {
  return 'reply' in state ? { phase: state.phase, reply: { ...state.reply, ...changes } } : state;
}

export function liveReply(state: LiveState, event: LiveEvent): LiveState {
  const reply = liveOf(state);
  switch (event.type) {
    case 'send': {
      if (reply) return state; // one reply at a time
      const { base, user, model, stream, replyId } = event;
      const next: Reply = { base, user, model, stream, replyId: replyId ?? null, stopRequested: false, notice: null };
      return { phase: replyId ? 'streaming' : 'sending', reply: next };
    }
    case 'started':
      if (state.phase !== 'sending' && state.phase !== 'streaming') return state;
      return { phase: 'streaming', reply: { ...state.reply, replyId: event.replyId, model: state.reply.model || event.model } };
    case 'advanced': {
      if (state.phase !== 'streaming') return state;
      const changes: Partial<Reply> = {};
      if (event.stream) changes.stream = event.stream;
      // The question is in the stored thread by now.
      if (event.base !== undefined) Object.assign(changes, { base: event.base, user: undefined });
      return patch(state, changes);
    }
    case 'stop':
      if (state.phase !== 'sending' && state.phase !== 'streaming') return state;
      return state.reply.stopRequested ? state : patch(state, { stopRequested: true });
    case 'ended':
      if (state.phase !== 'sending' && state.phase !== 'streaming') return state;
      return { phase: 'settling', reply: state.reply };
    case 'settled': {
      if (!reply) return state;
      const message = event.error ?? reply.notice;
      return message ? { phase: 'error', message } : IDLE;
    }
    case 'aborted':
      return reply ? IDLE : state;
    case 'failed':
      return reply ? patch(state, { notice: event.message }) : { phase: 'error', message: event.message };
    case 'dismiss':
      if (state.phase === 'error') return IDLE;
      return reply?.notice ? patch(state, { notice: null }) : state;
  }
}
