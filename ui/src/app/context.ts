import { createContext, useContext } from 'react';
import type { Chat, ModelObject, Settings, SyncStatus, Workspace } from '../api/types';

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
  reloadModels(): Promise<void>;
  settings: Settings;
  putSetting(key: string, value: unknown): Promise<void>;
  sync: SyncStatus | null;
  setSync(s: SyncStatus): void;
  toast(t: ToastInput): void;
  /** The model picked for the chat not created yet. */
  draftModel: string;
  setDraftModel(m: string): void;
  openSearch(): void;
  /** Bumped to make the chat view reload its thread (after a search opens a branch). */
  threadNonce: number;
  bumpThread(): void;
}

export const AppContext = createContext<AppState | null>(null);

export function useApp(): AppState {
  const ctx = useContext(AppContext);
  if (!ctx) throw new Error('useApp outside <AppContext>');
  return ctx;
}

/** The default model a chat without its own would use. */
export function effectiveDefault(workspace: Workspace | null, settings: Settings): string {
  return workspace?.default_model || (typeof settings.default_model === 'string' ? settings.default_model : '') || '';
}
