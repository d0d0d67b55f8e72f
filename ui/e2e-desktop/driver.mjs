// What the desktop window tests share: plain WebDriver requests to tauri-driver (no client
// library), a session on the app with helpers to run scripts, click, type, poll and take
// screenshots, and the app's processes and log.
//
// Env: WEBDRIVER_URL (tauri-driver), HEARTH_DESKTOP_BIN, HEARTH_ARTIFACTS (screenshots),
// HEARTH_DATA_DIR. scripts/desktop-tests.sh sets them up on throwaway folders.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const driver = process.env.WEBDRIVER_URL;
export const app = process.env.HEARTH_DESKTOP_BIN;
const artifacts = process.env.HEARTH_ARTIFACTS || 'e2e-artifacts';
assert.ok(driver && app && process.env.HEARTH_DATA_DIR, 'WEBDRIVER_URL, HEARTH_DESKTOP_BIN and HEARTH_DATA_DIR must be set (scripts/desktop-tests.sh)');
mkdirSync(artifacts, { recursive: true });

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

/** The PIDs of running processes started from the app's binary. */
export function appPids() {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === app;
    } catch {
      return false;
    }
  }).map(Number);
}

/** Quits the app as the system does at logout (SIGTERM), and waits until it is gone. */
export async function quitApp() {
  const pids = appPids();
  assert.equal(pids.length, 1, `one app process runs: ${pids}`);
  process.kill(pids[0], 'SIGTERM');
  const end = Date.now() + 30_000;
  while (appPids().length && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(appPids(), [], 'the app quit');
}

/** The app's log lines (JSON) so far. */
export function appLog() {
  const dir = join(process.env.HEARTH_DATA_DIR, 'logs');
  return readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8')).join('');
}

export async function wd(method, path, body) {
  const r = await fetch(driver + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json.value;
}

export async function session() {
  const value = await wd('POST', '/session', {
    capabilities: { alwaysMatch: { 'tauri:options': { application: app } } },
  });
  const id = value.sessionId;
  const s = {
    id,
    run: (script, ...args) => wd('POST', `/session/${id}/execute/sync`, { script, args }),
    // Runs an async script: it calls `done(value)` (the last argument) when it has an answer.
    runAsync: (body) => wd('POST', `/session/${id}/execute/async`, { script: `const done = arguments[arguments.length - 1]; ${body}`, args: [] }),
    find: async (css) => (await wd('POST', `/session/${id}/element`, { using: 'css selector', value: css }))[ELEMENT],
    click: async (css) => wd('POST', `/session/${id}/element/${await s.find(css)}/click`, {}),
    type: async (css, text) => wd('POST', `/session/${id}/element/${await s.find(css)}/value`, { text }),
    screenshot: async (name) => writeFileSync(join(artifacts, `${name}.png`), Buffer.from(await wd('GET', `/session/${id}/screenshot`), 'base64')),
    // Polls a script until it returns something truthy.
    until: async (what, script, seconds, ...args) => {
      const end = Date.now() + seconds * 1000;
      let last;
      while (Date.now() < end) {
        try {
          last = await s.run(script, ...args);
          if (last) return last;
        } catch (e) {
          last = e.message; // the page may be between loads
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    },
  };
  return s;
}

export const composerReady = `const t = document.querySelector('textarea[aria-label="Message"]'); return !!t && !t.disabled;`;
export const lastReply = `const r = [...document.querySelectorAll('article[data-role="assistant"]')].pop();
  return r && r.dataset.status !== 'streaming' ? { status: r.dataset.status, text: r.innerText.trim() } : null;`;
