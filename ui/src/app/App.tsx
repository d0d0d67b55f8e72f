// The app's root once a token is known: loads the shared data, holds the actions on it, and
// lays out the sidebar, the header and the screen for the current route.
import { lazy, Suspense, useCallback, useEffect, useMemo, useState, type ReactElement } from 'react';
import { api, describeError } from '../api/client';
import type { Chat, ModelObject, Settings, Theme, Workspace } from '../api/types';
import { ChatView } from '../chat/ChatView';
import { createOutbox } from '../chat/outbox';
import { Header } from '../components/Header';
import { Sidebar } from '../components/Sidebar';
import { Toasts } from '../components/Toasts';
import { UNDO_MS, useDeferredDelete } from '../lib/deferred';
import { navigate, useRoute, type Route } from '../lib/router';
import { useLatest } from '../lib/useLatest';
import { AppContext, type AppState } from './context';
import { SyncProvider } from './SyncProvider';
import { createToastStore } from './toastStore';

const Models = lazy(() => import('../screens/Models'));
const Providers = lazy(() => import('../screens/Providers'));
const Sync = lazy(() => import('../screens/Sync'));
const Tools = lazy(() => import('../screens/Tools'));
const SettingsScreen = lazy(() => import('../screens/Settings'));
const Workspaces = lazy(() => import('../screens/Workspaces'));
const Workflows = lazy(() => import('../workflows/WorkflowList'));
const WorkflowEditor = lazy(() => import('../workflows/Editor'));
const SearchDialog = lazy(() => import('../components/SearchDialog'));

