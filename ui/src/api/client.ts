// The HTTP client: relative URLs (same origin: `hearth serve`, the desktop window, or Vite's
// proxy), the bearer token, errors in the API's shape, and a 401 anywhere back to the token
// screen.
import type {
  BranchMessage,
  Chat,
  ChatFields,
  ConnectIn,
  ErrorObject,
  FetchStatus,
  ImportIn,
  JsonOf,
  LocalModel,
  LoginIn,
  Message,
  ModelList,
  NewChatIn,
  PresetOut,
  ProviderIn,
  ProviderInfo,
  ProviderPatchIn,
  SearchHit,
  SendIn,
  Settings,
  SyncRound,
  SyncStatus,
  Thread,
  Workspace,
  WorkspaceFields,
} from './types';

export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string;
  readonly param: string | null;
  /** The whole error object, with fields some routes add (a workflow's `problems`). */
  readonly details: Record<string, unknown>;
  constructor(status: number, err: Partial<ErrorObject> & Record<string, unknown>) {
    super(err.message || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.type = err.type || '';
    this.code = err.code || '';
    this.param = err.param ?? null;
    this.details = err;
  }
  /** The route does not exist on this server (an older Hearth). */
  get missingRoute(): boolean {
    return this.status === 404 && /no such route/i.test(this.message);
  }
}

let token: string | null = null;
let onUnauthorized: (() => void) | null = null;

export function setToken(t: string | null) {
  token = t;
}
export function getToken(): string | null {
  return token;
}
export function setUnauthorizedHandler(fn: (() => void) | null) {
  onUnauthorized = fn;
}

export function authHeaders(extra?: HeadersInit): Headers {
  const h = new Headers(extra);
  if (token) h.set('Authorization', `Bearer ${token}`);
  return h;
}

/** Turns a non-2xx response into an ApiError (and a 401 into a trip to the token screen). */
export async function errorFrom(res: Response): Promise<ApiError> {
  let body: unknown = null;
  const text = await res.text().catch(() => '');
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const inner =
    body && typeof body === 'object' && 'error' in body && typeof (body as { error: unknown }).error === 'object'
      ? ((body as { error: Partial<ErrorObject> & Record<string, unknown> }).error ?? {})
      : { message: text.slice(0, 200) || res.statusText || `HTTP ${res.status}` };
  const err = new ApiError(res.status, inner);
  if (res.status === 401) onUnauthorized?.();
  return err;
}

/** A raw request with the token; throws ApiError on a non-2xx answer. */
export async function request(method: string, path: string, init: { body?: unknown; headers?: HeadersInit; signal?: AbortSignal } = {}): Promise<Response> {
  const headers = authHeaders(init.headers);
  let body: BodyInit | undefined;
  if (init.body !== undefined) {
    headers.set('Content-Type', 'application/json');
    body = JSON.stringify(init.body);
  }
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body, signal: init.signal });
  } catch (e) {
    if ((e as Error)?.name === 'AbortError') throw e;
    throw new ApiError(0, {
      message: 'Cannot reach Hearth. Check that `hearth serve` (or the Hearth app) is running, then try again.',
      type: 'network',
      code: 'unreachable',
    });
  }
  if (!res.ok) throw await errorFrom(res);
  return res;
}

export async function json<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const res = await request(method, path, { body, signal });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

const enc = encodeURIComponent;

// --- the routes the UI uses -------------------------------------------------------------

