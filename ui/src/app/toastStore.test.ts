import { describe, expect, it, vi } from 'vitest';
import { createToastStore } from './toastStore';

describe('toast store', () => {
  it('numbers pushed toasts, dismisses by id, and tells subscribers only of changes', () => {
    const store = createToastStore();
    const listener = vi.fn();
    const unsubscribe = store.subscribe(listener);
    store.push({ text: 'a' });
    store.push({ text: 'b', kind: 'error' });
    expect(store.snapshot()).toEqual([
      { text: 'a', id: 1 },
      { text: 'b', kind: 'error', id: 2 },
    ]);
    const before = store.snapshot();
    store.dismiss(7);
    expect(store.snapshot()).toBe(before);
    store.dismiss(1);
    expect(store.snapshot().map((t) => t.id)).toEqual([2]);
    expect(listener).toHaveBeenCalledTimes(3);
    unsubscribe();
    store.push({ text: 'c' });
    expect(listener).toHaveBeenCalledTimes(3);
  });
});
