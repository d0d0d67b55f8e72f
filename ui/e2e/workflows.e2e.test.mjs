// End-to-end: the workflow editor in Debian's Chromium (playwright-core, no browser download)
// against a running `hearth serve` with a real local model.
//
//   HEARTH_URL=http://127.0.0.1:7337 HEARTH_TOKEN=... [HEARTH_ARTIFACTS=dir] npm run e2e:workflows
//
// A workflow is built with the mouse (palette, handles dragged to handles), configured in the
// side panel, saved, run with live node status on the canvas, and found again after a reload.
// The tiny model's replies are not sensible text: the test checks that they exist, never what
// they say.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ARTIFACTS, BASE, TOKEN, openPage } from './browser.mjs';

const RUN_TIMEOUT = 180_000; // CPU inference on 2 cores, with a browser running too

const NAME = `Greeter ${Date.now().toString(36)}`;

/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').Page} */
let page;
let editorUrl = '';
let runId = '';
/** @type {string[]} */
let pageErrors = [];

async function shot(name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });
}

const node = (id) => page.getByTestId(`wf-node-${id}`);
const panel = () => page.getByTestId('wf-panel');

/**
 * Waits until the element stops moving (the canvas fits the view after a node is added):
 * watched in the page every frame, until its box has not changed for 150 ms (6 s at most).
 */
async function settled(locator) {
  await locator.waitFor();
  await locator.evaluate(
    (el) =>
      new Promise((resolve, reject) => {
        const deadline = performance.now() + 6000;
        let last = '';
        let since = performance.now();
        const frame = (now) => {
          const r = el.getBoundingClientRect();
          const box = `${r.x},${r.y},${r.width},${r.height}`;
          if (box !== last) {
            last = box;
            since = now;
          } else if (now - since >= 150 && r.width > 0) {
            return resolve(undefined);
          }
          if (now > deadline) return reject(new Error('the canvas never settled'));
          requestAnimationFrame(frame);
        };
        requestAnimationFrame(frame);
      }),
  );
}

async function center(locator) {
  const box = await locator.boundingBox();
  assert.ok(box, 'the element is on screen');
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

/** Drags an edge from the source handle of one node to the target handle of another. */
async function connect(from, to) {
  const edges = page.locator('.react-flow__edge');
  const before = await edges.count();
  const a = await center(node(from).locator('.react-flow__handle.source'));
  const b = await center(node(to).locator('.react-flow__handle.target'));
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2 + 30, { steps: 8 });
  await page.mouse.move(b.x, b.y, { steps: 8 });
  await page.mouse.up();
  await page.waitForFunction((n) => document.querySelectorAll('.react-flow__edge').length === n, before + 1);
}

/** Opens a node's settings by clicking it on the canvas. */
async function openNode(id) {
  await node(id).click();
  await panel().getByText(id, { exact: true }).waitFor();
}

/** Records, in the page, the llm node's status and streamed text at every DOM change. */
async function recordRun() {
  await page.evaluate(() => {
    const w = /** @type {any} */ (window);
    w.__seen = [];
    w.__obs?.disconnect();
    w.__obs = new MutationObserver(() => {
      const llm = document.querySelector('[data-testid="wf-node-llm_1"]');
      const status = document.querySelector('[data-testid="wf-run-status"]')?.textContent ?? '';
      const stream = llm?.querySelector('.wf-node-stream')?.textContent ?? '';
      w.__seen.push({ node: llm?.getAttribute('data-status') ?? '', run: status, text: stream.length });
    });
    w.__obs.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['data-status'] });
  });
}
async function recorded() {
  return page.evaluate(() => {
    const w = /** @type {any} */ (window);
    w.__obs?.disconnect();
    return w.__seen;
  });
}

before(async () => {
  ({ browser, page, pageErrors } = await openPage({ viewport: { width: 1440, height: 900 }, acceptDownloads: true }));
});

after(async () => {
  await browser?.close();
});

