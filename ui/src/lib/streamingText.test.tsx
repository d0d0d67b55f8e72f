import { act, render, screen } from '@testing-library/react';
import { Profiler } from 'react';
import { describe, expect, it } from 'vitest';
import { StreamingMessage } from '../chat/StreamingMessage';
import { StreamingText } from './streamingText';

/** A scheduler that runs callbacks only when the test says a frame has passed. */
function manualFrames() {
  const queue: (() => void)[] = [];
  return {
    schedule: (cb: () => void) => {
      queue.push(cb);
    },
    frame: () => {
      const q = queue.splice(0);
      q.forEach((cb) => cb());
    },
    get pending() {
      return queue.length;
    },
  };
}

describe('StreamingText', () => {
  it('batches many deltas into one update per frame', () => {
    const frames = manualFrames();
    const s = new StreamingText('', frames.schedule);
    let told = 0;
    s.subscribe(() => told++);
    for (let i = 0; i < 2000; i++) s.append(`t${i} `);
    expect(frames.pending).toBe(1); // one frame requested, not 2000
    expect(s.getSnapshot()).toBe('');
    frames.frame();
    expect(told).toBe(1);
    expect(s.getSnapshot().split(' ').length).toBe(2001);
    s.append('more');
    s.append(' text');
    frames.frame();
    expect(told).toBe(2);
    expect(s.getSnapshot().endsWith('more text')).toBe(true);
  });

  it('flush() applies what is buffered at once (end of reply)', () => {
    const frames = manualFrames();
    const s = new StreamingText('', frames.schedule);
    s.append('a');
    s.append('b');
    expect(s.full).toBe('ab');
    s.flush();
    expect(s.getSnapshot()).toBe('ab');
    frames.frame(); // the already-scheduled frame has nothing left to do
    expect(s.notifications).toBe(1);
  });
});

describe('<StreamingMessage>', () => {
  it('renders a 2,000-token reply in a handful of renders, with the streaming indicator', () => {
    const frames = manualFrames();
    const s = new StreamingText('', frames.schedule);
    let renders = 0;
    render(
      <Profiler id="stream" onRender={() => renders++}>
        <StreamingMessage stream={s} model="gemma" />
      </Profiler>,
    );
    expect(screen.getByTestId('streaming-indicator')).toBeTruthy();
    const before = renders;
    // 2,000 tokens arrive over 10 frames.
    for (let f = 0; f < 10; f++) {
      act(() => {
        for (let i = 0; i < 200; i++) s.append(`w${f * 200 + i} `);
        frames.frame();
      });
    }
    expect(renders - before).toBe(10);
    const text = screen.getByTestId('streaming-message').textContent ?? '';
    expect(text).toContain('w0 ');
    expect(text).toContain('w1999');
  });
});
