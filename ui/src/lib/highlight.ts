// Search snippets come with highlight ranges in UTF-8 *bytes*; JavaScript strings index UTF-16
// code units. This splits a snippet into plain and highlighted pieces.

export interface Segment {
  text: string;
  hit: boolean;
}

const encoder = new TextEncoder();

/** Maps byte offsets of `text`'s UTF-8 encoding to string indices (an offset inside a character snaps forward). */
function byteToIndex(text: string): (byte: number) => number {
  const starts: number[] = []; // byte offset at which each code unit index starts
  let byte = 0;
  for (let i = 0; i < text.length; i++) {
    starts.push(byte);
    const cp = text.codePointAt(i)!;
    if (cp > 0xffff) {
      starts.push(byte); // the low surrogate shares the character's start
      byte += 4;
      i++;
    } else {
      byte += cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
    }
  }
  const total = byte;
  return (b: number) => {
    if (b <= 0) return 0;
    if (b >= total) return text.length;
    // the first index whose start is >= b
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid] < b) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

export function highlightSegments(text: string, ranges: ReadonlyArray<ReadonlyArray<number>>): Segment[] {
  const toIndex = byteToIndex(text);
  const spans = ranges
    .filter((r) => r.length >= 2 && Number.isFinite(r[0]) && Number.isFinite(r[1]) && r[1] > r[0])
    .map((r) => [toIndex(r[0]), toIndex(r[1])] as [number, number])
    .filter(([s, e]) => e > s)
    .sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [s, e] of spans) {
    const last = merged[merged.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  const out: Segment[] = [];
  let pos = 0;
  for (const [s, e] of merged) {
    if (s > pos) out.push({ text: text.slice(pos, s), hit: false });
    out.push({ text: text.slice(s, e), hit: true });
    pos = e;
  }
  if (pos < text.length) out.push({ text: text.slice(pos), hit: false });
  return out;
}

export const utf8Length = (s: string) => encoder.encode(s).length;
