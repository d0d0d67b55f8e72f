import { memo, useState, type KeyboardEvent } from 'react';
import { api, describeError } from '../api/client';
import type { Chat } from '../api/types';
import { useApp } from '../app/context';
import { hrefFor, navigate, type Route } from '../lib/router';
import { Icon } from './Icon';

const ChatItem = memo(function ChatItem({
  chat,
  active,
  onPin,
  onRename,
  onDelete,
}: {
  chat: Chat;
  active: boolean;
  onPin: (chat: Chat) => void;
  onRename: (chat: Chat, title: string) => void;
  onDelete: (chat: Chat) => void;
}) {
  const [editing, setEditing] = useState(false);
  const [title, setTitle] = useState(chat.title);
  const name = chat.title || 'New chat';

  const finish = (save: boolean) => {
    setEditing(false);
    const t = title.trim();
    if (save && t && t !== chat.title) onRename(chat, t);
    else setTitle(chat.title);
  };
  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter') finish(true);
    else if (e.key === 'Escape') finish(false);
  };

  return (
    <li className={`chat-item${active ? ' active' : ''}${chat.pinned ? ' pinned' : ''}`} data-chat-id={chat.id}>
      {editing ? (
        <input
          className="rename-input"
          aria-label="Chat title"
          value={title}
          // eslint-disable-next-line jsx-a11y/no-autofocus -- the field appears because the user just chose Rename, so focus follows their action
          autoFocus
          onChange={(e) => setTitle(e.target.value)}
          onKeyDown={onKey}
          onBlur={() => finish(true)}
        />
      ) : (
        <a className="chat-link" href={hrefFor({ name: 'chat', chatId: chat.id })} aria-current={active ? 'page' : undefined} title={name}>
          {chat.pinned && (
            <span className="pin-mark" aria-label="Pinned">
              <Icon name="pin" size={12} />
            </span>
          )}
          <span className="chat-title">{name}</span>
        </a>
      )}
      {!editing && (
        <div className="chat-actions">
          <button className="icon-btn" aria-label={chat.pinned ? `Unpin ${name}` : `Pin ${name}`} aria-pressed={chat.pinned} title={chat.pinned ? 'Unpin' : 'Pin'} onClick={() => onPin(chat)}>
            <Icon name="pin" size={14} />
          </button>
          <button
            className="icon-btn"
            aria-label={`Rename ${name}`}
            title="Rename"
            onClick={() => {
              setTitle(chat.title);
              setEditing(true);
            }}
          >
            <Icon name="edit" size={14} />
          </button>
          <button className="icon-btn danger" aria-label={`Delete ${name}`} title="Delete" onClick={() => onDelete(chat)}>
            <Icon name="trash" size={14} />
          </button>
        </div>
      )}
    </li>
  );
});

const NEW_WORKSPACE = '__new_workspace__';

export const Sidebar = memo(function Sidebar({ route }: { route: Route }) {
  const app = useApp();

  const update = async (chat: Chat, fields: { pinned?: boolean; title?: string }) => {
    app.upsertChat({ ...chat, ...fields });
    try {
      app.upsertChat(await api.updateChat(chat.id, fields));
    } catch (e) {
      app.upsertChat(chat);
      app.toast({ text: `Could not update the chat: ${describeError(e)}`, kind: 'error' });
    }
  };

  const screens: { name: Route['name']; label: string; icon: string }[] = [
    { name: 'models', label: 'Models', icon: 'cpu' },
    { name: 'providers', label: 'Providers', icon: 'cloud' },
    { name: 'tools', label: 'Tools', icon: 'flow' },
    { name: 'workflows', label: 'Workflows', icon: 'flow' },
    { name: 'sync', label: 'Sync', icon: 'sync' },
    { name: 'workspaces', label: 'Workspaces', icon: 'layers' },
    { name: 'settings', label: 'Settings', icon: 'gear' },
  ];

  return (
    <aside className="sidebar" aria-label="Sidebar">
      <div className="sidebar-top">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">
            ◆
          </span>
          Hearth
        </div>
        <label className="ws-switch">
          <span className="visually-hidden">Workspace</span>
          <select
            aria-label="Workspace"
            value={app.workspace?.id ?? ''}
            onChange={(e) => {
              if (e.target.value === NEW_WORKSPACE) {
                navigate({ name: 'workspaces' });
                return;
              }
              app.selectWorkspace(e.target.value);
              navigate({ name: 'new' });
            }}
          >
            {app.workspaces.map((w) => (
              <option key={w.id} value={w.id}>
                {w.name}
              </option>
            ))}
            <option value={NEW_WORKSPACE}>New workspace…</option>
          </select>
        </label>
        <button className="btn primary new-chat" onClick={() => navigate({ name: 'new' })} aria-label="New chat" title="New chat (Ctrl+N)">
          <Icon name="plus" /> New chat
        </button>
        <button className="btn ghost search-btn" onClick={app.openSearch} aria-label="Search messages" title="Search messages (Ctrl+K)">
          <Icon name="search" /> <span>Search</span>
          <kbd>Ctrl K</kbd>
        </button>
      </div>
      <nav className="chat-list" aria-label="Chats">
        {app.chats.length === 0 ? (
          <p className="muted small empty-list">No chats yet in this workspace.</p>
        ) : (
          <ul>
            {app.chats.map((c) => (
              <ChatItem
                key={c.id}
                chat={c}
                active={route.name === 'chat' && route.chatId === c.id}
                onPin={(chat) => update(chat, { pinned: !chat.pinned })}
                onRename={(chat, title) => update(chat, { title })}
                onDelete={app.deleteChat}
              />
            ))}
          </ul>
        )}
      </nav>
      <nav className="screens" aria-label="Screens">
        {screens.map((s) => {
          // The editor of one workflow is still within Workflows.
          const active = route.name === s.name || (s.name === 'workflows' && route.name === 'workflow');
          return (
            <a key={s.name} href={hrefFor({ name: s.name } as Route)} className={active ? 'active' : ''} aria-current={active ? 'page' : undefined}>
              <Icon name={s.icon} /> {s.label}
            </a>
          );
        })}
      </nav>
    </aside>
  );
});
