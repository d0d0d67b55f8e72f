// End-to-end: a workspace's documents in Debian's Chromium against a running `hearth serve`
// with the real default model.
//
//   HEARTH_URL=http://127.0.0.1:7337 HEARTH_TOKEN=... [HEARTH_ARTIFACTS=dir] npm run e2e:knowledge
//
// A document is added with the file picker and another by drag and drop (each uploaded and
// read by an ingest job), a question about the first gets a streamed answer whose sources
// open the passage the model was given, and the sources are still there after a reload. The
// tiny model may or may not write "[1]": the test checks the sources it was given, never
// what it says.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ARTIFACTS, BASE, TOKEN, openPage } from './browser.mjs';

const REPLY_TIMEOUT = 180_000; // CPU inference on 2 cores, with a browser running too

const tag = Date.now().toString(36);
const place = `Skerrow${tag}`; // a word only this document has
const passage = `The keeper of the ${place} lighthouse winds the clockwork lamp at dusk and again at midnight.`;

/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').Page} */
let page;
let chatUrl = '';
/** @type {string[]} */
let pageErrors = [];

async function shot(name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });
}

const assistants = () => page.locator('article.msg[data-role="assistant"]');

before(async () => {
  ({ browser, page, pageErrors } = await openPage({ viewport: { width: 1280, height: 900 } }));
  await page.goto(`${BASE}/?token=${encodeURIComponent(TOKEN)}`);
  await page.getByRole('button', { name: 'New chat' }).waitFor();
});

after(async () => {
  await browser?.close();
});

test('documents are added with the file picker and by drag and drop', async () => {
  await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Workspaces' }).click();
  const docs = page.locator('section.documents');
  await docs.waitFor();

  await page.getByTestId('document-picker').setInputFiles({
    name: `lighthouse-${tag}.md`,
    mimeType: 'text/markdown',
    buffer: Buffer.from(`# Lighthouse\n\n## Duties\n\n${passage}\n\n## Stores\n\nOil, wicks and a spare lens are kept in the cellar.\n`),
  });
  const first = docs.locator('.uploads li', { hasText: `lighthouse-${tag}.md` });
  await first.and(page.locator('[data-status="succeeded"]')).waitFor({ timeout: 60_000 });
  assert.match((await first.textContent()) ?? '', /1 added/);

  // A drop: the file arrives in the drop event's DataTransfer, as from a file manager.
  const transfer = await page.evaluateHandle((name) => {
    const dt = new DataTransfer();
    dt.items.add(new File(['Bread wants a hot oven and a long, slow rise overnight.\n'], name, { type: 'text/plain' }));
    return dt;
  }, `bread-${tag}.txt`);
  await page.getByTestId('drop-zone').dispatchEvent('dragover', { dataTransfer: transfer });
  await page.getByTestId('drop-zone').dispatchEvent('drop', { dataTransfer: transfer });
  const second = docs.locator('.uploads li', { hasText: `bread-${tag}.txt` });
  await second.and(page.locator('[data-status="succeeded"]')).waitFor({ timeout: 60_000 });

  // Both are listed, with their passages.
  await docs.locator('.doc-list li', { hasText: 'Lighthouse' }).waitFor();
  await docs.locator('.doc-list li', { hasText: `bread-${tag}` }).waitFor();
  // A file Hearth does not read is refused at once, with the reason.
  await page.getByTestId('document-picker').setInputFiles({ name: `photo-${tag}.jpg`, mimeType: 'image/jpeg', buffer: Buffer.from([0xff, 0xd8, 0xff]) });
  const refused = docs.locator('.uploads li', { hasText: `photo-${tag}.jpg` });
  await refused.and(page.locator('[data-status="failed"]')).waitFor();
  assert.match((await refused.textContent()) ?? '', /not a kind of document Hearth reads/);
  await docs.scrollIntoViewIfNeeded();
  await shot('knowledge-documents');
});

test('a question about the document is answered with its passage as a source', async () => {
  await page.getByRole('button', { name: 'New chat' }).click();
  const options = page.getByLabel('Max tokens for the reply');
  if (!(await options.isVisible())) await page.getByRole('button', { name: 'Reply options' }).click();
  await options.fill('32');
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(`When does the keeper of the ${place} lighthouse wind the lamp?`);
  await box.press('Enter');
  await page.waitForURL(/#\/c\/[0-9a-f-]{36}$/);
  chatUrl = page.url();
  await page.getByTestId('streaming-indicator').waitFor({ state: 'visible', timeout: REPLY_TIMEOUT });
  await page.getByTestId('streaming-indicator').waitFor({ state: 'detached', timeout: REPLY_TIMEOUT });
  const reply = assistants().last();
  await reply.and(page.locator('[data-status="complete"]')).waitFor();
  const sources = reply.getByTestId('sources');
  await sources.waitFor();
  // The best passage is source [1]: the lighthouse's duties (the document's other parts may follow).
  const chip = sources.getByRole('button', { name: /^\[1\] Lighthouse/ });
  assert.match((await chip.textContent()) ?? '', /Duties/, 'the passage that answers is first');
  await chip.click();
  const shown = reply.getByTestId('passage');
  await shown.waitFor();
  assert.ok(((await shown.textContent()) ?? '').includes(passage), 'the passage the model read opens');
  assert.ok(((await shown.textContent()) ?? '').includes(`lighthouse-${tag}.md`), 'with the file it came from');
  await shot('knowledge-answer');
});

test('the sources are still there after a reload', async () => {
  await page.goto(chatUrl);
  await page.reload();
  const reply = assistants().last();
  await reply.and(page.locator('[data-status="complete"]')).waitFor();
  await reply.getByTestId('sources').getByRole('button', { name: /^\[1\] Lighthouse/ }).click();
  assert.ok(((await reply.getByTestId('passage').textContent()) ?? '').includes(passage));
});

test('no page errors', () => {
  assert.deepEqual(pageErrors, []);
});
