import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bootstrapToken, TOKEN_KEY } from './token';

describe('bootstrapToken', () => {
  beforeEach(() => {
    sessionStorage.clear();
    delete window.__HEARTH__;
    window.history.replaceState(null, '', '/');
  });
  afterEach(() => {
    delete window.__HEARTH__;
  });

  it('takes ?token= from the address, keeps it in sessionStorage and removes it from the address bar', () => {
    window.history.replaceState(null, '', '/?token=abc123&x=1#/c/42');
    const got = bootstrapToken();
    expect(got).toEqual({ token: 'abc123', source: 'address' });
    expect(sessionStorage.getItem(TOKEN_KEY)).toBe('abc123');
    expect(window.location.search).toBe('?x=1');
    expect(window.location.hash).toBe('#/c/42');
    expect(window.location.href).not.toContain('abc123');
  });

  it('then reads it back from sessionStorage', () => {
    window.history.replaceState(null, '', '/?token=fromurl');
    bootstrapToken();
    window.history.replaceState(null, '', '/');
    expect(bootstrapToken()).toEqual({ token: 'fromurl', source: 'session' });
    expect(localStorage.getItem(TOKEN_KEY)).toBeNull();
  });

  it("prefers the desktop shell's injected token and does not store it", () => {
    window.__HEARTH__ = { token: 'desk' };
    window.history.replaceState(null, '', '/');
    expect(bootstrapToken()).toEqual({ token: 'desk', source: 'desktop' });
    expect(sessionStorage.getItem(TOKEN_KEY)).toBeNull();
  });

  it('reports none when there is no token anywhere', () => {
    expect(bootstrapToken()).toEqual({ token: null, source: 'none' });
  });

  it('cleans an empty ?token= from the address too', () => {
    window.history.replaceState(null, '', '/?token=');
    expect(bootstrapToken().token).toBeNull();
    expect(window.location.search).toBe('');
  });
});
