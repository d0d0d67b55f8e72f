// End-to-end: the UI in Debian's Chromium (playwright-core, no browser download) against a
// running `hearth serve` with a real local model.
//
//   HEARTH_URL=http://127.0.0.1:7337 HEARTH_TOKEN=... [HEARTH_ARTIFACTS=dir] npm run e2e
//
// HEARTH_URL is where the UI is served: `hearth serve` itself, or `vite preview` proxying to
// it. Replies of a small base model are not sensible text, so the test never checks what they
// say, only that they stream, finish, stop and are kept. Every step runs on every server:
// nothing is skipped.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ARTIFACTS, BASE, TOKEN, openPage } from './browser.mjs';

const REPLY_TIMEOUT = 180_000; // CPU inference on 2 cores, with a browser running too

const word = `zebrafish${Date.now().toString(36)}`; // a word only our first message has
const first = `Hello Hearth, this is the ${word} end-to-end test. Tell me about the sea.`;

/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').Page} */
let page;
let chatUrl = '';
let stoppedText = '';
/** @type {string[]} */
let pageErrors = [];

async function shot(name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });
}

const assistants = () => page.locator('article.msg[data-role="assistant"]');
const users = () => page.locator('article.msg[data-role="user"]');
const indicator = () => page.getByTestId('streaming-indicator');

async function setMaxTokens(n) {
  const input = page.getByLabel('Max tokens for the reply');
  if (!(await input.isVisible())) await page.getByRole('button', { name: 'Reply options' }).click();
  await input.fill(String(n));
}

async function waitForReplyDone() {
  await indicator().waitFor({ state: 'detached', timeout: REPLY_TIMEOUT });
}

/** Records, in the page, the streaming message's text length at every DOM change. */
async function recordStreaming() {
  await page.evaluate(() => {
    const w = /** @type {any} */ (window);
    w.__samples = [];
    w.__obs?.disconnect();
    w.__obs = new MutationObserver(() => {
      const msg = document.querySelector('[data-testid="streaming-message"] .markdown');
      const ind = document.querySelector('[data-testid="streaming-indicator"]');
      if (msg && ind) w.__samples.push(msg.textContent.length);
    });
    w.__obs.observe(document.body, { subtree: true, childList: true, characterData: true });
  });
}
async function streamedSamples() {
  return page.evaluate(() => {
    const w = /** @type {any} */ (window);
    w.__obs?.disconnect();
    return w.__samples;
  });
}

before(async () => {
  let context;
  ({ browser, context, page, pageErrors } = await openPage({ viewport: { width: 1280, height: 820 } }));
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
});

after(async () => {
  await browser?.close();
});

test('the token from the address is kept and leaves the address bar', async () => {
  await page.goto(`${BASE}/?token=${encodeURIComponent(TOKEN)}`);
  await page.getByRole('button', { name: 'New chat' }).waitFor();
  assert.ok(!page.url().includes(TOKEN), `the address still has the token: ${page.url()}`);
  assert.ok(!page.url().includes('token='), page.url());
  assert.equal(await page.evaluate(() => sessionStorage.getItem('hearth.token')), TOKEN);
  assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
});

