// A first start of the real desktop window with no model file (as after installing the
// package): the empty chat says so and offers the download; the progress bar moves (pictured
// as desktop-first-run-download.png); once the app has checked the file's hash and registered
// it, the offer goes away and a question gets a streamed answer from the new model.
//
// scripts/desktop-tests.sh runs this with HEARTH_DEFAULT_MODEL naming a file that is not
// there and HEARTH_MODEL_URL pointing at a throttled local mirror of the published wheel.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { composerReady, lastReply, quitApp, session, wd } from './driver.mjs';

test('the window fetches the default model on a first run and then answers', { timeout: 900_000 }, async () => {
  assert.ok(process.env.HEARTH_DEFAULT_MODEL && !existsSync(process.env.HEARTH_DEFAULT_MODEL), 'no model file at the start');
  const s = await session();
  await s.until('the first-run offer', `return !!document.querySelector('[data-testid="model-setup"]')`, 120);
  await s.screenshot('desktop-first-run');
  await s.click('[data-testid="model-fetch-start"]');
  const progress = await s.until(
    'the progress bar to move',
    `const p = document.querySelector('[data-testid="model-fetch-progress"]');
     const line = document.querySelector('[data-testid="model-fetch-status"]');
     return p && p.value > 0 && p.value < p.max ? { value: p.value, max: p.max, line: line ? line.innerText : '' } : null;`,
    120,
  );
  assert.match(progress.line, /MB of 93 MB · .+\/s · about .+ left/, JSON.stringify(progress));
  await s.screenshot('desktop-first-run-download');
  await s.until('the download to finish', `return !document.querySelector('[data-testid="model-setup"]')`, 300);
  await s.until('the chat screen', composerReady, 60);
  await s.type('textarea[aria-label="Message"]', 'What is the capital of France?');
  await s.click('button[aria-label="Send message"]');
  const reply = await s.until('the reply', lastReply, 300);
  assert.equal(reply.status, 'complete', JSON.stringify(reply));
  assert.ok(reply.text.length > 0, 'the reply has text');
  await s.screenshot('desktop-first-run-reply');
  assert.ok(existsSync(process.env.HEARTH_DEFAULT_MODEL), 'the model file is in place');
  await quitApp();
  await wd('DELETE', `/session/${s.id}`).catch(() => {});
});
