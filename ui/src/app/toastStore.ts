// The toasts on screen, kept outside React state: the app pushes a toast through a function
// that never changes, and only the <Toasts> host subscribes to the list. A toast coming or
// going therefore re-renders the host alone, not the app and every screen under it.
import type { ToastInput } from './context';

export interface Toast extends ToastInput {
  id: number;
}

export interface ToastStore {
  push(t: ToastInput): void;
  dismiss(id: number): void;
  subscribe(listener: () => void): () => void;
  /** The current list; a new array after each change, the same one otherwise. */
  snapshot(): readonly Toast[];
}

export function createToastStore(): ToastStore {
  let toasts: readonly Toast[] = [];
  let nextId = 0;
  const listeners = new Set<() => void>();
  const set = (next: readonly Toast[]) => {
    toasts = next;
    for (const l of listeners) l();
  };
  return {
    push: (t) => set([...toasts, { ...t, id: ++nextId }]),
    dismiss: (id) => {
      if (toasts.some((t) => t.id === id)) set(toasts.filter((t) => t.id !== id));
    },
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    snapshot: () => toasts,
  };
}
