import { render } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { Snippet } from '../components/SearchDialog';
import { highlightSegments } from './highlight';

describe('search highlights (UTF-8 byte ranges)', () => {
  it('splits ASCII text', () => {
    expect(highlightSegments('Hello there, hello', [[0, 5], [13, 18]])).toEqual([
      { text: 'Hello', hit: true },
      { text: ' there, ', hit: false },
      { text: 'hello', hit: true },
    ]);
  });

  it('maps byte offsets past multi-byte characters', () => {
    // "café " is 6 bytes (é = 2), "👋 " is 5 bytes (emoji = 4, two UTF-16 units).
    const text = 'café 👋 crème brûlée';
    const enc = new TextEncoder();
    const start = enc.encode('café 👋 ').length;
    const end = start + enc.encode('crème').length;
    expect(highlightSegments(text, [[start, end]])).toEqual([
      { text: 'café 👋 ', hit: false },
      { text: 'crème', hit: true },
      { text: ' brûlée', hit: false },
    ]);
  });

  it('merges overlapping and touching ranges, sorts them, and ignores broken ones', () => {
    expect(highlightSegments('abcdef', [[3, 5], [0, 2], [1, 3], [4, 4], [9, 12]])).toEqual([
      { text: 'abcde', hit: true },
      { text: 'f', hit: false },
    ]);
  });

  it('renders highlights as <mark> and the rest as text', () => {
    const { container } = render(<Snippet text="tell me a <b>story</b>" highlights={[[10, 22]]} />);
    const marks = container.querySelectorAll('mark');
    expect(marks).toHaveLength(1);
    expect(marks[0].textContent).toBe('<b>story</b>');
    expect(container.querySelector('b')).toBeNull(); // snippet text is never HTML
  });
});
