import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import { Icon } from '../components/Icon';

// Reply options last used in this page, kept across chats (not in any storage).
let lastMaxTokens = '';

/** The max tokens chosen under "Reply options" (regenerate and edit use it too). */
export function replyMaxTokens(): number | undefined {
  const n = Number.parseInt(lastMaxTokens, 10);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** The message box: Enter sends, Shift+Enter is a new line; Stop while a reply streams. */
export function Composer({
  onSend,
  onStop,
  streaming,
  disabled,
  restore,
  placeholder = 'Message Hearth…',
}: {
  /** Text to put back into an empty box (a first message that could not be sent). */
  restore?: { text: string } | null;
  /** Resolves false when the message was not sent (its text comes back into the box). */
  onSend: (text: string, maxTokens?: number) => Promise<boolean>;
  onStop: () => void;
  streaming: boolean;
  disabled?: boolean;
  placeholder?: string;
}) {
  const [text, setText] = useState('');
  const [advanced, setAdvanced] = useState(lastMaxTokens !== '');
  const [maxTokens, setMaxTokensState] = useState(lastMaxTokens);
  const setMaxTokens = (v: string) => {
    lastMaxTokens = v;
    setMaxTokensState(v);
  };
  const ref = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 240)}px`;
  }, [text]);

  useEffect(() => {
    if (!streaming) ref.current?.focus();
  }, [streaming]);

  // A new `restore` puts its text back into an empty box. Done while rendering (React's pattern
  // for state that follows a prop) rather than in an effect, so the box never shows empty first.
  const [restored, setRestored] = useState<{ text: string } | null>(null);
  if ((restore ?? null) !== restored) {
    setRestored(restore ?? null);
    if (restore?.text) setText((cur) => cur || restore.text);
  }

  const submit = async () => {
    const t = text.trim();
    if (!t || streaming || disabled) return;
    setText('');
    const n = Number.parseInt(maxTokens, 10);
    const ok = await onSend(t, Number.isFinite(n) && n > 0 ? n : undefined);
    if (!ok) setText((cur) => cur || t);
  };

  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      submit();
    }
  };

  return (
    <div className="composer">
      <div className="composer-box">
        <textarea
          ref={ref}
          aria-label="Message"
          placeholder={placeholder}
          rows={1}
          value={text}
          disabled={disabled}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKey}
        />
        <div className="composer-actions">
          <button
            className={`icon-btn${advanced ? ' active' : ''}`}
            aria-label="Reply options"
            aria-expanded={advanced}
            title="Reply options"
            onClick={() => setAdvanced((a) => !a)}
          >
            <Icon name="gear" size={16} />
          </button>
          {streaming ? (
            <button className="btn stop" aria-label="Stop generating" title="Stop (Esc)" onClick={onStop}>
              <Icon name="stop" size={14} /> Stop
            </button>
          ) : (
            <button className="btn primary send" aria-label="Send message" title="Send (Enter)" disabled={!text.trim() || disabled} onClick={submit}>
              <Icon name="send" size={16} />
            </button>
          )}
        </div>
      </div>
      {advanced && (
        <div className="composer-advanced">
          <label>
            Max tokens for the reply
            <input type="number" min={1} step={1} inputMode="numeric" placeholder="default" value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} />
          </label>
        </div>
      )}
      <p className="composer-hint small muted">Enter to send · Shift+Enter for a new line · Esc stops a reply</p>
    </div>
  );
}
