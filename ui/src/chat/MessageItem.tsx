import { memo, useState, type KeyboardEvent } from 'react';
import { api, describeError } from '../api/client';
import type { Approval, BranchMessage, ToolCall } from '../api/types';
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

/** What a tool call is doing, in words. */
function toolState(m: BranchMessage): string {
  if (m.status === 'pending') return 'waits for your approval';
  if (m.status === 'streaming') return 'running…';
  if (m.status === 'cancelled') return 'stopped';
  return m.error ? `failed: ${m.error}` : 'done';
}

/** The buttons of a call that asks first; the reply goes on once one is pressed. */
function ApprovalButtons({ message, name }: { message: BranchMessage; name: string }) {
  const [sent, setSent] = useState<Approval | null>(null);
  const [error, setError] = useState<string | null>(null);
  const answer = async (decision: Approval) => {
    setSent(decision);
    setError(null);
    try {
      await api.approveToolCall(message.id, decision);
    } catch (e) {
      setSent(null);
      setError(describeError(e));
    }
  };
  return (
    <div className="approval" role="group" aria-label={`Approve ${name}`}>
      <button className="btn primary small" disabled={!!sent} onClick={() => answer('once')}>
        Allow once
      </button>
      <button className="btn small" disabled={!!sent} onClick={() => answer('always')}>
        Always allow {name}
      </button>
      <button className="btn small" disabled={!!sent} onClick={() => answer('deny')}>
        Deny
      </button>
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/** A tool's call and result: the call's name and arguments, then what came back. */
function ToolMessage({ message: m, call }: { message: BranchMessage; call?: ToolCall }) {
  const name = call?.name ?? 'a tool';
  return (
    <article className="msg msg-tool" data-message-id={m.id} data-role="tool" data-status={m.status} aria-label={`Tool call: ${name}`}>
      <div className="msg-inner">
        <details className="tool-card" open={m.status === 'pending'}>
          <summary>
            <Icon name="flow" size={14} /> <code>{name}</code> <span className={m.error ? 'error-text small' : 'muted small'}>{toolState(m)}</span>
          </summary>
          {call && call.arguments.trim() && <pre className="tool-args" aria-label="Arguments">{call.arguments}</pre>}
          {m.content && <pre className="tool-result" aria-label="Result">{m.content}</pre>}
        </details>
        {m.status === 'pending' && <ApprovalButtons message={m} name={name} />}
      </div>
    </article>
  );
}

export const MessageItem = memo(function MessageItem({
  message: m,
  busy,
  actions,
  focused,
  call,
}: {
  message: BranchMessage;
  busy: boolean;
  actions: MessageActions;
  focused?: boolean;
  /** For a `tool` message: the call it answers. */
  call?: ToolCall;
}) {
  const [editing, setEditing] = useState(false);
  if (m.role === 'tool') return <ToolMessage message={m} call={call} />;
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
        {assistant && m.tool_calls && m.tool_calls.length > 0 && (
          <p className="muted small tool-calls">Called {m.tool_calls.map((c) => c.name).join(', ')}</p>
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
