// The web app's figures for BENCHMARKS.md, measured in headless Chromium against a
// server on a seeded workspace: bytes transferred by the first load, the time from
// navigation to the first list shown, and from a write made by another client to its
// appearance. Prints markdown table rows. Usage:
//   node measure.mjs --bin target/release/tasklane [--tasks 100000] [--writes 20]

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { launch, openPage } from './lib/browser.mjs';
import { Server } from './lib/server.mjs';

const { values: options } = parseArgs({
  options: { bin: { type: 'string' }, tasks: { type: 'string', default: '100000' }, writes: { type: 'string', default: '20' } },
});
if (options.bin) process.env.TASKLANE_BIN = options.bin;
const bin = process.env.TASKLANE_BIN;
const tasks = Number(options.tasks);

const dir = mkdtempSync(join(tmpdir(), 'tasklane-ui-measure-'));
const database = `sqlite://${join(dir, 'measure.db')}`;
execFileSync(bin, ['seed', '--new', '--tasks', String(tasks), '--workspaces', '1', '--workspace-prefix', 'ui',
  '--database-url', database], { stdio: ['ignore', 'ignore', 'inherit'] });
const server = await Server.start({ auth: 'token', database });
const secret = server.token('ui-0001');
const browser = await launch();
const problems = [];

/** A fresh browser session (empty HTTP cache), signed in, on the list. */
async function firstLoad() {
  const page = await openPage(browser, problems);
  await page.context().addInitScript((token) => sessionStorage.setItem('tasklane.token', token), secret);
  await page.goto(server.url);
  await page.waitForFunction(() => performance.getEntriesByName('list-rendered').length > 0, null, { timeout: 60000 });
  return page;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
const ms = (value) => Math.round(value);
try {
  const timings = [];
  let bytes;
  for (let i = 0; i < 6; i++) {
    const page = await firstLoad();
    timings.push(await page.evaluate(() => performance.getEntriesByName('list-rendered')[0].startTime));
    bytes ??= await page.evaluate(() => {
      const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
        .filter((entry) => entry.responseEnd > 0 && entry.responseEnd <= performance.getEntriesByName('list-rendered')[0].startTime);
      const sum = (list) => list.reduce((total, entry) => total + entry.transferSize, 0);
      return { assets: sum(entries.filter((entry) => !entry.name.includes('/v1/'))), all: sum(entries) };
    });
    await page.context().close();
  }

  const page = await firstLoad();
  await page.locator('#live[data-state="live"]').waitFor();
  const delays = [];
  for (let i = 0; i < Number(options.writes); i++) {
    const title = `Measured write ${i}`;
    const seen = page.evaluate((wanted) => new Promise((resolve) => {
      const found = () => [...document.querySelectorAll('#list .title')].some((element) => element.textContent === wanted);
      new MutationObserver((_, observer) => {
        if (found()) {
          observer.disconnect();
          resolve(Date.now());
        }
      }).observe(document.getElementById('list'), { childList: true, subtree: true });
    }), title);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const start = Date.now();
    await server.create({ title }, { token: secret });
    delays.push((await seen) - start);
  }
  if (problems.length) throw new Error(problems.join('\n'));

  const kb = (value) => `${(value / 1024).toFixed(1)} KB`;
  console.log(`| first load: the page, its stylesheet and modules, transferred (gzip, headers included) | ${kb(bytes.assets)} | at most 150 KB |`);
  console.log(`| first load: everything until the list shows, the API's answers included | ${kb(bytes.all)} | at most 150 KB |`);
  console.log(`| navigation to the first list shown, ${tasks.toLocaleString('en')} tasks, first load after the server started | ${ms(timings[0])} ms | at most 1 s |`);
  console.log(`| navigation to the first list shown, ${tasks.toLocaleString('en')} tasks, median of ${timings.length - 1} more fresh sessions | ${ms(median(timings.slice(1)))} ms | at most 1 s |`);
  console.log(`| a write by another client to its row shown, median / slowest of ${delays.length} | ${ms(median(delays))} / ${ms(Math.max(...delays))} ms | at most 1 s |`);
} finally {
  await browser.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
