// Delete with Undo: the item hides at once and the real delete runs only when the Undo window
// expires. Timers live in the page, so closing the page first deletes nothing.
import { useCallback, useEffect, useRef, useState } from 'react';
import { useLatest } from './useLatest';

export const UNDO_MS = 6000;

export function useDeferredDelete(commit: (id: string) => void | Promise<void>, delay = UNDO_MS) {
  const [hidden, setHidden] = useState<ReadonlySet<string>>(() => new Set());
  const timers = useRef(new Map<string, ReturnType<typeof setTimeout>>());
  const commitRef = useLatest(commit);

  useEffect(() => {
    const t = timers.current;
    return () => {
      // Unmounting (the page going away) cancels, never commits.
      for (const timer of t.values()) clearTimeout(timer);
      t.clear();
    };
  }, []);

  const unhide = useCallback((id: string) => {
    setHidden((prev) => {
      if (!prev.has(id)) return prev;
      const next = new Set(prev);
      next.delete(id);
      return next;
    });
  }, []);

  const remove = useCallback(
    (id: string) => {
      setHidden((prev) => new Set(prev).add(id));
      const old = timers.current.get(id);
      if (old) clearTimeout(old);
      timers.current.set(
        id,
        setTimeout(() => {
          timers.current.delete(id);
          Promise.resolve(commitRef.current(id)).finally(() => unhide(id));
        }, delay),
      );
    },
    [delay, unhide, commitRef],
  );

  const undo = useCallback(
    (id: string) => {
      const t = timers.current.get(id);
      if (t) clearTimeout(t);
      timers.current.delete(id);
      unhide(id);
    },
    [unhide],
  );

  return { hidden, remove, undo };
}
