// The bar above the screen: the sidebar button, the chat's model picker or the screen's
// title, the background jobs going, and the sync badge.
import { memo } from 'react';
import { api, describeError } from '../api/client';
import { effectiveDefault, useApp, useSync } from '../app/context';
import type { Route } from '../lib/router';
import { Icon } from './Icon';
import { JobsIndicator } from './JobsIndicator';
import { ModelPicker } from './ModelPicker';
import { SyncBadge } from './SyncBadge';

const titles: Record<string, string> = {
  models: 'Models',
  providers: 'Providers',
  sync: 'Sync',
  settings: 'Settings',
  workspaces: 'Workspaces',
  workflows: 'Workflows',
  workflow: 'Workflow',
};

/** The badge reads the sync status itself, so a sync event re-renders it and not the header. */
function LiveSyncBadge() {
  return <SyncBadge status={useSync().sync} />;
}

export const Header = memo(function Header({ route, onMenu }: { route: Route; onMenu: () => void }) {
  const app = useApp();
  const isChat = route.name === 'chat' || route.name === 'new';
  const chat = route.name === 'chat' && app.currentChat?.id === route.chatId ? app.currentChat : null;
  const value = route.name === 'new' ? app.draftModel : (chat?.model ?? '');

  const change = async (model: string) => {
    if (route.name === 'new') {
      app.setDraftModel(model);
      return;
    }
    if (!chat) return;
    try {
      app.upsertChat(await api.updateChat(chat.id, { model }));
    } catch (e) {
      app.toast({ text: `Could not change the model: ${describeError(e)}`, kind: 'error' });
    }
  };

  return (
    <header className="header">
      <button className="icon-btn menu-btn" aria-label="Show the sidebar" onClick={onMenu}>
        <Icon name="menu" />
      </button>
      {isChat ? (
        <div className="header-chat">
          <ModelPicker
            models={app.models}
            value={value}
            defaultName={effectiveDefault(app.workspace, app.settings)}
            onChange={change}
            disabled={route.name === 'chat' && !chat}
          />
        </div>
      ) : (
        <h1 className="header-title">{titles[route.name] ?? ''}</h1>
      )}
      <div className="header-right">
        <JobsIndicator />
        <LiveSyncBadge />
      </div>
    </header>
  );
});
