// The HTTP client: relative URLs (same origin: `hearth serve`, the desktop window, or Vite's
// proxy), the bearer token, errors in the API's shape, and a 401 anywhere back to the token
// screen. The routes in `api` are typed against the OpenAPI document through openapi-fetch.
import createClient from 'openapi-fetch';
import type { paths } from './schema';
import type {
  Approval,
  BodyOf,
  BranchMessage,
  ChatFields,
  ConnectIn,
  ErrorObject,
  FetchStatus,
  ImportIn,
  LoginIn,
  McpServerIn,
  NewChatIn,
  ProviderIn,
  ProviderPatchIn,
  SendIn,
  Settings,
  SyncRound,
  SyncStatus,
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
  const headers = new Headers(init.headers);
  let body: string | undefined;
  if (init.body !== undefined) {
    headers.set('Content-Type', 'application/json');
    body = JSON.stringify(init.body);
  }
  return send({ method, url: path, headers, body, signal: init.signal });
}

/** What one request is: a relative URL, and a body already serialized. */
interface Outgoing {
  method: string;
  url: string;
  headers: Headers;
  body?: BodyInit | null;
  signal?: AbortSignal | null;
}

/** Sends a request with the token. Network failures and non-2xx answers throw ApiError. */
async function send({ method, url, headers, body, signal }: Outgoing): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { method, headers: authHeaders(headers), body, signal: signal ?? undefined });
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

/**
 * What openapi-fetch builds for a call, kept as given: its URL stays relative (a `Request`
 * would resolve it, and there is no base to resolve it against outside a browser).
 */
class OutgoingRequest implements Outgoing {
  readonly url: string;
  readonly method: string;
  readonly headers: Headers;
  readonly body?: BodyInit | null;
  readonly signal?: AbortSignal | null;
  constructor(url: string, init: RequestInit = {}) {
    this.url = url;
    this.method = init.method ?? 'GET';
    this.headers = new Headers(init.headers);
    this.body = init.body;
    this.signal = init.signal;
  }
}

/**
 * The routes of the OpenAPI document (`schema.ts`), typed: a path, a parameter or a body the
 * document does not have is a compile error. Requests go through `send`, so a non-2xx answer
 * throws the same ApiError as everywhere else and a call resolves only with a success.
 */
export const http = createClient<paths>({
  Request: OutgoingRequest as unknown as typeof Request,
  fetch: (r: Request) => send(r as unknown as OutgoingRequest),
});

/** The body of a successful answer (`send` has thrown for any other). */
async function ok<T>(call: Promise<{ data?: T }>): Promise<T> {
  return (await call).data as T;
}

/**
 * The body of a successful answer that the document describes more loosely than the UI reads
 * it (an open object, a plain string for a closed set): the path, parameters and body are still
 * checked against the document; only the answer takes the UI's type (see `types.ts`).
 */
export async function okAs<T>(call: Promise<{ data?: unknown }>): Promise<T> {
  return (await call).data as T;
}

// --- the routes the UI uses -------------------------------------------------------------

