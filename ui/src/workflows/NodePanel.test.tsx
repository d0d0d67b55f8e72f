import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { AppContext } from '../app/context';
import { appStub } from '../test/appStub';
import { toFlowNode } from './graph';
import { NodePanel } from './NodePanel';

function panel(config: Record<string, unknown>, onChange: (c: Record<string, unknown>) => void) {
  const node = toFlowNode({ id: 'h', type: 'http', position: { x: 0, y: 0 }, config });
  return render(
    <AppContext.Provider value={appStub()}>
      <NodePanel node={node} nodes={[node]} edges={[]} problems={[]} onChange={onChange} />
    </AppContext.Provider>,
  );
}

describe('<NodePanel> for an http node', () => {
  it('turns local addresses on for the node, and off again by leaving the setting out', () => {
    const onChange = vi.fn();
    const url = 'http://localhost:8080/';
    const { unmount } = panel({ url }, onChange);
    const box = screen.getByLabelText('Allow local and private network addresses') as HTMLInputElement;
    expect(box.checked).toBe(false);
    fireEvent.click(box);
    expect(onChange).toHaveBeenLastCalledWith({ url, allow_local: true });
    unmount();

    panel({ url, allow_local: true }, onChange);
    const on = screen.getByLabelText('Allow local and private network addresses') as HTMLInputElement;
    expect(on.checked).toBe(true);
    fireEvent.click(on);
    expect(onChange).toHaveBeenLastCalledWith({ url });
  });

  it('warns when a header value looks like a key, and not when it names a secret', () => {
    const { unmount } = panel({ url: 'https://api.example.com/', headers: { Authorization: 'Bearer sk-abcdefghijklmnopqrstuvwxyz012345' } }, vi.fn());
    expect(screen.getByRole('alert').textContent).toContain('Authorization: this looks like a key');
    unmount();
    panel({ url: 'https://api.example.com/', headers: { Authorization: 'Bearer {{secret:OPENAI}}', Accept: 'application/json' } }, vi.fn());
    expect(screen.queryByRole('alert')).toBeNull();
  });
});
