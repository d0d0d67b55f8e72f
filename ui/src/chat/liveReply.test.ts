import { describe, expect, it } from 'vitest';
import { StreamingText } from '../lib/streamingText';
import { IDLE, liveOf, liveReply, type LiveEvent, type LiveState } from './liveReply';

const stream = new StreamingText('', () => {});
const send: LiveEvent = { type: 'send', base: 2, user: { content: 'Hi' }, model: null, stream };

/** Runs the events from `from` and checks the phase after each. */
function check(from: LiveState, steps: [LiveEvent, LiveState['phase']][]): LiveState {
  let state = from;
  for (const [event, phase] of steps) {
    state = liveReply(state, event);
    expect([event.type, state.phase]).toEqual([event.type, phase]);
  }
  return state;
}

describe('the live reply', () => {
  it('goes idle → sending → streaming → settling → idle', () => {
    const end = check(IDLE, [
      [send, 'sending'],
      [{ type: 'started', replyId: 'r1', model: 'gemma' }, 'streaming'],
      [{ type: 'ended' }, 'settling'],
      [{ type: 'settled', error: null }, 'idle'],
    ]);
    expect(end).toBe(IDLE);
  });

  it('keeps what it learns: the reply id, and the model unless one was known', () => {
    let s = check(IDLE, [[send, 'sending'], [{ type: 'started', replyId: 'r1', model: 'gemma' }, 'streaming']]);
    expect(liveOf(s)).toMatchObject({ replyId: 'r1', model: 'gemma', base: 2, user: { content: 'Hi' } });
    s = check(IDLE, [[{ ...send, model: 'chosen' } as LiveEvent, 'sending'], [{ type: 'started', replyId: 'r1', model: 'gemma' }, 'streaming']]);
    expect(liveOf(s)?.model).toBe('chosen');
  });

  it('attaches to a running reply straight into streaming', () => {
    const s = check(IDLE, [[{ type: 'send', base: 0, model: 'm', stream, replyId: 'r9' }, 'streaming']]);
    expect(liveOf(s)?.replyId).toBe('r9');
  });

  it('takes one reply at a time', () => {
    const sending = liveReply(IDLE, send);
    expect(liveReply(sending, { ...send, base: 7 } as LiveEvent)).toBe(sending);
    const settling = check(sending, [[{ type: 'ended' }, 'settling']]);
    expect(liveReply(settling, send)).toBe(settling);
  });

  it('remembers a stop asked for before the reply has an id', () => {
    const s = check(IDLE, [
      [send, 'sending'],
      [{ type: 'stop' }, 'sending'],
      [{ type: 'started', replyId: 'r1', model: null }, 'streaming'],
    ]);
    expect(liveOf(s)).toMatchObject({ stopRequested: true, replyId: 'r1' });
  });

  it('ends in error when the settled reply failed in a way the thread does not show', () => {
    const s = check(IDLE, [
      [send, 'sending'],
      [{ type: 'ended' }, 'settling'],
      [{ type: 'settled', error: 'The connection dropped' }, 'error'],
    ]);
    expect(s).toEqual({ phase: 'error', message: 'The connection dropped' });
    check(s, [[{ type: 'dismiss' }, 'idle']]);
  });

  it('keeps a notice from while it ran (a failed Stop) as the error after', () => {
    const s = check(IDLE, [
      [send, 'sending'],
      [{ type: 'failed', message: 'Could not stop the reply' }, 'sending'],
      [{ type: 'ended' }, 'settling'],
      [{ type: 'settled', error: null }, 'error'],
    ]);
    expect(s).toEqual({ phase: 'error', message: 'Could not stop the reply' });
  });

  it('clears an error when a new reply starts, and goes idle when the view gives up', () => {
    const failed = check(IDLE, [[{ type: 'failed', message: 'Could not create the chat' }, 'error']]);
    check(failed, [
      [send, 'sending'],
      [{ type: 'aborted' }, 'idle'],
    ]);
  });

  it('ignores events that do not fit the phase', () => {
    for (const event of [{ type: 'started', replyId: 'r', model: null }, { type: 'stop' }, { type: 'ended' }, { type: 'settled', error: 'x' }, { type: 'aborted' }, { type: 'dismiss' }] as LiveEvent[]) {
      expect(liveReply(IDLE, event)).toBe(IDLE);
    }
    const settling = check(IDLE, [[send, 'sending'], [{ type: 'ended' }, 'settling']]);
    expect(liveReply(settling, { type: 'started', replyId: 'r', model: null })).toBe(settling);
    expect(liveReply(settling, { type: 'stop' })).toBe(settling);
  });
});
