// End-to-end: tools in Debian's Chromium against a running `hearth serve` with the real
// default model.
//
//   HEARTH_URL=http://127.0.0.1:7337 HEARTH_TOKEN=... [HEARTH_ARTIFACTS=dir] npm run e2e:tools
//
// The fetch tool is turned on from the Tools screen and tools from the workspace's settings.
// A reply is asked (over the API, as a script would) to call the fetch tool; the chat, opened
// while the call waits, shows the call with its arguments and the choice; Deny lets the reply
// go on, and the card says the call was not allowed. Nothing reaches the network.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ARTIFACTS, BASE, TOKEN, openPage } from './browser.mjs';

const REPLY_TIMEOUT = 180_000; // CPU inference on 2 cores, with a browser running too

/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').Page} */
let page;
/** @type {string[]} */
let pageErrors = [];

async function api(method, path, body) {
  const res = await fetch(`${BASE}${path}`, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function shot(name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });
}

before(async () => {
  ({ browser, page, pageErrors } = await openPage({ viewport: { width: 1280, height: 900 } }));
  await page.goto(`${BASE}/?token=${encodeURIComponent(TOKEN)}`);
  await page.getByRole('button', { name: 'New chat' }).waitFor();
});

after(async () => {
  await browser?.close();
});

test('the Tools screen turns on the fetch tool, and a workspace turns tools on', async () => {
  await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Tools' }).click();
  await page.getByRole('heading', { name: 'Tools', level: 1 }).waitFor();
  await page.getByText('No server is attached.').waitFor();
  const fetchTool = page.getByRole('checkbox', { name: /Offer the fetch tool/ });
  if (!(await fetchTool.isChecked())) await fetchTool.check();
  // The setting is stored (the box is checked as the request goes out).
  const deadline = Date.now() + 10_000;
  while ((await api('GET', '/api/v1/settings'))['tools.fetch_url'] !== true) {
    assert.ok(Date.now() < deadline, 'the fetch tool setting was not saved');
    await new Promise((r) => setTimeout(r, 100));
  }
  await shot('tools-screen');

  await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Workspaces' }).click();
  const tools = page.getByRole('checkbox', { name: /Let replies call tools/ }).first();
  if (!(await tools.isChecked())) await tools.check();
  await page.getByRole('button', { name: 'Save', exact: true }).first().click();
  await page.getByRole('status').getByText('Saved.').waitFor();
});

test('a call that asks first waits in the chat until Deny, and the reply goes on', async () => {
  const workspaces = await api('GET', '/api/v1/workspaces');
  const ws = workspaces.find((w) => w.settings?.tools === true);
  assert.ok(ws, 'the workspace form saved the switch');
  const chat = await api('POST', `/api/v1/workspaces/${ws.id}/chats`, { title: 'Fetch it' });
  const sent = await api('POST', `/api/v1/chats/${chat.id}/messages`, {
    content: 'Read https://example.com for me.',
    tool_choice: { type: 'function', function: { name: 'fetch_url' } },
    max_tokens: 96,
    seed: 11,
  });
  assert.ok(sent.events);

  await page.goto(`${BASE}/?token=${encodeURIComponent(TOKEN)}#/c/${chat.id}`);
  const card = page.getByRole('article', { name: 'Tool call: fetch_url' });
  await card.getByText('waits for your approval').waitFor({ timeout: REPLY_TIMEOUT });
  assert.match((await card.textContent()) ?? '', /"url"/, 'the call shows its arguments');
  await shot('tool-call-waiting');
  await card.getByRole('button', { name: 'Deny' }).click();

  await card.getByText(/failed: the user did not allow this call/).waitFor({ timeout: REPLY_TIMEOUT });
  // The reply went on after the result: an assistant message under the call, finished.
  const last = page.locator('article.msg').last();
  await last.and(page.locator('[data-role="assistant"][data-status="complete"]')).waitFor({ timeout: REPLY_TIMEOUT });
  await page.getByTestId('streaming-indicator').waitFor({ state: 'detached', timeout: REPLY_TIMEOUT });
  await shot('tool-call-denied');

  const thread = await api('GET', `/api/v1/chats/${chat.id}/messages`);
  assert.deepEqual(
    thread.messages.map((m) => m.role),
    ['user', 'assistant', 'tool', 'assistant'],
  );
  assert.equal(thread.messages[2].error, 'the user did not allow this call');
  assert.deepEqual(pageErrors, []);
});