export const api = {
  // workspaces
  workspaces: () => json<JsonOf<'/api/v1/workspaces', 'get'>>('GET', '/api/v1/workspaces'),
  createWorkspace: (body: { name: string; handle: string; system_prompt?: string; default_model?: string; timezone?: string }) =>
    json<Workspace>('POST', '/api/v1/workspaces', body),
  updateWorkspace: (ws: string, body: WorkspaceFields) => json<Workspace>('PATCH', `/api/v1/workspaces/${enc(ws)}`, body),
  deleteWorkspace: (ws: string) => json<void>('DELETE', `/api/v1/workspaces/${enc(ws)}`),

  // chats
  chats: (ws: string) => json<Chat[]>('GET', `/api/v1/workspaces/${enc(ws)}/chats`),
  createChat: (ws: string, body: NewChatIn) => json<Chat>('POST', `/api/v1/workspaces/${enc(ws)}/chats`, body),
  updateChat: (id: string, body: ChatFields) => json<Chat>('PATCH', `/api/v1/chats/${enc(id)}`, body),
  deleteChat: (id: string) => json<void>('DELETE', `/api/v1/chats/${enc(id)}`),
  thread: (id: string) => json<Thread>('GET', `/api/v1/chats/${enc(id)}/messages`),
  branch: (chat: string, messageId: string) => json<Thread>('POST', `/api/v1/chats/${enc(chat)}/branch`, { message_id: messageId }),

  // messages
  editMessage: (id: string, content: string) => json<Message>('PATCH', `/api/v1/messages/${enc(id)}`, { content }),
  /** The message and its siblings, oldest first (the `< 2/3 >` switcher). */
  siblings: (id: string) => json<JsonOf<'/api/v1/messages/{message}/siblings', 'get'>>('GET', `/api/v1/messages/${enc(id)}/siblings`),
  cancelReply: (id: string) => json<void>('POST', `/api/v1/replies/${enc(id)}/cancel`),
  search: (q: string, limit = 20, signal?: AbortSignal) =>
    json<SearchHit[]>('GET', `/api/v1/search?q=${enc(q)}&limit=${limit}`, undefined, signal),

  // models
  openaiModels: () => json<ModelList>('GET', '/v1/models'),
  localModels: () => json<LocalModel[]>('GET', '/api/v1/models'),
  importModel: (body: ImportIn) => json<LocalModel>('POST', '/api/v1/models', body),
  loadModel: (name: string) => json<LocalModel>('POST', `/api/v1/models/${enc(name)}/load`),
  unloadModel: () => json<unknown>('POST', '/api/v1/models/unload'),
  setDefaultModel: (name: string) => json<unknown>('PUT', '/api/v1/models/default', { name }),
  removeModel: (name: string) => json<void>('DELETE', `/api/v1/models/${enc(name)}`),
  /** The default model's download: where it stands. */
  modelFetch: (signal?: AbortSignal) => json<FetchStatus>('GET', '/api/v1/models/fetch', undefined, signal),
  /** Starts the download, or resumes a partial one (202); when one is running, its status. */
  startModelFetch: () => json<FetchStatus>('POST', '/api/v1/models/fetch'),
  cancelModelFetch: () => json<FetchStatus>('POST', '/api/v1/models/fetch/cancel'),

  // providers
  providers: () => json<ProviderInfo[]>('GET', '/api/v1/providers'),
  presets: () => json<PresetOut[]>('GET', '/api/v1/providers/presets'),
  addProvider: (body: ProviderIn) => json<ProviderInfo>('POST', '/api/v1/providers', body),
  updateProvider: (name: string, body: ProviderPatchIn) => json<ProviderInfo>('PATCH', `/api/v1/providers/${enc(name)}`, body),
  removeProvider: (name: string) => json<void>('DELETE', `/api/v1/providers/${enc(name)}`),
  setProviderKey: (name: string, key: string) => json<ProviderInfo>('PUT', `/api/v1/providers/${enc(name)}/key`, { key }),
  removeProviderKey: (name: string) => json<ProviderInfo>('DELETE', `/api/v1/providers/${enc(name)}/key`),
  testProvider: (name: string) => json<ProviderInfo>('POST', `/api/v1/providers/${enc(name)}/test`),

  // settings
  settings: () => json<Settings>('GET', '/api/v1/settings'),
  putSetting: (key: string, value: unknown) => json<unknown>('PUT', `/api/v1/settings/${enc(key)}`, { value }),

  // sync
  syncStatus: () => json<SyncStatus>('GET', '/api/v1/sync'),
  syncNow: () => json<SyncRound>('POST', '/api/v1/sync/now'),
  syncConnect: (body: ConnectIn) => json<SyncStatus>('POST', '/api/v1/sync/connect', body),
  /** The password goes to the server once (it keeps the session in the keychain), never to storage. */
  syncLogin: (body: LoginIn) => json<SyncStatus>('POST', '/api/v1/sync/login', body),
  syncLogout: () => json<SyncStatus>('POST', '/api/v1/sync/logout'),
};

export type { BranchMessage, SendIn };

export type ErrorContext = 'chat' | 'models' | 'provider' | 'sync' | 'settings';

/** What to tell the person after an error, beyond the server's message. */
export function nextStep(err: unknown, context: ErrorContext = 'chat'): string {
  if (!(err instanceof ApiError)) return 'Try again.';
  if (err.missingRoute) return 'This Hearth server is older than the app: update Hearth and restart it.';
  switch (err.code) {
    case 'unreachable':
      return '';
    case 'busy':
    case 'rate_limited':
      return 'Hearth is busy: wait a moment and try again.';
    case 'unavailable':
      if (context === 'sync') return 'Check the project address and your network, then try again.';
      if (context === 'provider') return 'If the system keychain is locked, unlock it; then try again.';
      if (context === 'models') return 'Free some memory (unload the model) or wait for the other model to load, then try again.';
      return 'Check the model on the Models screen (load it, or pick another model), then try again.';
    case 'upstream':
      if (context === 'sync') return 'Check the project address and key on the Sync screen.';
      return 'Check the provider on the Providers screen (key, address) or pick another model.';
    case 'not_found':
      if (err.param === 'model') return 'Pick another model in the model picker.';
      return context === 'chat' ? 'It may have been deleted: reload the page.' : 'Reload the page and try again.';
    case 'too_large':
      return 'Shorten the text and try again.';
    case 'conflict':
      return context === 'chat' ? 'Reload and try again.' : 'That name is taken: choose another.';
    case 'unauthorized':
      return 'Enter the token again (`hearth token show`).';
    default:
      return '';
  }
}

export function describeError(err: unknown, context?: ErrorContext): string {
  const msg = err instanceof Error ? err.message : String(err);
  const next = nextStep(err, context);
  return next ? `${msg.replace(/[.\s]+$/, '')}. ${next}` : msg;
}
