// Ctrl+K: search every message of every workspace and open the chat at the hit. A native
// modal <dialog> (showModal) keeps focus inside it and gives Escape its meaning of "close".
import { useEffect, useRef, useState, type KeyboardEvent, type SyntheticEvent } from 'react';
import { api, describeError } from '../api/client';
import type { SearchHit } from '../api/types';
import { useApp } from '../app/context';
import { highlightSegments } from '../lib/highlight';
import { navigate } from '../lib/router';

/** A snippet with its matched words marked (the server's ranges are UTF-8 byte offsets). */
export function Snippet({ text, highlights }: { text: string; highlights: number[][] }) {
  return (
    <span className="snippet">
      {highlightSegments(text, highlights).map((s, i) => (s.hit ? <mark key={i}>{s.text}</mark> : <span key={i}>{s.text}</span>))}
    </span>
  );
}

export default function SearchDialog({ onClose }: { onClose: () => void }) {
  const app = useApp();
  const [q, setQ] = useState('');
  const [hits, setHits] = useState<SearchHit[]>([]);
  const [active, setActive] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [searching, setSearching] = useState(false);
  const [opening, setOpening] = useState(false);
  const dialogRef = useRef<HTMLDialogElement>(null);
  const inputRef = useRef<HTMLInputElement>(null);

  // Open as a modal on mount, close on unmount. The browser moves focus back to where it was
  // when the dialog closes; doing it here too covers browsers that do not.
  useEffect(() => {
    const dialog = dialogRef.current;
    const prev = document.activeElement;
    if (dialog && !dialog.open) dialog.showModal();
    inputRef.current?.focus();
    return () => {
      if (dialog?.open) dialog.close();
      if (prev instanceof HTMLElement) prev.focus();
    };
  }, []);

  useEffect(() => {
    const query = q.trim();
    if (!query) return;
    const ctrl = new AbortController();
    const t = setTimeout(async () => {
      setSearching(true);
      try {
        const res = await api.search(query, 20, ctrl.signal);
        setHits(res);
        setActive(0);
        setError(null);
      } catch (e) {
        if ((e as Error)?.name !== 'AbortError') setError(describeError(e));
      } finally {
        if (!ctrl.signal.aborted) setSearching(false);
      }
    }, 180);
    return () => {
      clearTimeout(t);
      ctrl.abort();
    };
  }, [q]);

  const changeQuery = (value: string) => {
    setQ(value);
    // An empty box shows no hits and no error, not those of the last query.
    if (!value.trim()) {
      setHits([]);
      setError(null);
    }
  };

  // Escape on a modal dialog fires `cancel`: the app closes it, by unmounting it.
  const onCancel = (e: SyntheticEvent<HTMLDialogElement>) => {
    e.preventDefault();
    onClose();
  };

  const open = async (hit: SearchHit) => {
    setOpening(true);
    try {
      // Show the branch that holds the message, then open the chat at it.
      await api.branch(hit.chat_id, hit.message_id);
      if (hit.workspace_id !== app.workspace?.id) app.selectWorkspace(hit.workspace_id);
      app.bumpThread();
      navigate({ name: 'chat', chatId: hit.chat_id, messageId: hit.message_id });
      onClose();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setOpening(false);
    }
  };

  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      // The dialog's `cancel` closes it; the chat behind must not take this Escape as "stop".
      e.stopPropagation();
    } else if (e.key === 'ArrowDown') {
      e.preventDefault();
      setActive((a) => Math.min(a + 1, hits.length - 1));
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      setActive((a) => Math.max(a - 1, 0));
    } else if (e.key === 'Enter' && hits[active]) {
      e.preventDefault();
      open(hits[active]);
    }
  };

  return (
    // A click on the dialog itself (not its content) is a click on the backdrop around it.
    // eslint-disable-next-line jsx-a11y/no-noninteractive-element-interactions -- a pointer shortcut for Escape, which the dialog already handles
    <dialog
      ref={dialogRef}
      className="modal search-dialog"
      aria-label="Search messages"
      onCancel={onCancel}
      onMouseDown={(e) => e.target === e.currentTarget && onClose()}
    >
      <div className="search-input-row">
        <input
          ref={inputRef}
          type="search"
          aria-label="Search all messages"
          placeholder="Search all messages…"
          value={q}
          onChange={(e) => changeQuery(e.target.value)}
          onKeyDown={onKey}
          role="combobox"
          aria-expanded={hits.length > 0}
          aria-controls="search-results"
          aria-activedescendant={hits[active] ? `hit-${hits[active].message_id}` : undefined}
        />
        <kbd>Esc</kbd>
      </div>
      {(searching || opening) && <div className="progress indeterminate" role="status" aria-label="Searching" />}
      {error && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
      <ul id="search-results" role="listbox" aria-label="Results" className="search-results">
        {hits.map((h, i) => (
          // eslint-disable-next-line jsx-a11y/click-events-have-key-events -- keyboards pick an option through the combobox (arrows, then Enter), as the listbox pattern has it
          <li
            key={h.message_id}
            id={`hit-${h.message_id}`}
            role="option"
            aria-selected={i === active}
            className={i === active ? 'active' : ''}
            onMouseEnter={() => setActive(i)}
            onClick={() => open(h)}
          >
            <div className="hit-head">
              <span className="hit-chat">{h.chat_title || 'New chat'}</span>
              <span className="muted small">
                {h.role === 'user' ? 'You' : 'Reply'} · {new Date(h.created_at).toLocaleString()}
              </span>
            </div>
            <Snippet text={h.snippet.text} highlights={h.snippet.highlights} />
          </li>
        ))}
      </ul>
      {q.trim() && !searching && !error && hits.length === 0 && <p className="muted search-empty">No message matches “{q.trim()}”.</p>}
      {!q.trim() && <p className="muted search-empty small">Type words to find in every chat of every workspace. ↑↓ to move, Enter to open.</p>}
    </dialog>
  );
}
