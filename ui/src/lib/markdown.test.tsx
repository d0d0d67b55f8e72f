import { render } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { Markdown } from '../chat/Markdown';
import { renderMarkdown } from './markdown';

describe('markdown of untrusted model output', () => {
  it('never turns raw HTML into elements', () => {
    const evil = 'Hi <script>window.__pwned = 1</script> <img src=x onerror="window.__pwned=2"> <iframe src="javascript:alert(1)"></iframe>\n\n<div onclick="x()">block</div>';
    const html = renderMarkdown(evil);
    const box = document.createElement('div');
    box.innerHTML = html;
    expect(box.querySelector('script, img, iframe, div[onclick]')).toBeNull();
    expect(html).not.toMatch(/<(script|img|iframe)\b/i);
    expect(box.querySelector('[onerror], [onclick]')).toBeNull();
    // ...it shows as text instead.
    expect(box.textContent).toContain('<script>');
    expect(box.textContent).toContain('<img src=x onerror=');
  });

  it('drops javascript: links and makes links open outside', () => {
    const box = document.createElement('div');
    box.innerHTML = renderMarkdown('[a](javascript:alert(1)) [b](https://example.org)');
    const links = [...box.querySelectorAll('a')];
    expect(links.some((a) => (a.getAttribute('href') ?? '').startsWith('javascript:'))).toBe(false);
    const b = links.find((a) => a.textContent === 'b')!;
    expect(b.getAttribute('href')).toBe('https://example.org');
    expect(b.getAttribute('rel')).toContain('noopener');
    expect(b.getAttribute('target')).toBe('_blank');
  });

  it('does not run handlers when mounted', () => {
    const w = window as unknown as { __pwned?: number };
    delete w.__pwned;
    const { container } = render(<Markdown text={'<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'} />);
    expect(container.querySelector('img, script')).toBeNull();
    expect(w.__pwned).toBeUndefined();
  });

  it('highlights fenced code, escapes it, and adds a Copy button', async () => {
    const writeText = vi.fn(async () => {});
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    const src = '```python\nprint("<b>hi</b>")\n```\n\n```\nplain <i>x</i>\n```';
    const { container, getAllByRole } = render(<Markdown text={src} />);
    const codes = container.querySelectorAll('pre code');
    expect(codes).toHaveLength(2);
    expect(codes[0].classList.contains('language-python')).toBe(true);
    expect(codes[0].querySelector('.hljs-string')).not.toBeNull();
    expect(container.querySelector('pre b, pre i')).toBeNull();
    expect(codes[1].textContent).toBe('plain <i>x</i>');
    const buttons = getAllByRole('button', { name: 'Copy code' });
    expect(buttons).toHaveLength(2);
    buttons[0].click();
    await Promise.resolve();
    expect(writeText).toHaveBeenCalledWith('print("<b>hi</b>")');
  });

  it('renders ordinary Markdown', () => {
    const box = document.createElement('div');
    box.innerHTML = renderMarkdown('# Title\n\n- **bold** and `code`\n- two');
    expect(box.querySelector('h1')?.textContent).toBe('Title');
    expect(box.querySelectorAll('li')).toHaveLength(2);
    expect(box.querySelector('strong')?.textContent).toBe('bold');
  });
});
