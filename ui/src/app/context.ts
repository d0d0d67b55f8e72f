// What the app shares with its screens: the data and actions of `AppContext`, and the sync
// status in a context of its own (see `useSync`).
import { createContext, useContext } from 'react';
import type { Chat, ModelObject, Settings, SyncStatus, Workspace } from '../api/types';
import type { Outbox } from '../chat/outbox';

export interface ToastInput {
  text: string;
  actionLabel?: string;
  onAction?: () => void;
  /** ms; default 4000 */
  timeout?: number;
  kind?: 'info' | 'error';
}

export interface AppState {
  token: string;
  workspaces: Workspace[];
  workspace: Workspace | null;
  selectWorkspace(id: string): void;
  reloadWorkspaces(): Promise<Workspace[]>;
  chats: Chat[];
  reloadChats(): Promise<void>;
  upsertChat(chat: Chat): void;
  /** The chat on screen (set by the chat view). */
  currentChat: Chat | null;
  setCurrentChat(chat: Chat | null): void;
  deleteChat(chat: Chat): void;
  models: ModelObject[];
  /** The model list has been loaded once (before that, an empty `models` means "not known yet"). */
  modelsLoaded: boolean;
  /** Loads the model list again, and the settings with it (the default model may have changed). */
  reloadModels(): Promise<void>;
  settings: Settings;
  putSetting(key: string, value: unknown): Promise<void>;
  toast(t: ToastInput): void;
  /** The model picked for the chat not created yet. */
  draftModel: string;
  setDraftModel(m: string): void;
  openSearch(): void;
  /** Bumped to make the chat view reload its thread (after a search opens a branch). */
  threadNonce: number;
  bumpThread(): void;
  /** First messages typed on the "new chat" screen, waiting for their chat's view. */
  outbox: Outbox;
}

export const AppContext = createContext<AppState | null>(null);

/** The app's data and actions. The value changes only when one of its members does. */
export function useApp(): AppState {
  const ctx = useContext(AppContext);
  if (!ctx) throw new Error('useApp outside <AppContext>');
  return ctx;
}

/**
 * The sync status, in a context of its own: it changes with every sync event, and only the
 * header's badge and the Sync screen read it.
 */
export interface SyncState {
  sync: SyncStatus | null;
  setSync(s: SyncStatus): void;
}

export const SyncContext = createContext<SyncState | null>(null);

export function useSync(): SyncState {
  const ctx = useContext(SyncContext);
  if (!ctx) throw new Error('useSync outside <SyncContext>');
  return ctx;
}

/** The models on this device (`owned_by: "hearth"`); the others are providers' models. */
export function localModels(models: ModelObject[]): ModelObject[] {
  return models.filter((m) => m.owned_by === 'hearth');
}

/** The default model a chat without its own would use. */
export function effectiveDefault(workspace: Workspace | null, settings: Settings): string {
  return workspace?.default_model || (typeof settings.default_model === 'string' ? settings.default_model : '') || '';
}
