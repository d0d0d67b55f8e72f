import { useLayoutEffect, useSyncExternalStore } from 'react';
import type { StreamingText } from '../lib/streamingText';
import { Markdown } from './Markdown';

/** The reply being written. Only this component re-renders as text arrives (once per frame). */
export function StreamingMessage({ stream, model, onGrow }: { stream: StreamingText; model?: string | null; onGrow?: () => void }) {
  const text = useSyncExternalStore(stream.subscribe, stream.getSnapshot);
  useLayoutEffect(() => {
    onGrow?.();
  }, [text, onGrow]);
  return (
    <article className="msg msg-assistant streaming" aria-label="Reply being written" aria-busy="true" data-testid="streaming-message">
      <div className="msg-inner">
        {model && (
          <div className="msg-meta">
            <span className="msg-model">{model}</span>
          </div>
        )}
        {text && <Markdown text={text} />}
        <div className="streaming-indicator" role="status" data-testid="streaming-indicator">
          <span className="typing" aria-hidden="true">
            <i />
            <i />
            <i />
          </span>
          <span className="small muted">{text ? 'Writing…' : 'Thinking…'}</span>
        </div>
      </div>
    </article>
  );
}
