// End-to-end: the first run, in Debian's Chromium, against a `hearth serve` that has no model
// file yet and downloads the default model from a slow local server (so progress shows).
//
//   HEARTH_FIRSTRUN_URL=http://127.0.0.1:7338 HEARTH_FIRSTRUN_TOKEN=... [HEARTH_ARTIFACTS=dir] npm run e2e:firstrun
//
// The empty chat offers the download; the progress bar moves; once the server has checked
// the file's hash and registered it, the offer goes away, the model picker lists the model,
// and a question gets an answer from it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

const FIRSTRUN_URL = (process.env.HEARTH_FIRSTRUN_URL || '').replace(/\/+$/, '');
const FIRSTRUN_TOKEN = process.env.HEARTH_FIRSTRUN_TOKEN || '';
if (!FIRSTRUN_URL || !FIRSTRUN_TOKEN) {
  console.error('Set HEARTH_FIRSTRUN_URL (a `hearth serve` with no model file) and HEARTH_FIRSTRUN_TOKEN (its API token).');
  process.exit(2);
}
// browser.mjs reads the server under test from HEARTH_URL and HEARTH_TOKEN when it loads.
process.env.HEARTH_URL = FIRSTRUN_URL;
process.env.HEARTH_TOKEN = FIRSTRUN_TOKEN;
const { ARTIFACTS, BASE, TOKEN, openPage } = await import('./browser.mjs');

const DOWNLOAD_TIMEOUT = 300_000; // the slow server, then the hash check
const REPLY_TIMEOUT = 180_000; // CPU inference on 2 cores, with a browser running too
const QUESTION = 'What is the capital of France?';

/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').Page} */
let page;
/** @type {string[]} */
let pageErrors = [];

async function shot(name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });
}

const assistants = () => page.locator('article.msg[data-role="assistant"]');

async function setMaxTokens(n) {
  const input = page.getByLabel('Max tokens for the reply');
  if (!(await input.isVisible())) await page.getByRole('button', { name: 'Reply options' }).click();
  await input.fill(String(n));
}

before(async () => {
  ({ browser, page, pageErrors } = await openPage({ viewport: { width: 1280, height: 820 } }));
});

after(async () => {
  await browser?.close();
});

test('with no model, the new chat offers the default model instead of a message box', async () => {
  await page.goto(`${BASE}/?token=${encodeURIComponent(TOKEN)}`);
  const setup = page.getByTestId('model-setup');
  await setup.waitFor();
  assert.equal(await setup.getByRole('heading', { level: 2 }).textContent(), 'No local model yet');
  assert.match((await setup.locator('p').first().textContent()) ?? '', /^SmolLM2 135M Instruct, a 93 MB download, is a small model: quick and private, not wise\./);
  assert.equal(await page.getByTestId('model-fetch-start').textContent(), 'Download the default model');
  assert.equal(await page.getByRole('link', { name: 'Import a GGUF from disk' }).getAttribute('href'), '#/models');
  assert.equal(await page.getByRole('textbox', { name: 'Message' }).count(), 0, 'no message box while no model can answer');
  await shot('first-run');
});

test('the download shows its progress, then the model is there', async () => {
  await page.getByTestId('model-fetch-start').click();
  const progress = page.getByTestId('model-fetch-progress');
  await progress.waitFor();
  assert.equal(await progress.getAttribute('aria-label'), 'Downloading the default model');
  // Part-way: some bytes in, not all.
  await page.waitForFunction(
    () => {
      const p = /** @type {HTMLProgressElement | null} */ (document.querySelector('[data-testid="model-fetch-progress"]'));
      return !!p && p.value > 0 && p.value < p.max;
    },
    null,
    { timeout: 60_000, polling: 100 },
  );
  const line = (await page.getByTestId('model-fetch-status').textContent()) ?? '';
  assert.match(line, /^[\d.]+ (B|KB|MB) of [\d.]+ (KB|MB|GB)( · [\d.]+ (B|KB|MB)\/s)?( · about (\d+ s|\d+ min|\d+ h \d+ min) left)?$/, line);
  assert.equal(await page.getByTestId('model-fetch-cancel').textContent(), 'Cancel');
  await shot('first-run-download');

  // Downloaded, checked against its hash, registered: the offer goes away.
  await page.getByTestId('model-setup').waitFor({ state: 'detached', timeout: DOWNLOAD_TIMEOUT });
  assert.equal(await page.getByTestId('model-fetch-error').count(), 0);
  await page.getByRole('textbox', { name: 'Message' }).waitFor();
  // The model picker lists it, on this device.
  const picker = page.getByRole('combobox', { name: 'Model' });
  const options = await picker.locator('option').allTextContents();
  assert.ok(options.includes('smollm2-135m-instruct · offline'), `the picker lists the model (${options.join(' | ')})`);
});

test('a new chat with the downloaded model gets an answer', async () => {
  await setMaxTokens(64);
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(QUESTION);
  await box.press('Enter');
  await page.waitForURL(/#\/c\/[0-9a-f-]{36}$/);
  await assistants().last().and(page.locator('[data-status="complete"]')).waitFor({ timeout: REPLY_TIMEOUT });
  await page.getByTestId('streaming-indicator').waitFor({ state: 'detached', timeout: REPLY_TIMEOUT });
  const reply = ((await assistants().last().locator('.markdown').textContent()) ?? '').trim();
  assert.ok(reply.length > 0, 'the reply has text');
  assert.equal(await page.locator('article.msg[data-role="user"] .msg-text').first().textContent(), QUESTION);
  await shot('first-run-reply');
  assert.deepEqual(pageErrors, [], 'no uncaught errors or policy violations in the page');
});
