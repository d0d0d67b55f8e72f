// Names for the generated OpenAPI types (schema.ts is made by `npm run gen:api`), plus the
// few shapes the server's document leaves open (`type: object`).
import type { components, paths } from './schema';

type S = components['schemas'];

export type Message = S['Message'];
export type Citation = S['Citation'];
export type Document = S['Document'];
export type Job = S['Job'];
export type BranchMessage = S['BranchMessage'];
export type MessageStatus = S['MessageStatus'];
export type Thread = S['Thread'];
export type Chat = S['Chat'];
export type ChatFields = S['ChatFields'];
export type NewChatIn = S['NewChatIn'];
export type SendIn = S['SendIn'];
export type Sent = S['Sent'];
export type SearchHit = S['SearchHit'];
export type Snippet = S['Snippet'];
export type Workspace = S['Workspace'];
export type WorkspaceFields = S['WorkspaceFields'];
export type LocalModel = S['LocalModel'];
export type ModelObject = S['ModelObject'];
export type ModelList = S['ModelList'];
export type ProviderInfo = S['ProviderInfo'];
export type ProviderIn = S['ProviderIn'];
export type ProviderPatchIn = S['ProviderPatchIn'];
export type PresetOut = S['PresetOut'];
export type KeyState = S['KeyState'];
export type ImportIn = S['ImportIn'];
export type ErrorObject = S['ErrorObject'];
export type ErrorBody = S['ErrorBody'];
export type AnswerIn = S['AnswerIn'];
export type ToolCall = S['ToolCall'];
export type McpServerIn = S['McpServerIn'];
export type McpServerOut = S['McpServerOut'];
export type McpToolsOut = S['McpToolsOut'];
/** How an attached MCP server is doing (`McpServerOut.health`). */
export type McpHealth =
  | { state: 'starting' }
  | { state: 'ready'; tools: number }
  | { state: 'failed'; error: string; attempts: number }
  | { state: 'disabled' };
/** A person's answer to a tool call that asks first. */
export type Approval = 'once' | 'always' | 'deny';
export type ConnectIn = S['ConnectIn'];
export type LoginIn = S['LoginIn'];

/** The JSON body of a route's successful answer, as the OpenAPI document describes it. */
export type JsonOf<
  P extends keyof paths,
  M extends 'get' | 'post' | 'put' | 'patch' | 'delete',
  C extends number = 200,
> = paths[P][M] extends { responses: infer R }
  ? R extends Record<C, { content: { 'application/json': infer J } }>
    ? J
    : never
  : never;

/** The JSON request body of a route. */
export type BodyOf<P extends keyof paths, M extends 'post' | 'put' | 'patch'> = paths[P][M] extends {
  requestBody: { content: { 'application/json': infer B } };
}
  ? B
  : never;

/** `GET /api/v1/sync` and the `status` events of `/api/v1/sync/events` (an open object in the document). */
export interface SyncStatus {
  connected: boolean;
  rest_url?: string | null;
  auth_url?: string | null;
  client_id?: string | null;
  signed_in: boolean;
  user_id?: string | null;
  email?: string | null;
  session_expires_at?: string | null;
  pending: { changes: number; transactions: number; oldest?: string | null };
  rejected: SyncRejected[];
  /** Pulled rows kept aside, not applied (they would have hung or broken this device). */
  quarantined?: SyncQuarantined[];
  last_push_at?: string | null;
  last_pull_at?: string | null;
  last_error?: string | null;
  last_error_at?: string | null;
  cursor?: unknown;
  head?: number;
  activity: 'stopped' | 'idle' | 'pushing' | 'pulling' | 'backing_off' | string;
}

export interface SyncRejected {
  tx_seq: number;
  sqlstate?: string | null;
  message: string;
  changes?: unknown[];
}

export interface SyncQuarantined {
  table: string;
  row_id: string;
  reason: string;
  row?: unknown;
  quarantined_at: string;
}

export interface SyncRound {
  round: { pushed: number; rejected: number; pulled: number; requests: number };
  status: SyncStatus;
}

/**
 * The default model's download (`GET /api/v1/models/fetch`, `POST /api/v1/models/fetch`,
 * `POST /api/v1/models/fetch/cancel`). Written by hand until the server's document describes
 * these routes.
 */
/** Where the default model's download stands (the server sends it as a plain string). */
export type FetchState = 'idle' | 'downloading' | 'verifying' | 'done' | 'failed' | 'cancelled';
/** A model Hearth can download by itself. */
export type CatalogModelInfo = S['CatalogModelOut'];
export type FetchStatus = Omit<S['FetchStatusOut'], 'state'> & { state: FetchState };

/** The events of a reply's stream. */
export interface ReplyStart {
  message_id: string;
  chat_id: string;
  parent_id: string | null;
  model: string | null;
}
export interface ReplyEnd {
  message: Message;
  finish_reason: string | null;
  usage?: { prompt_tokens?: number; completion_tokens?: number; cached_prompt_tokens?: number } | null;
}

/** UI settings kept on the server (`GET /api/v1/settings`). */
export type Theme = 'light' | 'dark' | 'system';
export interface Settings {
  default_model?: string;
  'ui.theme'?: Theme;
  'ui.workspace'?: string;
  model_keep_alive_secs?: number;
  [key: string]: unknown;
}
