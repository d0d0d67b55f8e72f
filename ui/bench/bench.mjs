// The UI and desktop benchmark (`make bench`), each figure beside a reference run in the
// same process:
//
// 1. Initial JavaScript of the chat screen: the entry script and the modules index.html
//    preloads, gzip -9, against the 250 KB goal (lazy screens are listed apart).
// 2. Launch to an interactive chat screen in Chromium (browser start, load, the composer
//    enabled), against the same browser start and a load of the server's bare `/health`.
// 3. Launch to an interactive chat screen in the desktop window (WebDriver session start,
//    which starts the app, to the composer enabled), against the bare Tauri 2 window
//    (benches/bare-window) starting and showing its page.
// 4. The desktop app's memory idle with no model loaded: PSS summed over the app and its
//    WebKit processes, against the bare window measured the same way (goal: at most 1.3x).
// 5. A long reply (up to 2,000 tokens from the real model) streaming into the chat screen in
//    Chromium: the page's frame intervals and main-thread long tasks while it streams,
//    against the same page idle for as long.
//
// Env: HEARTH_URL and HEARTH_TOKEN (a running `hearth serve`), WEBDRIVER_URL (tauri-driver),
// HEARTH_DESKTOP_BIN, BARE_WINDOW_BIN, BENCH_OUT (JSON file). scripts/bench-ui.sh sets them.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (scripts/bench-ui.sh sets it)`);
  return v;
};
const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const RUNS = Number(process.env.BENCH_RUNS || 5);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- 1. initial JavaScript
function initialJs() {
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const refs = [...html.matchAll(/<script[^>]+src="([^"]+\.js)"|<link[^>]+rel="modulepreload"[^>]+href="([^"]+\.js)"/g)].map((m) => m[1] || m[2]);
  const gz = (f) => gzipSync(readFileSync(join(dist, f.replace(/^\//, ''))), { level: 9 }).length;
  const initial = refs.reduce((n, f) => n + gz(f), 0);
  const all = readdirSync(join(dist, 'assets')).filter((f) => f.endsWith('.js'));
  const lazy = all.filter((f) => !refs.some((r) => r.endsWith(f))).reduce((n, f) => n + gz(`assets/${f}`), 0);
  return { files: refs, initial_kb: initial / 1024, lazy_kb: lazy / 1024 };
}

// ---------------------------------------------------------------- 2. Chromium
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function chromiumLaunch(url, ready) {
  const t0 = performance.now();
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
  const page = await browser.newPage();
  await page.goto(url);
  await ready(page);
  const ms = performance.now() - t0;
  await browser.close();
  return ms;
}

async function chromiumTimes(base, token) {
  const app = [], bare = [];
  for (let i = 0; i < RUNS; i++) {
    app.push(await chromiumLaunch(`${base}/?token=${token}`, (p) => p.waitForSelector('textarea[aria-label="Message"]:not([disabled])', { timeout: 60_000 })));
    bare.push(await chromiumLaunch(`${base}/health`, (p) => p.waitForSelector('body', { timeout: 60_000 })));
  }
  return { app_ms: median(app), reference_ms: median(bare) };
}

// ---------------------------------------------------------------- 5. a long reply
/** Frame intervals (p50, p99, max) and long-task time over `ms`, measured inside the page. */
function frames(page, ms) {
  return page.evaluate(async (ms) => {
    const gaps = [];
    let long = 0;
    const obs = new PerformanceObserver((l) => l.getEntries().forEach((e) => (long += e.duration)));
    obs.observe({ type: 'longtask', buffered: false });
    await new Promise((done) => {
      let last = performance.now();
      const end = last + ms;
      const tick = (t) => {
        gaps.push(t - last);
        last = t;
        if (t < end) requestAnimationFrame(tick);
        else done();
      };
      requestAnimationFrame(tick);
    });
    obs.disconnect();
    gaps.sort((a, b) => a - b);
    const at = (q) => gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))];
    return { p50: at(0.5), p99: at(0.99), max: gaps[gaps.length - 1], long_task_ms: long, frames: gaps.length };
  }, ms);
}

async function longReply(base, token) {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${base}/?token=${token}`);
  await page.waitForSelector('textarea[aria-label="Message"]:not([disabled])');
  await page.getByRole('button', { name: 'New chat' }).click();
  const options = page.getByLabel('Max tokens for the reply');
  if (!(await options.isVisible())) await page.getByRole('button', { name: 'Reply options' }).click();
  await options.fill('2000');
  await page.fill('textarea[aria-label="Message"]', 'Write a very long story about a lighthouse keeper, chapter by chapter.');
  await page.click('button[aria-label="Send message"]');
  await page.waitForSelector('[data-testid="streaming-indicator"]', { timeout: 120_000 });
  await sleep(3000); // past the model's load and the first tokens
  const started = Date.now();
  const streaming = await frames(page, 20_000);
  const streamed = await page.evaluate(() => document.querySelector('[data-testid="streaming-message"]')?.innerText.length ?? 0);
  await page.waitForSelector('[data-testid="streaming-indicator"]', { state: 'detached', timeout: 600_000 });
  const tokens = await page.evaluate(async () => {
    const id = [...document.querySelectorAll('article[data-role="assistant"]')].pop()?.dataset.messageId;
    const token = sessionStorage.getItem('hearth.token');
    const r = await fetch(`/api/v1/messages/${id}/siblings`, { headers: { authorization: `Bearer ${token}` } });
    return (await r.json()).pop()?.completion_tokens ?? 0;
  });
  const idle = await frames(page, 20_000);
  await browser.close();
  return { streaming, idle, tokens, chars_at_end_of_window: streamed, window_s: (Date.now() - started) / 1000 };
}

// ---------------------------------------------------------------- 3 and 4. the desktop window
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';
async function wd(method, path, body) {
  const r = await fetch(env('WEBDRIVER_URL') + path, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j)}`);
  return j.value;
}