test('a new chat: the reply streams in, then finishes', async () => {
  await page.getByRole('button', { name: 'New chat' }).click();
  await setMaxTokens(48);
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(first);
  await recordStreaming();
  await box.press('Enter');
  await page.waitForURL(/#\/c\/[0-9a-f-]{36}$/);
  chatUrl = page.url();
  await indicator().waitFor({ state: 'visible', timeout: REPLY_TIMEOUT });
  await waitForReplyDone();
  const samples = await streamedSamples();
  const distinct = [...new Set(samples)];
  assert.ok(distinct.length >= 2, `the reply should grow while the indicator shows (lengths seen: ${distinct.join(',')})`);
  for (let i = 1; i < distinct.length; i++) assert.ok(distinct[i] > distinct[i - 1], 'the streaming text only grows');
  await assistants().last().and(page.locator('[data-status="complete"]')).waitFor();
  assert.ok(((await assistants().last().locator('.markdown').textContent()) ?? '').length > 0, 'the finished reply has text');
  assert.equal(await users().first().locator('.msg-text').textContent(), first);
  // The chat is in the sidebar, titled from the first message.
  const id = chatUrl.split('/').pop();
  await page.locator(`.chat-item[data-chat-id="${id}"]`).waitFor();
  assert.match((await page.locator(`.chat-item[data-chat-id="${id}"] .chat-title`).textContent()) ?? '', /^Hello Hearth/);
  await shot('chat');
});

test('Stop keeps the partial reply, marked stopped', async () => {
  await setMaxTokens(1500);
  const box = page.getByRole('textbox', { name: 'Message' });
  // A base model may end a reply early on its own: ask again (at most 3 times) until one is
  // long enough to stop.
  for (let attempt = 1; ; attempt++) {
    await box.fill('Write a very long story about a lighthouse keeper, with many chapters.');
    await box.press('Enter');
    await indicator().waitFor({ state: 'visible', timeout: REPLY_TIMEOUT });
    const long = page
      .waitForFunction(() => (document.querySelector('[data-testid="streaming-message"] .markdown')?.textContent?.length ?? 0) > 40, null, { timeout: REPLY_TIMEOUT })
      .then(() => 'long', () => 'timeout');
    const ended = indicator()
      .waitFor({ state: 'detached', timeout: REPLY_TIMEOUT })
      .then(() => 'ended', () => 'timeout');
    const outcome = await Promise.race([long, ended]);
    if (outcome === 'long') break;
    assert.ok(outcome === 'ended' && attempt < 3, `no reply long enough to stop (${outcome}, attempt ${attempt})`);
    await ended;
  }
  await page.getByRole('button', { name: 'Stop generating' }).click();
  await waitForReplyDone();
  const last = assistants().last();
  await last.and(page.locator('[data-status="cancelled"]')).waitFor();
  await last.getByTestId('stopped-mark').waitFor();
  stoppedText = ((await last.locator('.markdown').textContent()) ?? '').trim();
  assert.ok(stoppedText.length > 20, 'the partial text is kept');
  await shot('chat-stopped');
});

test('Regenerate makes a second reply: 2/2', async () => {
  await setMaxTokens(24);
  await assistants().last().hover();
  await assistants().last().getByRole('button', { name: 'Regenerate reply' }).click();
  await waitForReplyDone();
  const last = assistants().last();
  await last.getByTestId('branch-position').waitFor();
  assert.equal(await last.getByTestId('branch-position').textContent(), '2/2');
  // The first reply is still there, one step back.
  await last.getByRole('button', { name: 'Previous branch' }).click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="branch-position"]').length > 0 && [...document.querySelectorAll('article[data-role="assistant"] [data-testid="branch-position"]')].pop()?.textContent === '1/2');
  assert.equal(((await assistants().last().locator('.markdown').textContent()) ?? '').trim(), stoppedText);
  await assistants().last().getByTestId('stopped-mark').waitFor();
});

test('editing a message makes a branch: 2/2, and 1/2 shows the original', async () => {
  await setMaxTokens(16);
  const firstUser = users().first();
  await firstUser.hover();
  await firstUser.getByRole('button', { name: 'Edit message' }).click();
  const edited = `An edited question about ${word}: what is a river?`;
  await page.getByRole('textbox', { name: 'Edit message' }).fill(edited);
  await page.getByRole('button', { name: 'Save & send' }).click();
  await waitForReplyDone();
  await page.waitForFunction((text) => document.querySelector('article[data-role="user"] .msg-text')?.textContent === text, edited);
  assert.equal(await users().first().getByTestId('branch-position').textContent(), '2/2');
  await assistants().last().and(page.locator('[data-status="complete"]')).waitFor();
  await users().first().getByRole('button', { name: 'Previous branch' }).click();
  await page.waitForFunction((text) => document.querySelector('article[data-role="user"] .msg-text')?.textContent === text, first);
  assert.equal(await users().first().getByTestId('branch-position').textContent(), '1/2');
  // The original branch is whole: its later messages, and the last reply with its two versions
  // (which of them the server shows again is its choice).
  await users().filter({ hasText: 'lighthouse keeper' }).waitFor();
  assert.ok(['1/2', '2/2'].includes((await assistants().last().getByTestId('branch-position').textContent()) ?? ''));
});

