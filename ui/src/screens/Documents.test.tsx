import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Document, Job, Workspace } from '../api/types';
import { Documents } from './Documents';

const ws = { id: 'w1', name: 'Notes', handle: 'notes' } as Workspace;

function doc(title: string): Document {
  return {
    id: `d-${title}`,
    workspace_id: 'w1',
    path: `/data/knowledge/w1/${title}.md`,
    title,
    format: 'markdown',
    sha256: '0'.repeat(64),
    size: 2048,
    chunks: 3,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
  };
}

function job(status: Job['status'], extra: Partial<Job> = {}): Job {
  return {
    id: 'j1',
    kind: 'ingest',
    status,
    workspace_id: 'w1',
    input: {},
    output: {},
    done: 0,
    total: 1,
    message: '',
    error: null,
    attempts: 1,
    cancel_requested: false,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    started_at: null,
    finished_at: null,
    ...extra,
  } as Job;
}

describe('<Documents>', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('uploads a picked file, follows its job to the end, then lists the document', async () => {
    let docs: Document[] = [];
    const polls = [job('running', { message: 'reading garden.md', done: 0, total: 1 }), job('succeeded', { message: '1 added, 0 updated, 0 unchanged', done: 1 })];
    const calls: string[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit = {}) => {
        calls.push(`${init.method ?? 'GET'} ${url}`);
        if (url === '/api/v1/workspaces/w1/documents') return Response.json(docs);
        if (url.startsWith('/api/v1/workspaces/w1/documents/upload')) {
          expect(init.body).toBeInstanceOf(File);
          expect((init.body as File).name).toBe('garden notes.md');
          docs = [doc('Garden')];
          return Response.json(job('queued'), { status: 202 });
        }
        if (url === '/api/v1/jobs/j1') return Response.json(polls.shift());
        return Response.json({ error: { message: 'unexpected', type: 'x', code: 'not_found' } }, { status: 404 });
      }),
    );
    render(<Documents ws={ws} />);
    await screen.findByText('No documents yet.');
    const file = new File(['# Garden\n'], 'garden notes.md', { type: 'text/markdown' });
    fireEvent.change(screen.getByTestId('document-picker'), { target: { files: [file] } });
    await screen.findByText('Garden');
    const line = screen.getByText('garden notes.md').closest('li')!;
    expect(line.getAttribute('data-status')).toBe('succeeded');
    expect(line.textContent).toContain('1 added');
    expect(calls).toContain('POST /api/v1/workspaces/w1/documents/upload?name=garden%20notes.md');
  });

  it('shows a refused file with its reason and each file a job could not read', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string) => {
        if (url === '/api/v1/workspaces/w1/documents') return Response.json([]);
        if (url.includes('name=photo.jpg'))
          return Response.json({ error: { message: '"photo.jpg" is not a kind of document Hearth reads', type: 'invalid_request_error', code: 'invalid', param: 'name' } }, { status: 400 });
        if (url.startsWith('/api/v1/workspaces/w1/documents/upload')) return Response.json(job('queued'), { status: 202 });
        if (url === '/api/v1/jobs/j1') return Response.json(job('succeeded', { message: '0 added, 0 updated, 0 unchanged, 1 failed', output: { failed: [{ path: '/x/blob.txt', error: 'not a text file' }] } }));
        return Response.json({}, { status: 404 });
      }),
    );
    render(<Documents ws={ws} />);
    await screen.findByText('No documents yet.');
    const files = [new File(['\xff'], 'photo.jpg'), new File(['PK'], 'blob.txt')];
    fireEvent.drop(screen.getByTestId('drop-zone'), { dataTransfer: { files } });
    await waitFor(() => expect(screen.getByText('photo.jpg').closest('li')!.getAttribute('data-status')).toBe('failed'));
    expect(screen.getByText('photo.jpg').closest('li')!.textContent).toContain('is not a kind of document Hearth reads');
    await waitFor(() => expect(screen.getByText('blob.txt').closest('li')!.textContent).toContain('blob.txt: not a text file'));
  });
});
