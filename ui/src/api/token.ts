// Where the API token comes from, in order: the desktop shell's injected
// `window.__HEARTH__.token`; a `?token=` in the address (kept in sessionStorage and removed
// from the address bar); sessionStorage; else the token screen asks for it.

export const TOKEN_KEY = 'hearth.token';

declare global {
  interface Window {
    __HEARTH__?: { token?: string };
    __TAURI_INTERNALS__?: { invoke: (cmd: string, args?: Record<string, unknown>) => Promise<unknown> };
  }
}

export type TokenSource = 'desktop' | 'address' | 'session' | 'none';

function session(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

export function bootstrapToken(win: Window = window): { token: string | null; source: TokenSource } {
  const injected = win.__HEARTH__?.token;
  if (typeof injected === 'string' && injected) return { token: injected, source: 'desktop' };

  const url = new URL(win.location.href);
  const fromUrl = url.searchParams.get('token');
  if (url.searchParams.has('token')) {
    url.searchParams.delete('token');
    const clean = url.pathname + (url.searchParams.size ? `?${url.searchParams}` : '') + url.hash;
    win.history.replaceState(win.history.state, '', clean);
    if (fromUrl) {
      session()?.setItem(TOKEN_KEY, fromUrl);
      return { token: fromUrl, source: 'address' };
    }
  }

  const stored = session()?.getItem(TOKEN_KEY);
  if (stored) return { token: stored, source: 'session' };
  return { token: null, source: 'none' };
}

export function storeToken(token: string) {
  session()?.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  session()?.removeItem(TOKEN_KEY);
}
