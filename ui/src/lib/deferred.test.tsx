import { act, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UNDO_MS, useDeferredDelete } from './deferred';

function List({ onCommit }: { onCommit: (id: string) => void }) {
  const { hidden, remove, undo } = useDeferredDelete(onCommit);
  const items = ['one', 'two'].filter((id) => !hidden.has(id));
  return (
    <div>
      <ul>
        {items.map((id) => (
          <li key={id}>
            {id}
            <button onClick={() => remove(id)}>Delete {id}</button>
          </li>
        ))}
      </ul>
      {hidden.has('one') && <button onClick={() => undo('one')}>Undo</button>}
    </div>
  );
}

describe('delete with undo', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('hides at once and deletes only when the undo window ends', async () => {
    const commit = vi.fn();
    render(<List onCommit={commit} />);
    fireEvent.click(screen.getByText('Delete one'));
    expect(screen.queryByText('one')).toBeNull();
    act(() => vi.advanceTimersByTime(UNDO_MS - 1));
    expect(commit).not.toHaveBeenCalled();
    await act(async () => vi.advanceTimersByTime(1));
    expect(commit).toHaveBeenCalledWith('one');
    expect(commit).toHaveBeenCalledTimes(1);
  });

  it('Undo brings it back and nothing is deleted', () => {
    const commit = vi.fn();
    render(<List onCommit={commit} />);
    fireEvent.click(screen.getByText('Delete one'));
    act(() => vi.advanceTimersByTime(3000));
    fireEvent.click(screen.getByText('Undo'));
    expect(screen.getByText('one')).toBeTruthy();
    act(() => vi.advanceTimersByTime(UNDO_MS * 3));
    expect(commit).not.toHaveBeenCalled();
  });

  it('closing the page (unmounting) before the window ends deletes nothing', () => {
    const commit = vi.fn();
    const { unmount } = render(<List onCommit={commit} />);
    fireEvent.click(screen.getByText('Delete one'));
    fireEvent.click(screen.getByText('Delete two'));
    unmount();
    act(() => vi.advanceTimersByTime(UNDO_MS * 2));
    expect(commit).not.toHaveBeenCalled();
  });
});
