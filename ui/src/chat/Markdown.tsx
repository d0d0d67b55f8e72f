import { memo, useMemo, type MouseEvent } from 'react';
import { copyText } from '../lib/clipboard';
import { renderMarkdown } from '../lib/markdown';

function onCopyClick(e: MouseEvent<HTMLDivElement>) {
  const btn = (e.target as HTMLElement).closest?.('button.copy-code') as HTMLButtonElement | null;
  if (!btn) return;
  const code = btn.closest('.code-block')?.querySelector('code');
  if (!code) return;
  copyText(code.textContent ?? '').then((ok) => {
    btn.textContent = ok ? 'Copied' : 'Copy failed';
    setTimeout(() => {
      btn.textContent = 'Copy';
    }, 1500);
  });
}

/** Model output as sanitized Markdown (see lib/markdown.ts). */
export const Markdown = memo(function Markdown({ text }: { text: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  // eslint-disable-next-line jsx-a11y/click-events-have-key-events, jsx-a11y/no-static-element-interactions -- delegated from the Copy <button>s in the HTML, which keyboards already activate
  return <div className="markdown" onClick={onCopyClick} dangerouslySetInnerHTML={{ __html: html }} />;
});