export const api = {
  // workspaces
  workspaces: () => ok(http.GET('/api/v1/workspaces')),
  createWorkspace: (body: BodyOf<'/api/v1/workspaces', 'post'>) => ok(http.POST('/api/v1/workspaces', { body })),
  updateWorkspace: (ws: string, body: WorkspaceFields) => ok(http.PATCH('/api/v1/workspaces/{workspace}', { params: { path: { workspace: ws } }, body })),
  deleteWorkspace: (ws: string) => ok(http.DELETE('/api/v1/workspaces/{workspace}', { params: { path: { workspace: ws } } })),

  // chats
  chats: (ws: string) => ok(http.GET('/api/v1/workspaces/{workspace}/chats', { params: { path: { workspace: ws } } })),
  createChat: (ws: string, body: NewChatIn) => ok(http.POST('/api/v1/workspaces/{workspace}/chats', { params: { path: { workspace: ws } }, body })),
  updateChat: (id: string, body: ChatFields) => ok(http.PATCH('/api/v1/chats/{chat}', { params: { path: { chat: id } }, body })),
  deleteChat: (id: string) => ok(http.DELETE('/api/v1/chats/{chat}', { params: { path: { chat: id } } })),
  thread: (id: string) => ok(http.GET('/api/v1/chats/{chat}/messages', { params: { path: { chat: id } } })),
  branch: (chat: string, messageId: string) =>
    ok(http.POST('/api/v1/chats/{chat}/branch', { params: { path: { chat } }, body: { message_id: messageId } })),

  // messages
  editMessage: (id: string, content: string) => ok(http.PATCH('/api/v1/messages/{message}', { params: { path: { message: id } }, body: { content } })),
  /** The message and its siblings, oldest first (the `< 2/3 >` switcher). */
  siblings: (id: string) => ok(http.GET('/api/v1/messages/{message}/siblings', { params: { path: { message: id } } })),
  cancelReply: (id: string) => ok(http.POST('/api/v1/replies/{message}/cancel', { params: { path: { message: id } } })),
  approveToolCall: (id: string, decision: Approval) =>
    ok(http.POST('/api/v1/messages/{message}/approval', { params: { path: { message: id } }, body: { decision } })),
  search: (q: string, limit = 20, signal?: AbortSignal) => ok(http.GET('/api/v1/search', { params: { query: { q, limit } }, signal })),

  // models
  openaiModels: () => ok(http.GET('/v1/models')),
  localModels: () => ok(http.GET('/api/v1/models')),
  importModel: (body: ImportIn) => ok(http.POST('/api/v1/models', { body })),
  loadModel: (name: string) => ok(http.POST('/api/v1/models/{name}/load', { params: { path: { name } } })),
  unloadModel: () => ok(http.POST('/api/v1/models/unload')),
  setDefaultModel: (name: string) => ok(http.PUT('/api/v1/models/default', { body: { name } })),
  removeModel: (name: string) => ok(http.DELETE('/api/v1/models/{name}', { params: { path: { name } } })),
  /** The default model's download: where it stands. */
  modelFetch: (signal?: AbortSignal) => okAs<FetchStatus>(http.GET('/api/v1/models/fetch', { signal })),
  /** Starts the download, or resumes a partial one (202); when one is running, its status. */
  startModelFetch: () => okAs<FetchStatus>(http.POST('/api/v1/models/fetch')),
  cancelModelFetch: () => okAs<FetchStatus>(http.POST('/api/v1/models/fetch/cancel')),

  // providers
  providers: () => ok(http.GET('/api/v1/providers')),
  presets: () => ok(http.GET('/api/v1/providers/presets')),
  addProvider: (body: ProviderIn) => ok(http.POST('/api/v1/providers', { body })),
  updateProvider: (name: string, body: ProviderPatchIn) => ok(http.PATCH('/api/v1/providers/{name}', { params: { path: { name } }, body })),
  removeProvider: (name: string) => ok(http.DELETE('/api/v1/providers/{name}', { params: { path: { name } } })),
  setProviderKey: (name: string, key: string) => ok(http.PUT('/api/v1/providers/{name}/key', { params: { path: { name } }, body: { key } })),
  removeProviderKey: (name: string) => ok(http.DELETE('/api/v1/providers/{name}/key', { params: { path: { name } } })),
  testProvider: (name: string) => ok(http.POST('/api/v1/providers/{name}/test', { params: { path: { name } } })),

  // MCP servers
  mcpServers: () => ok(http.GET('/api/v1/mcp/servers')),
  putMcpServer: (name: string, body: McpServerIn) => ok(http.PUT('/api/v1/mcp/servers/{name}', { params: { path: { name } }, body })),
  setMcpServerEnabled: (name: string, enabled: boolean) =>
    ok(http.PATCH('/api/v1/mcp/servers/{name}', { params: { path: { name } }, body: { enabled } })),
  removeMcpServer: (name: string) => ok(http.DELETE('/api/v1/mcp/servers/{name}', { params: { path: { name } } })),

  // knowledge and jobs
  documents: (ws: string) => ok(http.GET('/api/v1/workspaces/{workspace}/documents', { params: { path: { workspace: ws } } })),
  /** Sends one file as the request body; the answer is the ingest job that reads it. */
  uploadDocument: (ws: string, file: File) =>
    ok(
      http.POST('/api/v1/workspaces/{workspace}/documents/upload', {
        params: { path: { workspace: ws }, query: { name: file.name } },
        // The file's bytes as they are: the document types the body as raw bytes.
        body: file as unknown as number[],
        bodySerializer: (b: unknown) => b as BodyInit,
        headers: { 'Content-Type': 'application/octet-stream' },
      }),
    ),
  deleteDocument: (id: string) => ok(http.DELETE('/api/v1/documents/{document}', { params: { path: { document: id } } })),
  jobs: (limit = 20) => ok(http.GET('/api/v1/jobs', { params: { query: { limit } } })),
  job: (id: string) => ok(http.GET('/api/v1/jobs/{job}', { params: { path: { job: id } } })),

  // settings
  settings: () => okAs<Settings>(http.GET('/api/v1/settings')),
  putSetting: (key: string, value: unknown) => ok(http.PUT('/api/v1/settings/{key}', { params: { path: { key } }, body: { value } })),

  // sync
  syncStatus: () => okAs<SyncStatus>(http.GET('/api/v1/sync')),
  syncNow: () => okAs<SyncRound>(http.POST('/api/v1/sync/now')),
  syncConnect: (body: ConnectIn) => okAs<SyncStatus>(http.POST('/api/v1/sync/connect', { body })),
  /** The password goes to the server once (it keeps the session in the keychain), never to storage. */
  syncLogin: (body: LoginIn) => okAs<SyncStatus>(http.POST('/api/v1/sync/login', { body })),
  syncLogout: () => okAs<SyncStatus>(http.POST('/api/v1/sync/logout')),
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