test('Ctrl+K finds the message, highlighted, and opens it', async () => {
  await page.keyboard.press('Control+K');
  const input = page.getByRole('combobox', { name: 'Search all messages' });
  await input.waitFor();
  await input.fill(word);
  // The person's own first message (a base model's replies may echo its words).
  const hit = page
    .locator('.search-results li')
    .filter({ has: page.locator('.snippet', { hasText: 'Hello Hearth, this is the' }) })
    .filter({ has: page.locator('.hit-head', { hasText: /^.*You ·/ }) })
    .first();
  await hit.waitFor({ timeout: 15_000 });
  assert.equal((await hit.locator('mark').first().textContent())?.toLowerCase(), word.toLowerCase());
  await shot('search');
  await hit.click();
  await page.locator('.search-dialog').waitFor({ state: 'detached' });
  await page.waitForFunction((text) => [...document.querySelectorAll('article[data-role="user"] .msg-text')].some((e) => e.textContent === text), first);
  assert.ok(page.url().startsWith(chatUrl), `the chat opens (${page.url()})`);
});

/** Waits until the chat shows its stored messages: loaded, and no reply streaming. */
async function conversationShown() {
  await page.waitForFunction(
    () =>
      document.querySelectorAll('article.msg[data-message-id]').length > 0 &&
      !document.querySelector('[aria-label="Loading the chat"], [data-testid="streaming-indicator"], .messages[aria-busy="true"]'),
  );
}

/** What the conversation shows: each message's role, status, branch position and text. */
async function snapshot() {
  return page.evaluate(() =>
    [...document.querySelectorAll('article.msg[data-message-id]')].map((a) => ({
      role: a.getAttribute('data-role'),
      status: a.getAttribute('data-status'),
      branch: a.querySelector('[data-testid="branch-position"]')?.textContent ?? null,
      text: (a.querySelector('.msg-text, .markdown')?.textContent ?? '').trim(),
    })),
  );
}

test('after a reload everything is still there', async () => {
  await page.goto(chatUrl);
  await users().first().waitFor();
  await conversationShown();
  const before = await snapshot();
  assert.ok(before.length >= 4, `the chat shows its messages (${before.length})`);
  await page.reload();
  await users().first().waitFor();
  await page.waitForFunction((n) => document.querySelectorAll('article.msg[data-message-id]').length >= n, before.length);
  const afterReload = await snapshot();
  assert.deepEqual(afterReload, before);
  assert.equal(afterReload[0].text, first);
  assert.equal(afterReload[0].branch, '1/2', 'search opened the original branch');
  const id = chatUrl.split('/').pop();
  await page.locator(`.chat-item[data-chat-id="${id}"]`).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('hearth.token')), TOKEN);
  await shot('chat-after-reload');
  // The stopped reply is the first of the last reply's two versions, and the server may show
  // either after the edit: show the first, which still has its partial text.
  const lastReply = assistants().last();
  if ((await lastReply.getByTestId('branch-position').textContent()) !== '1/2') {
    await lastReply.getByRole('button', { name: 'Previous branch' }).click();
  }
  await page.waitForFunction(() => [...document.querySelectorAll('article[data-role="assistant"] [data-testid="branch-position"]')].pop()?.textContent === '1/2');
  await conversationShown();
  const stoppedShown = await snapshot();
  assert.ok(stoppedShown.some((m) => m.status === 'cancelled' && m.text === stoppedText), 'the stopped partial text is kept');
});

test('screenshots of every screen', async () => {
  /** @type {[string, string, () => import('playwright-core').Locator][]} */
  const screens = [
    ['workspaces', 'Workspaces', () => page.locator('.ws-item')],
    ['models', 'Models', () => page.locator('table.table tbody tr')],
    ['providers', 'Providers', () => page.locator('.provider-list').or(page.getByText('No provider yet.'))],
    ['sync', 'Sync', () => page.locator('dl.details')],
    ['settings', 'Settings', () => page.getByRole('heading', { name: 'Appearance' })],
  ];
  for (const [name, label, ready] of screens) {
    await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: label }).click();
    await page.locator('.screen').waitFor();
    // Each screen's own content, loaded, and no loading or busy bar left.
    await ready().first().waitFor({ timeout: 10_000 });
    await page.waitForFunction(() => !document.querySelector('.screen-loading, .busy'), null, { timeout: 10_000 });
    await shot(name);
  }
  // The models table lists the local model.
  await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Models' }).click();
  await page.locator('table.table tbody tr').first().waitFor();
  assert.deepEqual(pageErrors, [], 'no uncaught errors or policy violations in the page');
});
