// Background work in the header: while jobs (document ingestion) are queued or running, a
// line saying how many and what the first is doing; nothing otherwise. Polls the jobs list,
// faster while something runs.
import { useEffect, useState } from 'react';
import { api } from '../api/client';
import type { Job } from '../api/types';

const IDLE_MS = 5000;
const BUSY_MS = 1000;

export function JobsIndicator() {
  const [live, setLive] = useState<Job[]>([]);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let gone = false;
    const poll = async () => {
      let next = IDLE_MS;
      try {
        const jobs = (await api.jobs(0)).filter((j) => j.status === 'queued' || j.status === 'running');
        if (!gone) setLive(jobs);
        if (jobs.length > 0) next = BUSY_MS;
      } catch {
        // The server is away or older: say nothing, try again later.
      }
      if (!gone) timer = setTimeout(poll, next);
    };
    void poll();
    return () => {
      gone = true;
      clearTimeout(timer);
    };
  }, []);
  if (live.length === 0) return null;
  const first = live.find((j) => j.status === 'running') ?? live[0];
  const detail = first.total ? `${first.done}/${first.total}` : first.message;
  return (
    <span className="jobs-indicator" role="status" data-testid="jobs-indicator" title={live.map((j) => `${j.kind}: ${j.message || j.status}`).join('\n')}>
      <span className="spinner" aria-hidden="true" />
      {live.length === 1 ? 'Adding documents' : `${live.length} jobs`}
      {detail ? ` · ${detail}` : ''}
    </span>
  );
}
