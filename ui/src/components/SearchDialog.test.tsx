import { act, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SearchHit } from '../api/types';
import { AppContext } from '../app/context';
import { appStub } from '../test/appStub';
import SearchDialog from './SearchDialog';

const hit: SearchHit = {
  chat_id: 'c1',
  chat_title: 'Lighthouses',
  created_at: '2024-01-01T00:00:00Z',
  message_id: 'm1',
  rank: -1,
  role: 'user',
  snippet: { text: 'the lighthouse keeper', highlights: [[4, 14]] },
  workspace_id: 'w1',
};

function renderDialog(onClose = vi.fn()) {
  render(
    <AppContext.Provider value={appStub()}>
      <SearchDialog onClose={onClose} />
    </AppContext.Provider>,
  );
  return { onClose, dialog: screen.getByRole('dialog', { name: 'Search messages' }) as HTMLDialogElement };
}

describe('<SearchDialog>', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('opens as a modal dialog with the search box focused', () => {
    const { dialog } = renderDialog();
    expect(dialog.tagName).toBe('DIALOG');
    expect(dialog.open).toBe(true);
    expect(document.activeElement).toBe(screen.getByRole('combobox', { name: 'Search all messages' }));
  });

  it("closes on the dialog's cancel (Escape), and the Escape does not reach the page behind", () => {
    const { dialog, onClose } = renderDialog();
    const onWindowKey = vi.fn();
    window.addEventListener('keydown', onWindowKey);
    fireEvent.keyDown(screen.getByRole('combobox'), { key: 'Escape' });
    window.removeEventListener('keydown', onWindowKey);
    expect(onWindowKey).not.toHaveBeenCalled();
    expect(onClose).not.toHaveBeenCalled();
    fireEvent(dialog, new Event('cancel', { cancelable: true }));
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  it('closes on a click on the backdrop, not on its content', () => {
    const { dialog, onClose } = renderDialog();
    fireEvent.mouseDown(screen.getByRole('combobox'));
    expect(onClose).not.toHaveBeenCalled();
    fireEvent.mouseDown(dialog);
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  it('shows the hits of a query and forgets them when the box is emptied', async () => {
    vi.useFakeTimers();
    const fetch = vi.fn(async () => Response.json([hit]));
    vi.stubGlobal('fetch', fetch);
    renderDialog();
    const box = screen.getByRole('combobox');
    fireEvent.change(box, { target: { value: 'lighthouse' } });
    await act(() => vi.advanceTimersByTimeAsync(200));
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(screen.getByRole('option').textContent).toContain('Lighthouses');
    fireEvent.change(box, { target: { value: '' } });
    expect(screen.queryByRole('option')).toBeNull();
  });

  it('gives the focus back to where it was when it closes', () => {
    const before = document.createElement('button');
    document.body.appendChild(before);
    before.focus();
    const { unmount } = render(
      <AppContext.Provider value={appStub()}>
        <SearchDialog onClose={() => {}} />
      </AppContext.Provider>,
    );
    const dialog = screen.getByRole('dialog') as HTMLDialogElement;
    unmount();
    expect(dialog.open).toBe(false);
    expect(document.activeElement).toBe(before);
    before.remove();
  });
});
