import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { api, describeError } from '../api/client';
import { followEvents } from '../api/replies';
import type { Chat, ModelObject, Settings, SyncStatus, Theme, Workspace } from '../api/types';
import { ChatView } from '../chat/ChatView';
import { Header } from '../components/Header';
import { Sidebar } from '../components/Sidebar';
import { Toasts, type Toast } from '../components/Toasts';
import { UNDO_MS, useDeferredDelete } from '../lib/deferred';
import { navigate, useRoute } from '../lib/router';
import { AppContext, type AppState, type ToastInput } from './context';

const Models = lazy(() => import('../screens/Models'));
const Providers = lazy(() => import('../screens/Providers'));
const Sync = lazy(() => import('../screens/Sync'));
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

export function App({ token }: { token: string }) {
  const route = useRoute();
  const [workspaces, setWorkspaces] = useState<Workspace[]>([]);
  const [wsId, setWsId] = useState<string | null>(null);
  const [chats, setChats] = useState<Chat[]>([]);
  const [models, setModels] = useState<ModelObject[]>([]);
  const [modelsLoaded, setModelsLoaded] = useState(false);
  const [settings, setSettings] = useState<Settings>({});
  const [sync, setSync] = useState<SyncStatus | null>(null);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [currentChat, setCurrentChat] = useState<Chat | null>(null);
  const [draftModel, setDraftModel] = useState('');
  const [searchOpen, setSearchOpen] = useState(false);
  const [threadNonce, setThreadNonce] = useState(0);
  const [bootError, setBootError] = useState<string | null>(null);
  const [ready, setReady] = useState(false);
  const [sidebarOpen, setSidebarOpen] = useState(false);
  const toastId = useRef(0);
  const wsRef = useRef<string | null>(null);
  wsRef.current = wsId;

  const toast = useCallback((t: ToastInput) => {
    const id = ++toastId.current;
    setToasts((prev) => [...prev, { ...t, id }]);
  }, []);
  const dismiss = useCallback((id: number) => setToasts((prev) => prev.filter((t) => t.id !== id)), []);

  const reloadChats = useCallback(async () => {
    const ws = wsRef.current;
    if (!ws) return;
    try {
      const list = await api.chats(ws);
      if (wsRef.current === ws) setChats(list);
    } catch (e) {
      toast({ text: `Could not load the chats: ${describeError(e)}`, kind: 'error' });
    }
  }, [toast]);

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
  const boot = useCallback(async () => {
    setBootError(null);
    try {
      const [s, list] = await Promise.all([api.settings(), api.workspaces()]);
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
    } catch (e) {
      setBootError(describeError(e));
    }
  }, [loadModels]);

  useEffect(() => {
    boot();
  }, [boot]);

  useEffect(() => {
    setChats([]);
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

  // Sync status: the current one, then its event stream.
  useEffect(() => {
    const ctrl = new AbortController();
    api.syncStatus().then(setSync, () => {});
    followEvents(
      '/api/v1/sync/events',
      (ev) => {
        if (ev.event !== 'status') return;
        try {
          setSync(JSON.parse(ev.data));
        } catch {
          /* ignore a malformed event */
        }
      },
      ctrl.signal,
    );
    return () => ctrl.abort();
  }, []);

  const selectWorkspace = useCallback(
    (id: string) => {
      if (id === wsRef.current) return;
      setWsId(id);
      api.putSetting('ui.workspace', id).then(
        () => setSettings((s) => ({ ...s, 'ui.workspace': id })),
        () => {},
      );
    },
    [],
  );

  const putSetting = useCallback(async (key: string, value: unknown) => {
    await api.putSetting(key, value);
    setSettings((s) => ({ ...s, [key]: value }));
  }, []);

  const upsertChat = useCallback((chat: Chat) => {
    setChats((prev) => {
      if (chat.workspace_id !== wsRef.current) return prev;
      const i = prev.findIndex((c) => c.id === chat.id);
      const next = i === -1 ? [chat, ...prev] : prev.map((c) => (c.id === chat.id ? chat : c));
      return sortChats(next);
    });
    setCurrentChat((c) => (c && c.id === chat.id ? chat : c));
  }, []);

  // Delete with Undo: hidden at once, DELETE sent when the toast expires.
  const deferred = useDeferredDelete(async (id) => {
    try {
      await api.deleteChat(id);
      setChats((prev) => prev.filter((c) => c.id !== id));
    } catch (e) {
      toast({ text: `The chat could not be deleted: ${describeError(e)}`, kind: 'error' });
    }
  });

  const deleteChat = useCallback(
    (chat: Chat) => {
      deferred.remove(chat.id);
      if (currentChat?.id === chat.id) navigate({ name: 'new' });
      toast({
        text: `Deleted “${chat.title || 'New chat'}”`,
        actionLabel: 'Undo',
        onAction: () => deferred.undo(chat.id),
        timeout: UNDO_MS,
      });
    },
    [deferred, currentChat, toast],
  );

  // When the chat on screen belongs to another workspace (opened from search), follow it.
  const noteChat = useCallback(
    (chat: Chat | null) => {
      setCurrentChat(chat);
      if (chat && chat.workspace_id !== wsRef.current && workspaces.some((w) => w.id === chat.workspace_id)) {
        setWsId(chat.workspace_id);
      }
    },
    [workspaces],
  );

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

  useEffect(() => setSidebarOpen(false), [route]);

  const workspace = workspaces.find((w) => w.id === wsId) ?? null;
  const visibleChats = useMemo(() => chats.filter((c) => !deferred.hidden.has(c.id)), [chats, deferred.hidden]);

  const ctx: AppState = {
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
    sync,
    setSync,
    toast,
    draftModel,
    setDraftModel,
    openSearch: () => setSearchOpen(true),
    threadNonce,
    bumpThread: () => setThreadNonce((n) => n + 1),
  };

  if (bootError) {
    return (
      <main className="token-screen">
        <div className="card token-card" role="alert">
          <h1>Hearth is not answering</h1>
          <p>{bootError}</p>
          <button className="btn primary" onClick={boot}>
            Try again
          </button>
        </div>
      </main>
    );
  }
  if (!ready) {
    return (
      <div className="boot" role="status" aria-label="Loading">
        <div className="progress indeterminate" />
      </div>
    );
  }

  const isChat = route.name === 'chat' || route.name === 'new';
  let screen;
  switch (route.name) {
    case 'models':
      screen = <Models />;
      break;
    case 'providers':
      screen = <Providers />;
      break;
    case 'sync':
      screen = <Sync />;
      break;
    case 'settings':
      screen = <SettingsScreen />;
      break;
    case 'workspaces':
      screen = <Workspaces />;
      break;
    case 'workflows':
      screen = <Workflows />;
      break;
    case 'workflow':
      screen = <WorkflowEditor key={route.id} id={route.id} />;
      break;
    case 'chat':
      screen = <ChatView key={`${route.chatId}:${threadNonce}`} chatId={route.chatId} focusMessageId={route.messageId} />;
      break;
    default:
      screen = <ChatView key={`new:${wsId}`} chatId={null} />;
  }

  return (
    <AppContext.Provider value={ctx}>
      <div className={`app${sidebarOpen ? ' sidebar-open' : ''}`}>
        <Sidebar route={route} />
        <div className="scrim" onClick={() => setSidebarOpen(false)} aria-hidden="true" />
        <div className="main">
          <Header route={route} onMenu={() => setSidebarOpen((o) => !o)} />
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
        <Toasts toasts={toasts} onDismiss={dismiss} />
        {searchOpen && (
          <Suspense fallback={null}>
            <SearchDialog onClose={() => setSearchOpen(false)} />
          </Suspense>
        )}
      </div>
    </AppContext.Provider>
  );
}

export function sortChats(list: Chat[]): Chat[] {
  return [...list].sort((a, b) => {
    if (a.pinned !== b.pinned) return a.pinned ? -1 : 1;
    return b.activity_at.localeCompare(a.activity_at);
  });
}
