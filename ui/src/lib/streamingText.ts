// The text of a reply while it streams. Deltas are appended to a buffer and subscribers are
// told at most once per animation frame, so a 2,000-token reply re-renders only the streaming
// message, about 60 times a second at most, whatever the token rate.

type Scheduler = (cb: () => void) => void;

const defaultScheduler: Scheduler = (cb) => {
  if (typeof requestAnimationFrame === 'function' && typeof document !== 'undefined' && document.visibilityState !== 'hidden') {
    requestAnimationFrame(() => cb());
  } else {
    setTimeout(cb, 16);
  }
};

export class StreamingText {
  private text = '';
  private pending = '';
  private scheduled = false;
  private listeners = new Set<() => void>();
  /** How many times subscribers were told (for tests and the curious). */
  notifications = 0;

  constructor(initial = '', private readonly schedule: Scheduler = defaultScheduler) {
    this.text = initial;
  }

  append(delta: string) {
    if (!delta) return;
    this.pending += delta;
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.flush());
    }
  }

  /** Applies buffered deltas now (the scheduled frame, or the end of the reply). */
  flush() {
    this.scheduled = false;
    if (!this.pending) return;
    this.text += this.pending;
    this.pending = '';
    this.notifications++;
    for (const l of this.listeners) l();
  }

  /** Everything received so far, flushed or not. */
  get full(): string {
    return this.text + this.pending;
  }

  subscribe = (fn: () => void) => {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  };

  getSnapshot = () => this.text;
}
