import { fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { setToken } from '../api/client';
import { switchBranch } from './actions';
import { BranchSwitcher } from './BranchSwitcher';

describe('<BranchSwitcher>', () => {
  it('shows n/count and moves both ways, disabled at the ends', () => {
    const onSwitch = vi.fn();
    const { rerender } = render(<BranchSwitcher index={1} count={3} onSwitch={onSwitch} />);
    expect(screen.getByTestId('branch-position').textContent).toBe('2/3');
    fireEvent.click(screen.getByRole('button', { name: 'Previous branch' }));
    fireEvent.click(screen.getByRole('button', { name: 'Next branch' }));
    expect(onSwitch.mock.calls).toEqual([[-1], [1]]);

    rerender(<BranchSwitcher index={0} count={3} onSwitch={onSwitch} />);
    expect((screen.getByRole('button', { name: 'Previous branch' }) as HTMLButtonElement).disabled).toBe(true);
    rerender(<BranchSwitcher index={2} count={3} onSwitch={onSwitch} />);
    expect((screen.getByRole('button', { name: 'Next branch' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('is absent for a message without siblings', () => {
    const { container } = render(<BranchSwitcher index={0} count={1} onSwitch={() => {}} />);
    expect(container.innerHTML).toBe('');
  });
});

describe('switchBranch', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('asks for the siblings, then shows the branch through the neighbour', async () => {
    const calls: { url: string; method: string; body?: string; auth: string | null }[] = [];
    const thread = { chat: { id: 'c1' }, messages: [{ id: 'b', sibling_index: 1, sibling_count: 3 }] };
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit) => {
        calls.push({ url, method: init.method ?? 'GET', body: init.body as string | undefined, auth: new Headers(init.headers).get('Authorization') });
        if (url.endsWith('/siblings')) return Response.json([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
        return Response.json(thread);
      }),
    );
    setToken('tok');
    const got = await switchBranch('c1', { id: 'a', sibling_index: 0 }, 1);
    expect(got).toEqual(thread);
    expect(calls).toEqual([
      { url: '/api/v1/messages/a/siblings', method: 'GET', body: undefined, auth: 'Bearer tok' },
      { url: '/api/v1/chats/c1/branch', method: 'POST', body: JSON.stringify({ message_id: 'b' }), auth: 'Bearer tok' },
    ]);
    // No neighbour that way: nothing asked beyond the siblings.
    expect(await switchBranch('c1', { id: 'a', sibling_index: 0 }, -1)).toBeNull();
  });
});
