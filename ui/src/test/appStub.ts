// The app's shared state for component tests: every field present and inert, so a test
// renders a screen without the app around it, and overrides only what it is about.
import type { AppState } from '../app/context';
import { createOutbox } from '../chat/outbox';

export function appStub(overrides: Partial<AppState> = {}): AppState {
  const noop = () => {};
  return {
    token: 't',
    workspaces: [],
    workspace: null,
    selectWorkspace: noop,
    reloadWorkspaces: async () => [],
    chats: [],
    reloadChats: async () => {},
    upsertChat: noop,
    currentChat: null,
    setCurrentChat: noop,
    deleteChat: noop,
    models: [],
    // Not known yet: nothing offers the first-run model setup unless a test says so.
    modelsLoaded: false,
    reloadModels: async () => {},
    settings: {},
    putSetting: async () => {},
    toast: noop,
    draftModel: '',
    setDraftModel: noop,
    openSearch: noop,
    threadNonce: 0,
    bumpThread: noop,
    outbox: createOutbox(),
    ...overrides,
  };
}
