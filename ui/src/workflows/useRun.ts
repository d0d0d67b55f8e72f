// A workflow's runs in the editor: the one on screen (started here, found running when the
// editor opened, or picked from the history), its live events, and the history.
import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import { followRun, problemsOf, wfApi } from './api';
import { applyEvent, noRun, startingRun, viewOfDetail, viewOfRun, type RunView } from './runState';
import type { Problem, Run, RunDetail, RunEvent } from './types';

type Action = { type: 'set'; view: RunView } | { type: 'event'; ev: RunEvent };

function reducer(v: RunView, a: Action): RunView {
  return a.type === 'set' ? a.view : applyEvent(v, a.ev);
}

const HISTORY = 10;

export function useRun(workflowId: string) {
  const [view, dispatch] = useReducer(reducer, noRun);
  const [history, setHistory] = useState<Run[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [problems, setProblems] = useState<Problem[]>([]);
  const ctrl = useRef<AbortController | null>(null);

  const loadHistory = useCallback(async () => {
    try {
      setHistory((await wfApi.runs(workflowId)).slice(0, HISTORY));
    } catch (e) {
      setError(e);
    }
  }, [workflowId]);

  /** Shows `run` and follows its events from the first (the server replays what came before). */
  const follow = useCallback(
    async (run: Run) => {
      ctrl.current?.abort();
      const c = new AbortController();
      ctrl.current = c;
      dispatch({ type: 'set', view: viewOfRun(run) });
      try {
        await followRun(run.id, 0, (ev) => dispatch({ type: 'event', ev }), c.signal);
      } catch (e) {
        if (c.signal.aborted) return;
        setError(e);
        // The stream is gone: show what the server recorded instead.
        try {
          dispatch({ type: 'set', view: viewOfDetail(await wfApi.run(run.id)) });
        } catch {
          /* the error above says enough */
        }
      }
      if (!c.signal.aborted) loadHistory();
    },
    [loadHistory],
  );

  const start = useCallback(
    async (inputs: Record<string, unknown>) => {
      ctrl.current?.abort();
      setError(null);
      setProblems([]);
      dispatch({ type: 'set', view: startingRun });
      let run: Run;
      try {
        run = await wfApi.startRun(workflowId, inputs);
      } catch (e) {
        setError(e);
        setProblems(problemsOf(e));
        dispatch({ type: 'set', view: noRun });
        return;
      }
      setHistory((h) => [run, ...(h ?? []).filter((r) => r.id !== run.id)].slice(0, HISTORY));
      await follow(run);
    },
    [workflowId, follow],
  );

  const stop = useCallback(async () => {
    if (!view.runId) return;
    try {
      await wfApi.cancelRun(view.runId);
    } catch (e) {
      setError(e);
    }
  }, [view.runId]);

  /** A run of the history: a finished one from its record, a running one live. */
  const open = useCallback(
    async (runId: string) => {
      setError(null);
      setProblems([]);
      let d: RunDetail;
      try {
        d = await wfApi.run(runId);
      } catch (e) {
        setError(e);
        return;
      }
      if (d.status === 'running') {
        follow(d);
      } else {
        ctrl.current?.abort();
        dispatch({ type: 'set', view: viewOfDetail(d) });
      }
    },
    [follow],
  );

  // On opening: the history, and a run still going is followed.
  useEffect(() => {
    let gone = false;
    wfApi.runs(workflowId).then(
      (list) => {
        if (gone) return;
        setHistory(list.slice(0, HISTORY));
        if (list[0]?.status === 'running') follow(list[0]);
      },
      (e) => !gone && setError(e),
    );
    return () => {
      gone = true;
      ctrl.current?.abort();
    };
  }, [workflowId, follow]);

  return { view, history, error, setError, problems, start, stop, open };
}

export type Runner = ReturnType<typeof useRun>;
