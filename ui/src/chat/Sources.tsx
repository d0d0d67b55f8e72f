// The knowledge passages a reply was given (its `citations`), under the reply: each a button
// that opens the passage as the model read it, with its document, page and heading. Sources
// the answer cites by number come first and are marked; the others are listed as "also
// given", so the user sees everything the model was shown.
import { useState } from 'react';
import type { Citation } from '../api/types';

function place(c: Citation): string {
  const parts: string[] = [];
  if (c.page != null) parts.push(`page ${c.page}`);
  if (c.heading) parts.push(c.heading);
  return parts.join(' · ');
}

/** The innermost heading, when it says more than the title (passages of one document differ by it). */
function section(c: Citation): string {
  const last = c.heading.split(' > ').pop() ?? '';
  return last && last !== c.title ? last : '';
}

export function Sources({ citations }: { citations: Citation[] }) {
  const [open, setOpen] = useState<number | null>(null);
  if (citations.length === 0) return null;
  const ordered = [...citations].sort((a, b) => Number(b.cited) - Number(a.cited) || a.n - b.n);
  const shown = citations.find((c) => c.n === open);
  return (
    <div className="sources" data-testid="sources">
      <span className="sources-label muted small">Sources</span>
      <ul className="sources-list">
        {ordered.map((c) => (
          <li key={c.n}>
            <button
              className={`source-chip${c.cited ? ' cited' : ''}${open === c.n ? ' open' : ''}`}
              aria-expanded={open === c.n}
              aria-controls={`passage-${c.document_id}-${c.chunk}`}
              title={c.cited ? `Cited as [${c.n}]` : 'Given to the model, not cited'}
              onClick={() => setOpen(open === c.n ? null : c.n)}
            >
              <span className="source-n">[{c.n}]</span> {c.title}
              {section(c) && <span className="muted"> · {section(c)}</span>}
              {c.page != null && <span className="muted"> · p. {c.page}</span>}
            </button>
          </li>
        ))}
      </ul>
      {shown && (
        <blockquote className="passage" id={`passage-${shown.document_id}-${shown.chunk}`} data-testid="passage" aria-label={`Passage [${shown.n}] from ${shown.title}`}>
          <div className="passage-head small">
            <strong>
              [{shown.n}] {shown.title}
            </strong>
            {place(shown) && <span className="muted"> · {place(shown)}</span>}
            <div className="muted passage-path" title={shown.path}>
              {shown.path}
            </div>
          </div>
          <p className="passage-text">{shown.snippet}</p>
        </blockquote>
      )}
    </div>
  );
}