export function applyTheme(theme: Theme | undefined) {
  const t = theme === 'light' || theme === 'dark' ? theme : 'system';
  const dark = t === 'dark' || (t === 'system' && typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
}

/** The screen for a route. Keyed so that another chat or workflow is a fresh component. */
function screenFor(route: Route, threadNonce: number, wsId: string | null): ReactElement {
  switch (route.name) {
    case 'models':
      return <Models />;
    case 'providers':
      return <Providers />;
    case 'tools':
      return <Tools />;
    case 'sync':
      return <Sync />;
    case 'settings':
      return <SettingsScreen />;
    case 'workspaces':
      return <Workspaces />;
    case 'workflows':
      return <Workflows />;
    case 'workflow':
      return <WorkflowEditor key={route.id} id={route.id} />;
    case 'chat':
      return <ChatView key={`${route.chatId}:${threadNonce}`} chatId={route.chatId} focusMessageId={route.messageId} />;
    default:
      return <ChatView key={`new:${wsId}`} chatId={null} />;
  }
}

/**
 * The app: its shared data, the actions on it, and the frame around the screens.
 *
 * Re-renders stay where the change is: toasts live in a store only <Toasts> reads, the sync
 * status in <SyncProvider>, the context value is rebuilt only when one of its members
 * changes (every action is a stable callback), and the screen element is rebuilt only when
 * the route asks for another one, so opening the sidebar or the search re-renders no screen.
 */
export function App({ token }: { token: string }) {
  const route = useRoute();
  const [workspaces, setWorkspaces] = useState<Workspace[]>([]);
  const [wsId, setWsId] = useState<string | null>(null);
  // The chats of one workspace; another workspace's list is never shown, even for the moment
  // before the new one has loaded.
  const [chatsOf, setChatsOf] = useState<{ ws: string | null; list: Chat[] }>({ ws: null, list: [] });
  const [models, setModels] = useState<ModelObject[]>([]);
  const [modelsLoaded, setModelsLoaded] = useState(false);
  const [settings, setSettings] = useState<Settings>({});
  const [currentChat, setCurrentChat] = useState<Chat | null>(null);
  const [draftModel, setDraftModel] = useState('');
  const [searchOpen, setSearchOpen] = useState(false);
  const [threadNonce, setThreadNonce] = useState(0);
  const [bootError, setBootError] = useState<string | null>(null);
  const [ready, setReady] = useState(false);
  // The route the sidebar was opened on: it is open only until the route changes.
  const [sidebarRoute, setSidebarRoute] = useState<Route | null>(null);
  const sidebarOpen = sidebarRoute === route;
  const [toasts] = useState(createToastStore);
  const [outbox] = useState(createOutbox);
  const toast = toasts.push;
  const wsRef = useLatest(wsId);
  const currentChatRef = useLatest(currentChat);

  const reloadChats = useCallback(async () => {
    const ws = wsRef.current;
    if (!ws) return;
    try {
      const list = await api.chats(ws);
      if (wsRef.current === ws) setChatsOf({ ws, list });
    } catch (e) {
      toast({ text: `Could not load the chats: ${describeError(e)}`, kind: 'error' });
    }
  }, [toast, wsRef]);

  const loadModels = useCallback(async () => {
    try {
      setModels((await api.openaiModels()).data);
      setModelsLoaded(true);
    } catch (e) {
      toast({ text: `Could not list the models: ${describeError(e)}`, kind: 'error' });
    }
  }, [toast]);

  // The default model may change with the list (a download registers one, "Set default"
  // picks another), and the picker's "Default (…)" reads it from the settings.
  const reloadModels = useCallback(async () => {
    await Promise.all([loadModels(), api.settings().then(setSettings, () => {})]);
  }, [loadModels]);

  const reloadWorkspaces = useCallback(async () => {
    const list = await api.workspaces();
    setWorkspaces(list);
    return list;
  }, []);

  // First load: settings, workspaces (a first "Personal" one when there is none), models.
  const boot = useCallback(
    () =>
      Promise.all([api.settings(), api.workspaces()])
        .then(async ([s, list]) => {
          setSettings(s);
          applyTheme(s['ui.theme']);
          let wss = list;
          if (wss.length === 0) {
            try {
              wss = [await api.createWorkspace({ name: 'Personal', handle: 'personal' })];
            } catch {
              wss = await api.workspaces();
            }
          }
          setWorkspaces(wss);
          const preferred = typeof s['ui.workspace'] === 'string' ? s['ui.workspace'] : null;
          setWsId(wss.find((w) => w.id === preferred)?.id ?? wss[0]?.id ?? null);
          setReady(true);
          loadModels();
        })
        .catch((e) => setBootError(describeError(e))),
    [loadModels],
  );

  useEffect(() => {
    boot();
  }, [boot]);

  useEffect(() => {
    if (wsId) reloadChats();
  }, [wsId, reloadChats]);

  // Theme: follow the system when asked to.
  useEffect(() => {
    applyTheme(settings['ui.theme']);
    if (typeof matchMedia !== 'function') return;
    const mq = matchMedia('(prefers-color-scheme: dark)');
    const on = () => applyTheme(settings['ui.theme']);
    mq.addEventListener?.('change', on);
    return () => mq.removeEventListener?.('change', on);
  }, [settings]);

  const selectWorkspace = useCallback(
    (id: string) => {
      if (id === wsRef.current) return;
      setWsId(id);
      api.putSetting('ui.workspace', id).then(
        () => setSettings((s) => ({ ...s, 'ui.workspace': id })),
        () => {},
      );
    },
    [wsRef],
  );

  const putSetting = useCallback(async (key: string, value: unknown) => {
    await api.putSetting(key, value);
    setSettings((s) => ({ ...s, [key]: value }));
  }, []);

  const upsertChat = useCallback(
    (chat: Chat) => {
      setChatsOf((prev) => {
        if (chat.workspace_id !== wsRef.current) return prev;
        const list = prev.ws === chat.workspace_id ? prev.list : [];
        const i = list.findIndex((c) => c.id === chat.id);
        const next = i === -1 ? [chat, ...list] : list.map((c) => (c.id === chat.id ? chat : c));
        return { ws: chat.workspace_id, list: sortChats(next) };
      });
      setCurrentChat((c) => (c && c.id === chat.id ? chat : c));
    },
    [wsRef],
  );

  // Delete with Undo: hidden at once, DELETE sent when the toast expires.
  const { hidden, remove: hideChat, undo: unhideChat } = useDeferredDelete(async (id) => {
    try {
      await api.deleteChat(id);
      setChatsOf((prev) => ({ ...prev, list: prev.list.filter((c) => c.id !== id) }));
    } catch (e) {
      toast({ text: `The chat could not be deleted: ${describeError(e)}`, kind: 'error' });
    }
  });

  const deleteChat = useCallback(
    (chat: Chat) => {
      hideChat(chat.id);
      if (currentChatRef.current?.id === chat.id) navigate({ name: 'new' });
      toast({
        text: `Deleted “${chat.title || 'New chat'}”`,
        actionLabel: 'Undo',
        onAction: () => unhideChat(chat.id),
        timeout: UNDO_MS,
      });
    },
    [hideChat, unhideChat, currentChatRef, toast],
  );

  // When the chat on screen belongs to another workspace (opened from search), follow it.
  const noteChat = useCallback(
    (chat: Chat | null) => {
      setCurrentChat(chat);
      if (chat && chat.workspace_id !== wsRef.current && workspaces.some((w) => w.id === chat.workspace_id)) {
        setWsId(chat.workspace_id);
      }
    },
    [workspaces, wsRef],
  );

  const openSearch = useCallback(() => setSearchOpen(true), []);
  const closeSearch = useCallback(() => setSearchOpen(false), []);
  const bumpThread = useCallback(() => setThreadNonce((n) => n + 1), []);
  const toggleSidebar = useCallback(() => setSidebarRoute((r) => (r === route ? null : route)), [route]);

  // Keyboard: Ctrl+K search, Ctrl+N (or Alt+N) new chat.
  useEffect(() => {
    const on = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      if (mod && !e.shiftKey && e.key.toLowerCase() === 'k') {
        e.preventDefault();
        setSearchOpen(true);
      } else if ((mod && !e.shiftKey && e.key.toLowerCase() === 'n') || (e.altKey && e.key.toLowerCase() === 'n')) {
        e.preventDefault();
        navigate({ name: 'new' });
      }
    };
    // The desktop shell's tray menu ("New chat") sends this event.
    const newChat = () => navigate({ name: 'new' });
    window.addEventListener('keydown', on);
    window.addEventListener('hearth:new-chat', newChat);
    return () => {
      window.removeEventListener('keydown', on);
      window.removeEventListener('hearth:new-chat', newChat);
    };
  }, []);

  const workspace = useMemo(() => workspaces.find((w) => w.id === wsId) ?? null, [workspaces, wsId]);
  const chats = chatsOf.ws === wsId ? chatsOf.list : NO_CHATS;
  const visibleChats = useMemo(() => chats.filter((c) => !hidden.has(c.id)), [chats, hidden]);

  const ctx = useMemo<AppState>(
    () => ({
      token,
      workspaces,
      workspace,
      selectWorkspace,
      reloadWorkspaces,
      chats: visibleChats,
      reloadChats,
      upsertChat,
      currentChat,
      setCurrentChat: noteChat,
      deleteChat,
      models,
      modelsLoaded,
      reloadModels,
      settings,
      putSetting,
      toast,
      draftModel,
      setDraftModel,
      openSearch,
      threadNonce,
      bumpThread,
      outbox,
    }),
    [
      token,
      workspaces,
      workspace,
      selectWorkspace,
      reloadWorkspaces,
      visibleChats,
      reloadChats,
      upsertChat,
      currentChat,
      noteChat,
      deleteChat,
      models,
      modelsLoaded,
      reloadModels,
      settings,
      putSetting,
      toast,
      draftModel,
      openSearch,
      threadNonce,
      bumpThread,
      outbox,
    ],
  );

  const screen = useMemo(() => screenFor(route, threadNonce, wsId), [route, threadNonce, wsId]);

  let body: ReactElement;
  if (bootError) {
    body = (
      <main className="token-screen">
        <div className="card token-card" role="alert">
          <h1>Hearth is not answering</h1>
          <p>{bootError}</p>
          <button
            className="btn primary"
            onClick={() => {
              setBootError(null);
              boot();
            }}
          >
            Try again
          </button>
        </div>
      </main>
    );
  } else if (!ready) {
    body = (
      <div className="boot" role="status" aria-label="Loading">
        <div className="progress indeterminate" />
      </div>
    );
  } else {
    const isChat = route.name === 'chat' || route.name === 'new';
    body = (
      <div className={`app${sidebarOpen ? ' sidebar-open' : ''}`}>
        <Sidebar route={route} />
        <div className="scrim" onClick={() => setSidebarRoute(null)} aria-hidden="true" />
        <div className="main">
          <Header route={route} onMenu={toggleSidebar} />
          <div className={isChat ? 'content chat-content' : route.name === 'workflow' ? 'content editor-content' : 'content'}>
            <Suspense
              fallback={
                <div className="screen-loading" role="status" aria-label="Loading">
                  <div className="progress indeterminate" />
                </div>
              }
            >
              {screen}
            </Suspense>
          </div>
        </div>
        <Toasts store={toasts} />
        {searchOpen && (
          <Suspense fallback={null}>
            <SearchDialog onClose={closeSearch} />
          </Suspense>
        )}
      </div>
    );
  }

  return (
    <AppContext.Provider value={ctx}>
      <SyncProvider>{body}</SyncProvider>
    </AppContext.Provider>
  );
}

/** The same empty list each time, so a workspace still loading does not look like a change. */
const NO_CHATS: Chat[] = [];

export function sortChats(list: Chat[]): Chat[] {
  return [...list].sort((a, b) => {
    if (a.pinned !== b.pinned) return a.pinned ? -1 : 1;
    return b.activity_at.localeCompare(a.activity_at);
  });
}
