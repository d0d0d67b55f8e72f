// A ref that holds the latest value of a prop or callback, for long-lived callbacks (timers,
// stream handlers) that must call what the current render passed rather than what the first
// render did. The ref is written after each commit, never during render, so an interrupted or
// discarded render cannot leave it pointing at props that never reached the screen.
import { useLayoutEffect, useRef } from 'react';

export function useLatest<T>(value: T): { readonly current: T } {
  const ref = useRef(value);
  useLayoutEffect(() => {
    ref.current = value;
  });
  return ref;
}
