// A tiny hash router: #/c/{chat}[/{message}], #/new, #/models, #/providers, #/tools, #/sync,
// #/settings, #/workspaces, #/workflows[/{workflow}].
import { useEffect, useState } from 'react';

export type Route =
  | { name: 'new' }
  | { name: 'chat'; chatId: string; messageId?: string }
  | { name: 'workflow'; id: string }
  | { name: 'models' | 'providers' | 'tools' | 'sync' | 'settings' | 'workspaces' | 'workflows' };

export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case 'c':
      if (parts[1]) return { name: 'chat', chatId: parts[1], messageId: parts[2] };
      return { name: 'new' };
    case 'workflows':
      if (parts[1]) return { name: 'workflow', id: parts[1] };
      return { name: 'workflows' };
    case 'models':
    case 'providers':
    case 'tools':
    case 'sync':
    case 'settings':
    case 'workspaces':
      return { name: parts[0] };
    default:
      return { name: 'new' };
  }
}

export function hrefFor(route: Route): string {
  switch (route.name) {
    case 'new':
      return '#/new';
    case 'chat':
      return `#/c/${encodeURIComponent(route.chatId)}${route.messageId ? `/${encodeURIComponent(route.messageId)}` : ''}`;
    case 'workflow':
      return `#/workflows/${encodeURIComponent(route.id)}`;
    default:
      return `#/${route.name}`;
  }
}

export function navigate(route: Route, replace = false) {
  const href = hrefFor(route);
  if (replace) {
    window.history.replaceState(window.history.state, '', href);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else if (window.location.hash !== href) {
    window.location.hash = href;
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