test('New opens the editor with a start and an output node', async () => {
  await page.goto(`${BASE}/?token=${encodeURIComponent(TOKEN)}#/workflows`);
  await page.getByTestId('wf-new').click();
  await page.waitForURL(/#\/workflows\/[^/]+$/);
  editorUrl = page.url();
  assert.ok(!editorUrl.includes('token='), 'the token left the address bar');
  await node('start').waitFor();
  await node('output').waitFor();
  await page.getByTestId('wf-name').fill(NAME);
});

test('an llm node from the palette, joined to start and output with the mouse', async () => {
  await page.getByTestId('palette-llm').click();
  await node('llm_1').waitFor();
  // The new node is selected: its settings are open.
  await panel().getByText('llm_1', { exact: true }).waitFor();
  await settled(node('llm_1'));
  await connect('start', 'llm_1');
  await connect('llm_1', 'output');
  await shot('workflow-connected');
});

test('the settings of each node, then Save', async () => {
  await openNode('llm_1');
  await panel().getByLabel('Prompt template').fill('Say hello to {{#start.input#}}');
  await panel().getByLabel('Max tokens').fill('16');

  await openNode('start');
  await panel().getByRole('button', { name: 'Add input' }).click();
  await panel().getByLabel('Name of input 1').fill('input');
  await panel().getByLabel('Type of input 1').selectOption('string');
  await panel().getByRole('checkbox', { name: 'required' }).check();

  await openNode('output');
  await panel().getByRole('button', { name: 'Add output' }).click();
  await panel().getByLabel('Name of output 1').fill('answer');
  await panel().getByLabel('Value of output 1').fill('{{#llm_1.text#}}');

  await page.getByText('● Unsaved changes').waitFor();
  await page.getByTestId('wf-save').click();
  await page.locator('.wf-dirty', { hasText: 'Saved' }).waitFor();
  // The server's validation finds nothing wrong, and no node is outlined.
  await page.getByTestId('wf-problems').getByText('No problems', { exact: false }).waitFor({ timeout: 10_000 });
  assert.equal(await page.locator('.wf-node.has-problem').count(), 0);
  await shot('workflow-editor');
});

test('a run shows each node live on the canvas, then the outputs', async () => {
  await page.getByRole('tab', { name: 'Run' }).click();
  await page.getByTestId('wf-run-input-input').fill('Ada');
  await recordRun();
  await page.getByTestId('wf-run').click();
  const status = page.getByTestId('wf-run-status');
  await status.waitFor();
  await page.waitForFunction(() => ['succeeded', 'failed', 'cancelled'].includes(document.querySelector('[data-testid="wf-run-status"]')?.textContent ?? ''), null, { timeout: RUN_TIMEOUT, polling: 200 });
  const seen = await recorded();
  assert.equal(await status.textContent(), 'succeeded', `the run ended ${await status.textContent()}: ${await page.locator('.wf-run').textContent()}`);
  const live = seen.filter((s) => s.run === 'running');
  assert.ok(
    live.some((s) => s.node === 'running') || live.some((s) => s.text > 0),
    `the llm node showed its progress before the run finished (${JSON.stringify(seen.slice(0, 40))})`,
  );
  for (const id of ['start', 'llm_1', 'output']) assert.equal(await node(id).getAttribute('data-status'), 'succeeded', `${id} succeeded`);

  const out = page.getByTestId('wf-run-output');
  const outputs = JSON.parse((await out.locator('pre').textContent()) ?? '{}');
  assert.equal(typeof outputs.answer, 'string', 'the output node gave the answer');
  assert.ok(outputs.answer.length > 0, 'the answer has text');
  assert.ok(((await out.textContent()) ?? '').trim().length > 0);
  runId = (await page.locator('.wf-history-item.active').getAttribute('data-run-id')) ?? '';
  assert.ok(runId, 'the run is in the history, shown');
  await shot('workflow-run');
});

test('after a reload the workflow and its last run are still there', async () => {
  await page.reload();
  await node('llm_1').waitFor();
  assert.equal(await page.getByTestId('wf-name').inputValue(), NAME);
  assert.equal(await page.locator('.react-flow__edge').count(), 2);
  await page.getByRole('tab', { name: 'Run' }).click();
  const item = page.locator(`.wf-history-item[data-run-id="${runId}"]`);
  await item.waitFor();
  assert.match((await item.textContent()) ?? '', /succeeded/);
  // Its record opens: node statuses back on the canvas, the outputs in the panel.
  await item.click();
  await page.getByTestId('wf-run-output').waitFor();
  assert.equal(await page.getByTestId('wf-run-status').textContent(), 'succeeded');
  assert.equal(await node('llm_1').getAttribute('data-status'), 'succeeded');

  await page.goto(`${BASE}/#/workflows`);
  const row = page.locator('tr', { has: page.getByRole('link', { name: NAME }) });
  await row.waitFor();
  await shot('workflows');
});

test('export downloads <name>.json; import refuses a broken file and lists its problems', async () => {
  const row = page.locator('tr', { has: page.getByRole('link', { name: NAME }) });
  const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: `Export ${NAME}` }).click()]);
  assert.equal(download.suggestedFilename(), `${NAME}.json`);

  const broken = { nodes: [{ id: 's', type: 'start' }, { id: 'a', type: 'llm', config: {} }, { id: 'o', type: 'output' }], edges: [{ source: 's', target: 'a' }, { source: 'a', target: 'o' }] };
  await page.getByTestId('wf-import-input').setInputFiles({ name: 'broken.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(broken)) });
  const problems = page.getByRole('list', { name: 'Problems in the file' });
  await problems.waitFor();
  assert.ok((await problems.locator('li').count()) >= 1);
  await shot('workflows-import-problems');
  assert.deepEqual(pageErrors, [], 'no uncaught errors or policy violations in the page');
});
