// One chat: its stored thread (the current branch), the reply being written, and the message
// box. The live reply is the `liveReply` state machine; this file is its driver: it makes the
// requests, feeds the stream's events to the machine, and cancels or aborts what it started.
import { memo, useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import { api, describeError } from '../api/client';
import { openReplyEvents, postForStream, runReply } from '../api/replies';
import type { AnswerIn, BranchMessage, Chat, ReplyEnd, SendIn, ToolCall } from '../api/types';
import { localModels, useApp } from '../app/context';
import { ModelSetup } from '../components/ModelSetup';
import { navigate } from '../lib/router';
import { StreamingText } from '../lib/streamingText';
import { useLatest } from '../lib/useLatest';
import { switchBranch, newId, titleFrom } from './actions';
import { Composer, replyMaxTokens } from './Composer';
import { IDLE, liveOf, liveReply } from './liveReply';
import { MessageItem, type MessageActions } from './MessageItem';
import { StreamingMessage } from './StreamingMessage';

/** Where a reply shows and what it answers: the `send` event without its stream. */
interface ReplyPlace {
  base: number;
  user?: { content: string };
  model: string | null;
  replyId?: string;
}

/** The body of POST /api/v1/messages/{id}/reply (regenerate, or answer an edit). */
function answerBody(model: string | null): AnswerIn {
  const body: AnswerIn = {};
  if (model) body.model = model;
  const max = replyMaxTokens();
  if (max) body.max_tokens = max;
  return body;
}

/** Every tool call on the branch, by id: a `tool` message shows the call it answers. */
function callsOf(messages: BranchMessage[]): Map<string, ToolCall> {
  const calls = new Map<string, ToolCall>();
  for (const m of messages) for (const c of m.tool_calls ?? []) calls.set(c.id, c);
  return calls;
}

const MessageList = memo(function MessageList({
  messages,
  busy,
  actions,
  focusId,
}: {
  messages: BranchMessage[];
  busy: boolean;
  actions: MessageActions;
  focusId?: string;
}) {
  const calls = useMemo(() => callsOf(messages), [messages]);
  return (
    <>
      {messages.map((m) => (
        <MessageItem
          key={m.id}
          message={m}
          busy={busy}
          actions={actions}
          focused={m.id === focusId}
          call={m.tool_call_id ? calls.get(m.tool_call_id) : undefined}
        />
      ))}
    </>
  );
});

export function ChatView({ chatId, focusMessageId }: { chatId: string | null; focusMessageId?: string }) {
  const app = useApp();
  const [thread, setThread] = useState<BranchMessage[]>([]);
  const [loading, setLoading] = useState(!!chatId);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [state, dispatch] = useReducer(liveReply, IDLE);
  const [switching, setSwitching] = useState(false);
  const [restore, setRestore] = useState<{ text: string } | null>(null);
  /** The reply this view is running, from its request to its settled thread: one at a time. */
  const running = useRef<AbortController | null>(null);
  const scrollRef = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const chatRef = useRef<Chat | null>(null);
  const appRef = useLatest(app);
  const live = liveOf(state);

  const setChat = useCallback(
    (chat: Chat) => {
      chatRef.current = chat;
      appRef.current.setCurrentChat(chat);
      appRef.current.upsertChat(chat);
    },
    [appRef],
  );

  const scrollToEnd = useCallback(() => {
    const el = scrollRef.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, []);

  const reload = useCallback(async () => {
    if (!chatId) return null;
    const t = await api.thread(chatId);
    setThread(t.messages);
    setChat(t.chat);
    return t;
  }, [chatId, setChat]);

  /**
   * Runs a reply stream to its end, showing it live, then shows the stored thread. Resolves
   * false when the request itself failed (nothing was stored, the text can go back in the box).
   */
  const runLive = useCallback(
    async (place: ReplyPlace, start: (signal?: AbortSignal) => Promise<Response>): Promise<boolean> => {
      if (running.current) return false;
      const ctrl = new AbortController();
      running.current = ctrl;
      let stream = new StreamingText();
      dispatch({ type: 'send', ...place, stream });
      let started = false;
      // Past a tool call, the text so far is stored: a fresh stream at once (so no delta is
      // lost), and the stored thread (the call, its approval, its result) shown when fetched.
      const advance = () => {
        stream.flush();
        stream = new StreamingText();
        dispatch({ type: 'advanced', stream });
        reload()
          .then((t) => {
            if (!t || running.current !== ctrl) return;
            const last = t.messages[t.messages.length - 1];
            const writing = last && last.role === 'assistant' && (last.status === 'streaming' || last.status === 'pending');
            dispatch({ type: 'advanced', base: writing ? t.messages.length - 1 : t.messages.length });
          })
          .catch(() => {});
      };
      stick.current = true;
      let failure: string | null = null;
      let end: ReplyEnd | null = null;
      let replyId = place.replyId ?? null;
      let ok = true;
      try {
        await runReply(
          start,
          {
            onStart: (s) => {
              if (started) return advance();
              started = true;
              replyId = s.message_id;
              dispatch({ type: 'started', replyId: s.message_id, model: s.model ?? null });
            },
            onToolStep: advance,
            onDelta: (text) => stream.append(text),
            onEnd: (e) => {
              end = e;
            },
            onError: (e) => {
              failure = describeError(Object.assign(new Error(e.message), e));
            },
          },
          { signal: ctrl.signal, replyId: place.replyId },
        );
      } catch (e) {
        if ((e as Error)?.name === 'AbortError') {
          if (running.current === ctrl) running.current = null;
          dispatch({ type: 'aborted' });
          return false;
        }
        failure = describeError(e);
        ok = false;
      }
      stream.flush();
      dispatch({ type: 'ended' });
      let shown: BranchMessage[] | null = null;
      try {
        shown = (await reload())?.messages ?? null;
      } catch {
        /* keep what is on screen */
      }
      // A failed reply is stored with its error and shows it; other failures show here.
      const stored = end as ReplyEnd | null;
      const failedShown = shown?.some((m) => m.status === 'error' && m.id === (stored?.message.id ?? replyId));
      if (running.current === ctrl) running.current = null;
      dispatch({ type: 'settled', error: failure && !failedShown ? failure : null });
      appRef.current.reloadChats();
      return ok;
    },
    [reload, appRef],
  );

  // Stop: cancel the reply once it is asked for and the reply's id is known (a Stop pressed
  // before the first event waits for it).
  const cancelId = live && live.stopRequested ? live.replyId : null;
  useEffect(() => {
    if (!cancelId) return;
    api.cancelReply(cancelId).catch((e) => dispatch({ type: 'failed', message: `Could not stop the reply: ${describeError(e)}` }));
  }, [cancelId]);

  const stop = useCallback(() => dispatch({ type: 'stop' }), []);

  const sendImpl = async (content: string, maxTokens?: number): Promise<boolean> => {
    dispatch({ type: 'dismiss' });
    if (!chatId) {
      const ws = app.workspace;
      if (!ws) return false;
      try {
        const chat = await api.createChat(ws.id, { title: titleFrom(content), model: app.draftModel || null });
        app.outbox.put(chat.id, { content, maxTokens });
        app.upsertChat(chat);
        app.setDraftModel('');
        navigate({ name: 'chat', chatId: chat.id });
        return true;
      } catch (e) {
        dispatch({ type: 'failed', message: `Could not create the chat: ${describeError(e)}` });
        return false;
      }
    }
    if (running.current) return false;
    const chat = chatRef.current;
    const body: SendIn = { content, idempotency_key: newId() };
    if (maxTokens) body.max_tokens = maxTokens;
    const ok = await runLive({ base: thread.length, user: { content }, model: chat?.model ?? null }, (signal) =>
      postForStream(`/api/v1/chats/${encodeURIComponent(chatId)}/messages`, body, signal),
    );
    if (ok && chat && !chat.title) {
      api.updateChat(chatId, { title: titleFrom(content) }).then(setChat, () => {});
    }
    return ok;
  };
  const send = useLatest(sendImpl);

  // Load the thread; attach to a reply still streaming; send a first message from the outbox.
  useEffect(() => {
    if (!chatId) {
      appRef.current.setCurrentChat(null);
      return;
    }
    let cancelled = false;
    (async () => {
      try {
        const t = await api.thread(chatId);
        if (cancelled) return;
        setThread(t.messages);
        setChat(t.chat);
        setLoading(false);
        const last = t.messages[t.messages.length - 1];
        const first = appRef.current.outbox.take(chatId);
        if (first) {
          send.current(first.content, first.maxTokens).then((ok) => {
            if (!ok && !cancelled) setRestore({ text: first.content });
          });
        } else if (last && (last.status === 'streaming' || last.status === 'pending') && (last.role === 'assistant' || last.role === 'tool')) {
          // A reply still running: its message being written, or a tool call it waits on
          // (its events are known by the assistant message that made the call).
          const reply = last.role === 'assistant' ? last : [...t.messages].reverse().find((m) => m.role === 'assistant');
          if (reply) {
            const base = last.role === 'assistant' ? t.messages.length - 1 : t.messages.length;
            runLive({ base, model: reply.model ?? null, replyId: reply.id }, (signal) => openReplyEvents(reply.id, 0, signal));
          }
        }
      } catch (e) {
        if (!cancelled) {
          setLoading(false);
          setLoadError(describeError(e));
        }
      }
    })();
    return () => {
      cancelled = true;
      running.current?.abort();
    };
  }, [chatId, runLive, setChat, appRef, send]);

  // Scroll to a message opened from search.
  useEffect(() => {
    if (!focusMessageId || loading) return;
    const el = scrollRef.current?.querySelector(`[data-message-id="${CSS.escape(focusMessageId)}"]`);
    if (el) {
      stick.current = false;
      el.scrollIntoView({ block: 'center' });
    }
  }, [focusMessageId, loading]);

  useEffect(() => {
    if (!loading && !focusMessageId) {
      stick.current = true;
      scrollToEnd();
    }
  }, [loading, focusMessageId, thread, scrollToEnd]);

  // Esc stops the reply.
  useEffect(() => {
    const on = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && running.current && !e.defaultPrevented) stop();
    };
    window.addEventListener('keydown', on);
    return () => window.removeEventListener('keydown', on);
  }, [stop]);

  const actions: MessageActions = useMemo(
    () => ({
      onRegenerate: (m) => {
        if (!chatId || running.current) return;
        const i = thread.findIndex((x) => x.id === m.id);
        const model = chatRef.current?.model || null;
        runLive({ base: i === -1 ? thread.length : i, model }, (signal) =>
          postForStream(`/api/v1/messages/${encodeURIComponent(m.id)}/reply`, answerBody(model), signal),
        );
      },
      onEdit: async (m, content) => {
        if (!chatId || running.current) return;
        dispatch({ type: 'dismiss' });
        let edited;
        try {
          edited = await api.editMessage(m.id, content);
        } catch (e) {
          dispatch({ type: 'failed', message: `Could not edit the message: ${describeError(e)}` });
          return;
        }
        const i = thread.findIndex((x) => x.id === m.id);
        const model = chatRef.current?.model || null;
        runLive({ base: i === -1 ? thread.length : i, user: { content }, model }, (signal) =>
          postForStream(`/api/v1/messages/${encodeURIComponent(edited.id)}/reply`, answerBody(model), signal),
        );
      },
      onSwitch: async (m, direction) => {
        if (!chatId || running.current) return;
        setSwitching(true);
        dispatch({ type: 'dismiss' });
        try {
          const t = await switchBranch(chatId, m, direction);
          if (t) {
            setThread(t.messages);
            setChat(t.chat);
          }
        } catch (e) {
          dispatch({ type: 'failed', message: `Could not switch branches: ${describeError(e)}` });
        } finally {
          setSwitching(false);
        }
      },
    }),
    [chatId, thread, runLive, setChat],
  );

  const onScroll = () => {
    const el = scrollRef.current;
    if (!el) return;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  };

  const shown = live ? thread.slice(0, live.base) : thread;
  const inlineError = state.phase === 'error' ? state.message : (live?.notice ?? null);
  const empty = !loading && shown.length === 0 && !live;
  // No model on this device: the empty chat offers one. Without any model at all (no provider
  // either) a message could not be answered, so there is no message box until there is one.
  const setup = empty && !loadError && app.modelsLoaded && localModels(app.models).length === 0;
  const noModel = setup && app.models.length === 0;

  return (
    <section className="chat" aria-label="Conversation">
      <div className="messages" ref={scrollRef} onScroll={onScroll} aria-busy={!!live}>
        <div className="messages-inner">
          {loading && (
            <div className="progress indeterminate" role="status" aria-label="Loading the chat" />
          )}
          {loadError && (
            <div className="inline-error" role="alert">
              {loadError}{' '}
              <button className="btn small" onClick={() => navigate({ name: 'new' })}>
                Start a new chat
              </button>
            </div>
          )}
          {setup && <ModelSetup />}
          {empty && !loadError && !setup && (
            <div className="empty-chat">
              <h2>What can I help with?</h2>
              <p className="muted">
                Replies from local models are written on this device and work offline. Ctrl+K searches every chat.
              </p>
            </div>
          )}
          <MessageList messages={shown} busy={!!live || switching} actions={actions} focusId={focusMessageId} />
          {live?.user && (
            <article className="msg msg-user pending" aria-label="Your message">
              <div className="msg-inner">
                <div className="msg-text">{live.user.content}</div>
              </div>
            </article>
          )}
          {live && <StreamingMessage stream={live.stream} model={live.model} onGrow={scrollToEnd} />}
          {inlineError && (
            <div className="inline-error" role="alert">
              {inlineError}
              <button className="icon-btn" aria-label="Dismiss the error" onClick={() => dispatch({ type: 'dismiss' })}>
                ×
              </button>
            </div>
          )}
        </div>
      </div>
      {!noModel && (
        <Composer onSend={(t, n) => send.current(t, n)} onStop={stop} streaming={!!live} disabled={!!loadError} restore={restore} />
      )}
    </section>
  );
}
