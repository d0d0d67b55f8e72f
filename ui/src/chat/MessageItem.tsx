import { memo, useState, type KeyboardEvent } from 'react';
import type { BranchMessage } from '../api/types';
import { Icon } from '../components/Icon';
import { copyText } from '../lib/clipboard';
import { BranchSwitcher } from './BranchSwitcher';
import { Markdown } from './Markdown';
import { Sources } from './Sources';

export interface MessageActions {
  onRegenerate(message: BranchMessage): void;
  onEdit(message: BranchMessage, content: string): void;
  onSwitch(message: BranchMessage, direction: -1 | 1): void;
}

function CopyButton({ text }: { text: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      className="icon-btn"
      aria-label={done ? 'Copied' : 'Copy message'}
      title="Copy"
      onClick={async () => {
        if (await copyText(text)) {
          setDone(true);
          setTimeout(() => setDone(false), 1500);
        }
      }}
    >
      <Icon name={done ? 'check' : 'copy'} size={14} />
    </button>
  );
}

function EditBox({ initial, onSave, onCancel }: { initial: string; onSave: (text: string) => void; onCancel: () => void }) {
  const [text, setText] = useState(initial);
  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      if (text.trim()) onSave(text.trim());
    } else if (e.key === 'Escape') {
      e.stopPropagation();
      onCancel();
    }
  };
  return (
    <div className="edit-box">
      {/* eslint-disable-next-line jsx-a11y/no-autofocus -- the box appears because the user just chose Edit, so focus follows their action */}
      <textarea aria-label="Edit message" value={text} autoFocus rows={Math.min(10, Math.max(2, text.split('\n').length))} onChange={(e) => setText(e.target.value)} onKeyDown={onKey} />
      <div className="edit-actions">
        <button className="btn" onClick={onCancel}>
          Cancel
        </button>
        <button className="btn primary" disabled={!text.trim() || text.trim() === initial.trim()} onClick={() => onSave(text.trim())}>
          Save &amp; send
        </button>
      </div>
    </div>
  );
}

export const MessageItem = memo(function MessageItem({
  message: m,
  busy,
  actions,
  focused,
}: {
  message: BranchMessage;
  busy: boolean;
  actions: MessageActions;
  focused?: boolean;
}) {
  const [editing, setEditing] = useState(false);
  const user = m.role === 'user';
  const assistant = m.role === 'assistant';
  return (
    <article
      className={`msg msg-${m.role}${focused ? ' focused' : ''}`}
      data-message-id={m.id}
      data-role={m.role}
      data-status={m.status}
      aria-label={user ? 'Your message' : assistant ? 'Reply' : m.role}
    >
      <div className="msg-inner">
        {assistant && (m.model || m.provider) && (
          <div className="msg-meta">
            <span className="msg-model">{m.model}</span>
            {m.provider && m.provider !== 'local' && <span className="muted"> · {m.provider}</span>}
          </div>
        )}
        {editing ? (
          <EditBox
            initial={m.content}
            onCancel={() => setEditing(false)}
            onSave={(text) => {
              setEditing(false);
              actions.onEdit(m, text);
            }}
          />
        ) : user ? (
          <div className="msg-text">{m.content}</div>
        ) : (
          m.content && <Markdown text={m.content} />
        )}
        {m.status === 'cancelled' && (
          <span className="stopped-mark" data-testid="stopped-mark" title="You stopped this reply; the text so far is kept">
            stopped
          </span>
        )}
        {m.status === 'error' && (
          <div className="msg-error" role="alert">
            <strong>The reply failed:</strong> {m.error || 'no reason given'}.{' '}
            <span>Regenerate to try again, or pick another model in the model picker above.</span>
          </div>
        )}
        {(m.status === 'streaming' || m.status === 'pending') && <span className="muted small">still being written…</span>}
        {m.notice && <p className="notice small">{m.notice}</p>}
        {assistant && m.citations && m.citations.length > 0 && <Sources citations={m.citations} />}
        {!editing && (
          <div className="msg-actions">
            <BranchSwitcher index={m.sibling_index} count={m.sibling_count} disabled={busy} onSwitch={(d) => actions.onSwitch(m, d)} />
            <CopyButton text={m.content} />
            {user && (
              <button className="icon-btn" aria-label="Edit message" title="Edit" disabled={busy} onClick={() => setEditing(true)}>
                <Icon name="edit" size={14} />
              </button>
            )}
            {assistant && (
              <button className="icon-btn" aria-label="Regenerate reply" title="Regenerate" disabled={busy} onClick={() => actions.onRegenerate(m)}>
                <Icon name="refresh" size={14} />
              </button>
            )}
          </div>
        )}
      </div>
    </article>
  );
});
