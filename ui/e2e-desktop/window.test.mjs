// The real desktop window: hearth-desktop under Xvfb, driven through tauri-driver and Debian's
// WebKitWebDriver with plain WebDriver requests (no client library needed). Send a message,
// see the local model's reply, quit through the window, start again: the chat is there.
// A second launch while the first runs hands over to it and exits (one instance), and the
// window opens at the size it had when it was closed.
//
// Quitting is SIGTERM, as at a logout (WebDriver's "close window" closes the page, not the
// app); the app's log must show a clean stop.
//
// Env: WEBDRIVER_URL (tauri-driver), HEARTH_DESKTOP_BIN, HEARTH_ARTIFACTS (screenshots),
// HEARTH_DATA_DIR. scripts/desktop-tests.sh sets them up on throwaway folders.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { app, appLog, composerReady, lastReply, quitApp, session, wd } from './driver.mjs';

test('the run is offline when it says so', { skip: process.env.HEARTH_OFFLINE !== '1' && 'not run offline (scripts/isolated.sh needs root)' }, async () => {
  // Nothing but loopback: a connection to a public address fails at once.
  const error = await new Promise((resolve) => {
    const socket = connect({ host: '1.1.1.1', port: 80, timeout: 5000 });
    socket.on('connect', () => (socket.destroy(), resolve(null)));
    socket.on('timeout', () => (socket.destroy(), resolve(null)));
    socket.on('error', (e) => resolve(e.code));
  });
  assert.equal(error, 'ENETUNREACH');
});

test('the window chats with the local model, quits, and finds the chat again', { timeout: 600_000 }, async () => {
  const first = await session();
  await first.until('the chat screen', composerReady, 120);
  assert.equal(await first.run('return window.location.hostname'), '127.0.0.1', 'the window shows the local API\'s UI');
  assert.equal(await first.run('return window.location.search'), '', 'no token in the address');

  // The smallest capability set: the page reaches Tauri's IPC, but no plugin or window API.
  // (choose_model_file, the one command it is granted, opens a native dialog no WebDriver
  // can answer, so it is not called here.)
  assert.equal(await first.run('return typeof window.__TAURI_INTERNALS__?.invoke'), 'function', 'the IPC is there');
  for (const [command, args] of [
    ['plugin:dialog|message', { message: 'hi' }],
    ['plugin:opener|open_url', { url: 'https://example.com' }],
    ['plugin:window|close', { label: 'main' }],
    ['plugin:window-state|save_window_state', { flags: 1 }],
  ]) {
    const answer = await first.runAsync(
      `window.__TAURI_INTERNALS__.invoke(${JSON.stringify(command)}, ${JSON.stringify(args)}).then(() => done('allowed'), (e) => done('refused: ' + e));`,
    );
    assert.match(answer, /^refused: .*not allowed/i, `${command} must be refused: ${answer}`);
  }

  // One instance: a second launch hands over to the running app and exits.
  const second = spawn(app, [], { stdio: 'ignore', env: process.env });
  const code = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('a second launch kept running beside the first')), 30_000);
    second.on('exit', (c) => (clearTimeout(timer), resolve(c)));
  });
  assert.equal(code, 0);

  await first.click('button[aria-label="New chat"]');
  await first.until('an empty composer', composerReady, 30);
  await first.type('textarea[aria-label="Message"]', 'Hello from the desktop window');
  await first.click('button[aria-label="Send message"]');
  const reply = await first.until('the reply', lastReply, 300);
  assert.equal(reply.status, 'complete', JSON.stringify(reply));
  assert.ok(reply.text.length > 0, 'the reply has text');
  await first.screenshot('desktop-chat');

  // The window is resized before quitting; the next start opens it at that size.
  const size = 'return [window.outerWidth, window.outerHeight]';
  const before = await first.run(size);
  await wd('POST', `/session/${first.id}/window/rect`, { width: 900, height: 640 });
  const resized = await first.until('the new size', `const s = [window.outerWidth, window.outerHeight]; return s[0] !== ${before[0]} ? s : null;`, 10);

  // Quit: the app stops its server and sync loop and saves the window before it exits.
  await quitApp();
  assert.match(appLog(), /"message":"quitting"[\s\S]*"message":"stopped"/, 'a clean stop');
  await wd('DELETE', `/session/${first.id}`).catch(() => {});

  const again = await session();
  assert.deepEqual(await again.run(size), resized, 'the window keeps its size');
  await again.until('the chat list', `return document.querySelectorAll('nav[aria-label="Chats"] li').length > 0`, 120);
  const found = await again.until(
    'the chat from before',
    `const links = [...document.querySelectorAll('nav[aria-label="Chats"] li')];
     const hit = links.find((l) => l.innerText.includes('Hello from the desktop window'));
     if (!hit) return null;
     (hit.querySelector('a, button') || hit).click();
     return true;`,
    30,
  ).catch(async () => {
    // The title may be shorter than the message: open the newest chat instead.
    return again.run(`const l = document.querySelector('nav[aria-label="Chats"] li'); (l.querySelector('a, button') || l).click(); return true;`);
  });
  assert.ok(found);
  const shown = await again.until(
    'the messages from before',
    `const q = document.querySelector('article[data-role="user"]');
     const r = [...document.querySelectorAll('article[data-role="assistant"]')].pop();
     return q && r ? { question: q.innerText.trim(), reply: r.innerText.trim(), status: r.dataset.status } : null;`,
    60,
  );
  assert.ok(shown.question.includes('Hello from the desktop window'), JSON.stringify(shown));
  assert.equal(shown.status, 'complete');
  assert.equal(shown.reply, reply.text, 'the same reply, kept');
  await again.screenshot('desktop-after-restart');
  await quitApp();
  await wd('DELETE', `/session/${again.id}`).catch(() => {});
});

test('a damaged database stops the start with a clear message and is left as it was', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-damaged-'));
  try {
    const junk = Buffer.from('SQLite format 3\0'.padEnd(4096, '#'));
    writeFileSync(join(dir, 'hearth.db'), junk);
    const child = spawn(app, [], { env: { ...process.env, HEARTH_DATA_DIR: dir }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const end = Date.now() + 60_000;
    while (!stderr.includes('hearth-desktop: ') && Date.now() < end && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    // It waits on its error dialog; the message is on stderr too.
    child.kill('SIGKILL');
    assert.match(stderr, /hearth-desktop: .*hearth\.db.*(not a usable Hearth database|damaged)/i, stderr);
    assert.ok(readFileSync(join(dir, 'hearth.db')).equals(junk), 'the file is untouched');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
