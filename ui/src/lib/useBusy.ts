// Runs an action and shows a progress bar only when it takes longer than ~300 ms.
import { useCallback, useRef, useState } from 'react';

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export function useBusy(threshold = 300) {
  const [label, setLabel] = useState<string | null>(null);
  const [running, setRunning] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const counter = useRef(0);

  const run = useCallback(
    async <T,>(what: string, fn: () => Promise<T>): Promise<Outcome<T>> => {
      const n = ++counter.current;
      setError(null);
      setRunning((r) => r + 1);
      const timer = setTimeout(() => {
        if (counter.current === n) setLabel(what);
      }, threshold);
      try {
        return { ok: true, value: await fn() };
      } catch (e) {
        setError(e);
        return { ok: false, error: e };
      } finally {
        clearTimeout(timer);
        setRunning((r) => r - 1);
        if (counter.current === n) setLabel(null);
      }
    },
    [threshold],
  );

  return { label, busy: running > 0, error, setError, run };
}