async function until(id, script, seconds) {
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const v = await wd('POST', `/session/${id}/execute/sync`, { script, args: [] }).catch(() => null);
    if (v) return v;
    await sleep(50);
  }
  throw new Error(`timed out: ${script}`);
}

/** PIDs of processes running `exe`, and all their descendants. */
function tree(exe) {
  const procs = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      let path = '';
      try { path = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]; } catch {}
      return { pid: Number(pid), ppid, path };
    } catch { return null; }
  }).filter(Boolean);
  const roots = procs.filter((p) => p.path === exe).map((p) => p.pid);
  const out = new Set(roots);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of procs) if (out.has(p.ppid) && !out.has(p.pid)) { out.add(p.pid); grew = true; }
  }
  return [...out];
}

function pssKb(pids) {
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').match(/^Pss:\s+(\d+) kB/m);
      if (m) kb += Number(m[1]);
    } catch {}
  }
  return kb;
}

async function desktopRun(bin, readyScript) {
  const t0 = performance.now();
  const { sessionId } = await wd('POST', '/session', { capabilities: { alwaysMatch: { 'tauri:options': { application: bin } } } });
  await until(sessionId, readyScript, 120);
  const ms = performance.now() - t0;
  // Idle: let start-up work settle, then read memory.
  await sleep(10_000);
  const pids = tree(bin);
  const pss = pssKb(pids);
  await wd('DELETE', `/session/${sessionId}/window`).catch(() => {});
  await wd('DELETE', `/session/${sessionId}`).catch(() => {});
  await sleep(1000);
  return { ms, pss_mb: pss / 1024, processes: pids.length };
}

async function desktopTimes() {
  const app = [], bare = [];
  const runs = Math.max(1, Math.min(RUNS, 3));
  for (let i = 0; i < runs; i++) {
    app.push(await desktopRun(env('HEARTH_DESKTOP_BIN'), `const t = document.querySelector('textarea[aria-label="Message"]'); return !!t && !t.disabled;`));
    bare.push(await desktopRun(env('BARE_WINDOW_BIN'), `return !!document.getElementById('ready');`));
  }
  const pick = (xs, k) => median(xs.map((x) => x[k]));
  return {
    app_ms: pick(app, 'ms'), reference_ms: pick(bare, 'ms'),
    app_pss_mb: pick(app, 'pss_mb'), reference_pss_mb: pick(bare, 'pss_mb'),
    app_processes: app[0].processes, reference_processes: bare[0].processes,
  };
}

// ---------------------------------------------------------------- report
const js = initialJs();
const browser = await chromiumTimes(env('HEARTH_URL'), env('HEARTH_TOKEN'));
const desktop = await desktopTimes();
const long = await longReply(env('HEARTH_URL'), env('HEARTH_TOKEN'));
const r = (x) => Math.round(x * 10) / 10;
console.log('UI and desktop benchmark');
console.log(`  initial JS of the chat screen  ${r(js.initial_kb)} KB gzip (goal 250: ratio ${(js.initial_kb / 250).toFixed(2)}); lazy screens ${r(js.lazy_kb)} KB`);
console.log(`  Chromium launch to chat        ${r(browser.app_ms)} ms   bare /health ${r(browser.reference_ms)} ms   ratio ${(browser.app_ms / browser.reference_ms).toFixed(2)}`);
console.log(`  window launch to chat          ${r(desktop.app_ms)} ms   bare Tauri window ${r(desktop.reference_ms)} ms   ratio ${(desktop.app_ms / desktop.reference_ms).toFixed(2)}`);
console.log(`  window memory idle (PSS)       ${r(desktop.app_pss_mb)} MB (${desktop.app_processes} processes)   bare Tauri window ${r(desktop.reference_pss_mb)} MB (${desktop.reference_processes})   ratio ${(desktop.app_pss_mb / desktop.reference_pss_mb).toFixed(2)} (goal <= 1.3)`);
const f = (x) => `p50 ${r(x.p50)} / p99 ${r(x.p99)} / max ${r(x.max)} ms, long tasks ${r(x.long_task_ms)} ms`;
console.log(`  long reply (${long.tokens} tokens) frames while streaming  ${f(long.streaming)}`);
console.log(`                               same page idle         ${f(long.idle)}   p99 ratio ${(long.streaming.p99 / long.idle.p99).toFixed(2)}`);
writeFileSync(env('BENCH_OUT'), JSON.stringify({ js, browser, desktop, long_reply: long, runs: RUNS }, null, 2));
