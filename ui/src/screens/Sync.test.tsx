import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SyncStatus } from '../api/types';
import { AppContext, SyncContext } from '../app/context';
import { appStub } from '../test/appStub';
import Sync from './Sync';

const signedOut: SyncStatus = { connected: true, signed_in: false, pending: { changes: 0, transactions: 0 }, rejected: [], quarantined: [], activity: 'stopped' };

describe('<Sync>', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('asks what becomes of the data when another account signs in, and sends the answer', async () => {
    const bodies: Record<string, unknown>[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit = {}) => {
        if (url === '/api/v1/sync/login') {
          const body = JSON.parse(String(init.body));
          bodies.push(body);
          if (!body.local_data) {
            return Response.json(
              { error: { message: 'this device syncs for another account (ada)', type: 'invalid_request_error', code: 'conflict', param: 'local_data' } },
              { status: 409 },
            );
          }
          return Response.json({ ...signedOut, signed_in: true });
        }
        return Response.json(signedOut);
      }),
    );
    render(
      <AppContext.Provider value={appStub()}>
        <SyncContext.Provider value={{ sync: signedOut, setSync: () => {} }}>
          <Sync />
        </SyncContext.Provider>
      </AppContext.Provider>,
    );
    const fill = () => {
      fireEvent.change(screen.getByLabelText('Email'), { target: { value: 'bob@example.com' } });
      fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'secret' } });
    };
    fill();
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    const question = await screen.findByRole('group', { name: 'This device synced for another account' });
    expect(question.textContent).toContain('Keep it on this device only');
    expect(screen.queryByRole('alert')).toBeNull();

    fireEvent.click(screen.getByLabelText('Copy it to the new account'));
    fill();
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(bodies).toHaveLength(2));
    expect(bodies[0]).toEqual({ email: 'bob@example.com', password: 'secret' });
    expect(bodies[1]).toEqual({ email: 'bob@example.com', password: 'secret', local_data: 'push' });
    await screen.findByText('Signed in.');
  });
});
