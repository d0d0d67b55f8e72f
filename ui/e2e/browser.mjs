// What the browser end-to-end tests share: the server they test (HEARTH_URL, HEARTH_TOKEN),
// where screenshots go (HEARTH_ARTIFACTS), and a page in Debian's Chromium (playwright-core,
// no browser download) that records page errors and CSP refusals, which every test file
// asserts are none.
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const BASE = (process.env.HEARTH_URL || '').replace(/\/+$/, '');
export const TOKEN = process.env.HEARTH_TOKEN || '';
export const ARTIFACTS = resolve(process.env.HEARTH_ARTIFACTS || join(here, '..', 'e2e-artifacts'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

if (!BASE || !TOKEN) {
  console.error('Set HEARTH_URL (where the UI is served) and HEARTH_TOKEN (the API token).');
  process.exit(2);
}
mkdirSync(ARTIFACTS, { recursive: true });

/**
 * A browser with one page; `pageErrors` collects uncaught errors and CSP refusals.
 * @param {import('playwright-core').BrowserContextOptions} options
 */
export async function openPage(options) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  /** @type {string[]} */
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(m.text());
  });
  return { browser, context, page, pageErrors };
}
