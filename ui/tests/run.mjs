// Tasklane's web app in a real browser: Debian's headless Chromium against real
// `tasklane serve` processes. Any failed step, console error or uncaught exception fails
// the run. Screenshots of each view go to $TASKLANE_UI_SCREENSHOTS (default
// target/ui-screenshots). Usage: node run.mjs [part of a test's name]

import { mkdirSync } from 'node:fs';
import { launch, openPage } from './lib/browser.mjs';
import { accessible, assert, equal, until } from './lib/check.mjs';
import { Server } from './lib/server.mjs';

const shots = process.env.TASKLANE_UI_SCREENSHOTS
  || new URL('../../target/ui-screenshots', import.meta.url).pathname;
mkdirSync(shots, { recursive: true });
const shot = (page, name) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: false });

const rowTitles = (page) => page.locator('#list .row .title').allTextContents();
const row = (page, title) => page.locator('#list .row', { has: page.getByRole('button', { name: title, exact: true }) });
const card = (page, title) => page.locator('.card', { has: page.getByRole('button', { name: title, exact: true }) });
const live = (page) => page.locator('#live[data-state="live"]').waitFor();
async function openApp(browser, problems, server, { path = '/', ...options } = {}) {
  const page = await openPage(browser, problems, options);
  await page.goto(server.url + path);
  return page;
}
async function fillEditor(page, fields) {
  for (const [name, value] of Object.entries(fields)) {
    const input = page.locator(`#f-${name}`);
    if (await input.evaluate((element) => element.tagName) === 'SELECT') await input.selectOption(value);
    else await input.fill(value);
  }
}

const tests = [];
const test = (name, body) => tests.push({ name, body });

test('the UI is served with its security headers, compressed, revalidated by ETag; /docs/ is unchanged', async ({ server }) => {
  const page = await fetch(`${server.url}/?view=board`, { headers: { 'accept-encoding': 'gzip' } });
  equal(page.status, 200, 'GET /');
  const csp = page.headers.get('content-security-policy') || '';
  for (const directive of ["script-src 'self'", "style-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "connect-src 'self'"]) {
    assert(csp.includes(directive), `the CSP lacks ${directive}: ${csp}`);
  }
  assert(!csp.includes('unsafe-inline') && !csp.includes('unsafe-eval'), `the CSP allows inline or eval: ${csp}`);
  equal(page.headers.get('x-content-type-options'), 'nosniff', 'X-Content-Type-Options');
  equal(page.headers.get('referrer-policy'), 'no-referrer', 'Referrer-Policy');
  equal(page.headers.get('content-encoding'), 'gzip', 'Content-Encoding');
  equal(page.headers.get('cache-control'), 'no-cache', 'Cache-Control');
  const etag = page.headers.get('etag');
  assert(etag, 'no ETag on /');
  const again = await fetch(`${server.url}/`, { headers: { 'if-none-match': etag } });
  equal(again.status, 304, 'GET / with its ETag');
  const script = await fetch(`${server.url}/ui/js/main.js`);
  assert(script.headers.get('content-type').startsWith('text/javascript'), `main.js is ${script.headers.get('content-type')}`);
  equal((await fetch(`${server.url}/ui/nothing.js`)).status, 404, 'an unknown file');
  const docs = await fetch(`${server.url}/docs/`);
  equal(docs.status, 200, 'GET /docs/');
  equal(docs.headers.get('content-security-policy'), null, 'the CSP of /docs/ (its page has inline script)');
  equal((await fetch(`${server.url}/v1/tasks`)).headers.get('content-security-policy'), null, 'the CSP of the API');
});

test('list: create, filter, sort, load more, edit, delete and undo', async ({ browser, problems, server }) => {
  for (let i = 0; i < 55; i++) {
    await server.create({ title: `Seed ${String(i).padStart(2, '0')}`, assignee: i % 2 ? 'ana' : 'bo', labels: ['seed'], priority: ['low', 'medium', 'high'][i % 3] });
  }
  const page = await openApp(browser, problems, server, { timezoneId: 'Europe/Paris' });
  await until(async () => (await rowTitles(page)).length === 50, 'the first page of 50');
  equal((await rowTitles(page))[0], 'Seed 54', 'the newest task first');
  await until(async () => (await page.locator('[data-count="todo"]').textContent()) === '(55)', 'the count of To do');
  await page.getByRole('button', { name: 'Load more' }).click();
  await until(async () => (await rowTitles(page)).length === 55, 'all 55 after Load more');
  assert(await page.getByRole('button', { name: 'Load more' }).isHidden(), 'Load more shown at the end');

  await page.getByRole('button', { name: 'New task' }).click();
  await fillEditor(page, { title: 'Write the release notes', description: 'What changed, and why', priority: 'urgent',
    assignee: 'cy', labels: 'docs, release', due: '2026-12-01T17:30' });
  await shot(page, 'editor');
  await page.getByRole('button', { name: 'Save' }).click();
  await until(async () => (await rowTitles(page))[0] === 'Write the release notes', 'the new task at the top');
  const created = (await server.api('GET', '/v1/tasks?q=release+notes')).data[0];
  equal([created.description, created.priority, created.assignee, created.labels, created.due_at],
    ['What changed, and why', 'urgent', 'cy', ['docs', 'release'], '2026-12-01T16:30:00Z'], 'the task created (17:30 in Paris)');

  await page.getByRole('checkbox', { name: 'Urgent' }).check();
  await until(async () => (await rowTitles(page)).join() === 'Write the release notes', 'the urgent filter');
  assert(page.url().includes('priority=urgent'), `the URL does not name the filter: ${page.url()}`);
  await page.getByRole('checkbox', { name: 'Urgent' }).uncheck();
  for (const [field, value] of [['assignee', 'cy'], ['label', 'docs'], ['q', 'RELEASE']]) {
    await page.locator(`#${field}`).fill(value);
    await until(async () => (await rowTitles(page)).join() === 'Write the release notes', `the ${field} filter`);
    await page.locator(`#${field}`).fill('');
    await until(async () => (await rowTitles(page)).length === 50, `the ${field} filter cleared`);
  }
  await page.locator('#due_after').fill('2026-12-01');
  await page.locator('#due_before').fill('2026-12-02');
  await until(async () => (await rowTitles(page)).join() === 'Write the release notes', 'the due window');
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await page.locator('#assignee').fill('ana');
  await until(async () => (await rowTitles(page)).length === 27, 'the 27 tasks of ana');
  await page.locator('#sort').selectOption('title');
  await until(async () => (await rowTitles(page))[0] === 'Seed 01', 'sorted by title');
  const bookmark = page.url();
  assert(bookmark.includes('sort=title') && bookmark.includes('assignee=ana'), `the URL does not name the view: ${bookmark}`);
  await page.goto(bookmark);
  await until(async () => (await rowTitles(page))[0] === 'Seed 01', 'the bookmarked view');
  equal(await page.locator('#sort').inputValue(), 'title', 'the sort of the bookmarked view');
  await page.locator('#sort').selectOption('-priority');
  await until(async () => (await page.locator('#list .row .priority').first().textContent()) === 'High', 'sorted by urgency');
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await shot(page, 'list');

  await page.getByRole('button', { name: 'Write the release notes', exact: true }).click();
  await fillEditor(page, { title: 'Write the release notes, again', status: 'in_progress', assignee: '', labels: 'docs', due: '' });
  await page.getByRole('button', { name: 'Save' }).click();
  await until(async () => (await row(page, 'Write the release notes, again').locator('.status').textContent()) === 'In progress', 'the edit shown');
  const edited = await server.api('GET', `/v1/tasks/${created.id}`);
  equal([edited.title, edited.status, edited.assignee, edited.labels, edited.due_at, edited.version],
    ['Write the release notes, again', 'in_progress', null, ['docs'], null, 2], 'the task edited');

  await page.getByRole('button', { name: 'Write the release notes, again', exact: true }).click();
  await page.getByRole('button', { name: 'Delete' }).click();
  await until(async () => !(await rowTitles(page)).includes('Write the release notes, again'), 'the task gone');
  await page.getByRole('button', { name: 'Undo' }).click();
  await until(async () => (await rowTitles(page))[0] === 'Write the release notes, again', 'the task restored');
  equal((await server.api('GET', `/v1/tasks/${created.id}`)).version, 3, 'the version after delete and restore (the deleted one + 1)');
});

test('a hostile title, description, label and assignee are shown as text and run nothing', async ({ browser, problems, server }) => {
  const hostile = '<img src=x onerror=alert(1)>';
  await server.create({ title: hostile, description: '<script>alert(2)</script>', labels: ['<b>bold</b>'], assignee: '"><svg onload=alert(3)>' });
  const page = await openApp(browser, problems, server);
  await until(async () => (await rowTitles(page)).join() === hostile, 'the hostile title as text');
  equal(await page.locator('#list .label').textContent(), '<b>bold</b>', 'the label');
  equal(await page.locator('#list .assignee').textContent(), '@"><svg onload=alert(3)>', 'the assignee');
  await page.getByRole('button', { name: hostile }).click();
  equal(await page.locator('#f-description').inputValue(), '<script>alert(2)</script>', 'the description in the editor');
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('link', { name: 'Board' }).click();
  await until(async () => (await card(page, hostile).count()) === 1, 'the hostile card');
  equal(await page.locator('img, svg, b, script:not([src])').count(), 0, 'elements made from task text');
});

test('live: changes from another session and from outside appear without a reload', async ({ browser, problems, server }) => {
  const a = await openApp(browser, problems, server);
  const b = await openApp(browser, problems, server);
  await Promise.all([live(a), live(b)]);
  await b.evaluate(() => { window.notReloaded = true; });
  await a.getByRole('button', { name: 'New task' }).click();
  await fillEditor(a, { title: 'Made in session A' });
  await a.getByRole('button', { name: 'Save' }).click();
  await until(async () => (await rowTitles(b)).includes('Made in session A'), 'A\'s task in B');
  const outside = await server.create({ title: 'Made with curl' });
  await until(async () => (await rowTitles(b))[0] === 'Made with curl', 'the outside task in B');
  await server.api('PATCH', `/v1/tasks/${outside.id}`, { body: { status: 'blocked' } });
  await until(async () => (await row(b, 'Made with curl').locator('.status').textContent()) === 'Blocked', 'the outside edit in B');
  await a.getByRole('button', { name: 'Made in session A' }).click();
  await a.getByRole('button', { name: 'Delete' }).click();
  await until(async () => !(await rowTitles(b)).includes('Made in session A'), 'A\'s delete in B');
  await b.getByRole('link', { name: 'Board' }).click();
  await until(async () => (await card(b, 'Made with curl').count()) === 1, 'the board in B');
  await server.api('PATCH', `/v1/tasks/${outside.id}`, { body: { status: 'done' } });
  await until(async () => (await b.locator('[data-status="done"] .card').allTextContents()).some((text) => text.startsWith('Made with curl')), 'the card moved in B');
  assert(await b.evaluate(() => window.notReloaded), 'session B reloaded');
});

test('conflict: the second editor sees the first one\'s change, and nothing is lost', async ({ browser, problems, server }) => {
  const task = await server.create({ title: 'Plan the offsite', priority: 'low' });
  const a = await openApp(browser, problems, server);
  const b = await openApp(browser, problems, server);
  b.expected.push(/status of 412/);
  for (const page of [a, b]) await page.getByRole('button', { name: 'Plan the offsite' }).click();
  await fillEditor(a, { title: 'Plan the offsite in May' });
  await a.getByRole('button', { name: 'Save' }).click();
  await until(async () => (await server.api('GET', `/v1/tasks/${task.id}`)).version === 2, 'A\'s save');
  await fillEditor(b, { priority: 'urgent', assignee: 'bo' });
  await b.getByRole('button', { name: 'Save' }).click();
  const conflict = b.locator('#conflict');
  await conflict.waitFor();
  const said = await conflict.textContent();
  assert(said.includes('version 1 → 2') && said.includes('title: “Plan the offsite” → “Plan the offsite in May”'), `the conflict says: ${said}`);
  equal(await b.locator('#f-title').inputValue(), 'Plan the offsite in May', 'A\'s title in B\'s form');
  equal(await b.locator('#f-priority').inputValue(), 'urgent', 'B\'s own priority kept');
  equal((await server.api('GET', `/v1/tasks/${task.id}`)).priority, 'low', 'the priority before B saves knowingly');
  await shot(b, 'conflict');
  await b.getByRole('button', { name: 'Save' }).click();
  await until(async () => (await server.api('GET', `/v1/tasks/${task.id}`)).version === 3, 'B\'s second save');
  const final = await server.api('GET', `/v1/tasks/${task.id}`);
  equal([final.title, final.priority, final.assignee], ['Plan the offsite in May', 'urgent', 'bo'], 'both edits kept');
});

test('board: drag and drop, and a move refused (412) shows the newer version', async ({ browser, problems, server }) => {
  const first = await server.create({ title: 'Fix the login page', labels: ['web'], assignee: 'ana', due_at: '2026-12-03T09:00:00Z' });
  await server.create({ title: 'Review the budget', priority: 'high' });
  await server.create({ title: 'Ship 1.0', priority: 'urgent', status: 'in_progress' });
  await server.create({ title: 'Call the supplier', status: 'blocked' });
  await server.create({ title: 'Write the changelog', status: 'done' });
  const page = await openApp(browser, problems, server, { path: '/?view=board' });
  await until(async () => (await page.locator('.card').count()) === 5, 'five cards');
  await card(page, 'Fix the login page').dragTo(page.locator('[data-status="in_progress"] ul'));
  await until(async () => (await server.api('GET', `/v1/tasks/${first.id}`)).status === 'in_progress', 'the dragged status saved');
  await until(async () => (await page.locator('[data-status="in_progress"] .card').count()) === 2, 'the card in its new column');
  await shot(page, 'board');

  // A session that does not hear of changes (its stream refused) moves a card someone changed.
  const stale = await openPage(browser, problems);
  stale.expected.push(/status of 412/, /changes\/stream/);
  await stale.route('**/v1/changes/stream', (route) => route.abort());
  await stale.goto(`${server.url}/?view=board`);
  await until(async () => (await stale.locator('.card').count()) === 5, 'the stale board');
  await server.api('PATCH', `/v1/tasks/${first.id}`, { body: { assignee: 'dan' } });
  await card(stale, 'Fix the login page').focus();
  await stale.keyboard.press('Shift+ArrowRight');
  const notice = card(stale, 'Fix the login page').locator('.notice');
  await notice.waitFor();
  const said = await notice.textContent();
  assert(said.includes('version 2 → 3') && said.includes('assignee: “ana” → “dan”'), `the card says: ${said}`);
  equal((await server.api('GET', `/v1/tasks/${first.id}`)).status, 'in_progress', 'the status after the refused move');
  await card(stale, 'Fix the login page').focus();
  await stale.keyboard.press('Shift+ArrowRight');
  await until(async () => (await server.api('GET', `/v1/tasks/${first.id}`)).status === 'blocked', 'the second move');
  equal((await server.api('GET', `/v1/tasks/${first.id}`)).assignee, 'dan', 'the other change kept');
});

test('the stream cut by a server restart resumes from its last seq, missing nothing', async ({ browser, problems, server }) => {
  const page = await openApp(browser, problems, server);
  page.expected.push(/changes\/stream|ERR_CONNECTION_REFUSED|ERR_INCOMPLETE_CHUNKED_ENCODING|ERR_EMPTY_RESPONSE|ERR_FAILED/);
  await live(page);
  const before = await server.create({ title: 'Before the restart' });
  await until(async () => (await rowTitles(page)).includes('Before the restart'), 'the first task');
  const seq = (await server.api('GET', `/v1/tasks/${before.id}`)).seq;
  await until(async () => (await page.evaluate(() => document.body.dataset.seq)) === String(seq), 'its change received');
  await page.route('**/v1/changes/stream', (route) => route.abort());
  await server.down();
  await page.locator('#live[data-state="reconnecting"]').waitFor();
  await shot(page, 'reconnecting');
  await server.up();
  const during = await server.create({ title: 'Made while the stream was cut' });
  const resumed = [];
  page.on('request', (request) => {
    if (request.url().includes('/v1/changes/stream')) resumed.push(request.headers()['last-event-id']);
  });
  await page.unroute('**/v1/changes/stream');
  await until(async () => (await rowTitles(page)).includes('Made while the stream was cut'), 'the change made while cut');
  await live(page);
  equal(resumed[0], String(seq), 'Last-Event-ID of the reconnection');
  equal(await page.evaluate(() => document.body.dataset.seq), String((await server.api('GET', `/v1/tasks/${during.id}`)).seq), 'the last seq received');
});

test('sign-in: a token pasted, kept for the session, never in a URL', async ({ browser, problems }) => {
  const server = await Server.start({ auth: 'token' });
  try {
    const secret = server.token('team');
    await server.create({ title: 'Only for the team' }, { token: secret });
    const page = await openApp(browser, problems, server, { expected: [/status of 401/] });
    await page.getByLabel('API token').waitFor();
    await accessible(page, 'the sign-in form');
    await shot(page, 'sign-in');
    // Not a token at all (a character no header can carry): said, and not kept.
    await page.getByLabel('API token').fill('tl_tökén😀');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await until(async () => (await page.locator('#sign-in-error').textContent()).includes('not a token'), 'the mistake named');
    equal(await page.evaluate(() => sessionStorage.length), 0, 'storage after a value that is not a token');
    await page.getByLabel('API token').fill(`tl_${'0'.repeat(64)}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await until(async () => (await page.locator('#sign-in-error').textContent()).includes('refused'), 'the refusal');
    await page.getByLabel('API token').fill(secret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await until(async () => (await rowTitles(page)).join() === 'Only for the team', 'the team\'s tasks');
    await live(page);
    await server.create({ title: 'Also for the team' }, { token: secret });
    await until(async () => (await rowTitles(page))[0] === 'Also for the team', 'a live change with the token');
    assert(!page.url().includes(secret), 'the token is in the URL');
    equal(await page.evaluate(() => sessionStorage.getItem('tasklane.token')), secret, 'the token in sessionStorage');
    await page.reload();
    await until(async () => (await rowTitles(page)).length === 2, 'still signed in after a reload');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    equal(await page.evaluate(() => sessionStorage.length), 0, 'storage after signing out');
  } finally {
    await server.stop();
  }
});

test('a view the server refuses (an edited address) says why and leaves the filters to clear', async ({ browser, problems, server }) => {
  await server.create({ title: 'Still here' });
  const page = await openApp(browser, problems, server, { path: '/?status=bogus', expected: [/status of 400/] });
  await until(async () => (await page.locator('#summary').textContent()).includes('Could not load the tasks'), 'the reason');
  assert((await page.locator('#summary').textContent()).includes('bogus'), 'the reason names the value');
  await page.waitForTimeout(6000); // longer than a notice is shown
  assert((await page.locator('#summary').textContent()).includes('Could not load the tasks'), 'the reason is still shown');
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await until(async () => (await rowTitles(page)).join() === 'Still here', 'the list once the filters are cleared');
  await live(page);
});

test('keyboard only: create, edit, move, delete and undo without a mouse', async ({ browser, problems, server }) => {
  const page = await openApp(browser, problems, server);
  await live(page);
  const key = (name) => page.keyboard.press(name);
  const focused = () => page.evaluate(() => document.activeElement?.id || document.activeElement?.className);
  await key('n');
  equal(await focused(), 'f-title', 'the focus in a new task');
  await page.keyboard.type('Keyboard task');
  await key('Tab');
  await page.keyboard.type('Made without a mouse');
  await key('Tab');
  await key('ArrowDown'); // status: in progress
  await key('Tab');
  await key('ArrowDown'); // priority: high
  await key('Tab');
  await page.keyboard.type('kim');
  await key('Enter');
  await until(async () => (await rowTitles(page))[0] === 'Keyboard task', 'the task made from the keyboard');
  const [task] = (await server.api('GET', '/v1/tasks')).data;
  equal([task.description, task.status, task.priority, task.assignee], ['Made without a mouse', 'in_progress', 'high', 'kim'], 'its fields');
  await key('b');
  await until(async () => (await card(page, 'Keyboard task').count()) === 1, 'the board');
  for (let i = 0; i < 40 && !(await card(page, 'Keyboard task').evaluate((element) => element === document.activeElement)); i++) await key('Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert(outline !== 'none', 'no visible focus on the card');
  await key('Shift+ArrowRight');
  await until(async () => (await server.api('GET', `/v1/tasks/${task.id}`)).status === 'blocked', 'the card moved');
  await until(async () => (await page.evaluate(() => document.activeElement?.classList.contains('card'))), 'the focus kept on the card');
  await key('Enter');
  equal(await focused(), 'f-title', 'the focus in the editor');
  for (let i = 0; i < 20 && (await focused()) !== 'editor-delete'; i++) await key('Tab');
  await key('Enter');
  await until(async () => (await focused()) === 'toast-undo', 'the undo button focused');
  await until(async () => (await card(page, 'Keyboard task').count()) === 0, 'the card deleted');
  await key('Enter');
  await until(async () => (await card(page, 'Keyboard task').count()) === 1, 'the card restored');
  await page.locator('body').focus();
  await key('l');
  await until(async () => (await page.locator('#list-view').isVisible()), 'the list');
  await key('/');
  equal(await focused(), 'q', 'the focus in the search');
  await page.keyboard.type('nothing like it');
  await until(async () => (await page.locator('#list .empty').count()) === 1, 'the empty search');
});

test('usable at 360 px, and no serious accessibility violation in any view, light or dark', async ({ browser, problems, server }) => {
  await server.create({ title: 'A task with a rather long title that has to wrap on a phone screen', labels: ['mobile', 'layout'], assignee: 'somebody-with-a-long-name', due_at: '2026-12-04T10:00:00Z' });
  await server.create({ title: 'Blocked by the vendor', status: 'blocked', priority: 'urgent' });
  const desktop = await openApp(browser, problems, server);
  await until(async () => (await rowTitles(desktop)).length === 2, 'the list');
  await accessible(desktop, 'the list view');
  await desktop.getByRole('link', { name: 'Board' }).click();
  await until(async () => (await desktop.locator('.card').count()) === 2, 'the board');
  await accessible(desktop, 'the board view');
  await desktop.getByRole('button', { name: 'Blocked by the vendor' }).click();
  await accessible(desktop, 'the editor');
  const phone = await openApp(browser, problems, server, { viewport: { width: 360, height: 740 } });
  await until(async () => (await rowTitles(phone)).length === 2, 'the list at 360 px');
  const overflow = () => phone.evaluate(() => document.documentElement.scrollWidth);
  equal(await overflow(), 360, 'the page width of the list at 360 px');
  await shot(phone, 'phone-list');
  await phone.getByRole('link', { name: 'Board' }).click();
  await until(async () => (await phone.locator('.card').count()) === 2, 'the board at 360 px');
  equal(await overflow(), 360, 'the page width of the board at 360 px');
  await accessible(phone, 'the board at 360 px');
  await shot(phone, 'phone-board');
  const dark = await openApp(browser, problems, server, { colorScheme: 'dark', path: '/?view=board' });
  await until(async () => (await dark.locator('.card').count()) === 2, 'the board in dark colours');
  await accessible(dark, 'the board in dark colours');
  await dark.getByRole('link', { name: 'List' }).click();
  await until(async () => (await rowTitles(dark)).length === 2, 'the list in dark colours');
  await accessible(dark, 'the list in dark colours');
});

const browser = await launch();
const only = process.argv[2];
let failed = 0;
for (const { name, body } of tests.filter((entry) => !only || entry.name.includes(only))) {
  const problems = [];
  const server = await Server.start();
  const contexts = new Set(browser.contexts());
  try {
    await body({ browser, problems, server });
    if (problems.length) throw new Error(problems.join('\n'));
    console.log(`ok - ${name}`);
  } catch (error) {
    failed++;
    console.log(`not ok - ${name}\n  ${error.stack.replaceAll('\n', '\n  ')}`);
    if (problems.length && error.message !== problems.join('\n')) console.log(`  also: ${problems.join('\n  ')}`);
  } finally {
    for (const context of browser.contexts()) if (!contexts.has(context)) await context.close();
    await server.stop();
  }
}
await browser.close();
console.log(failed ? `${failed} failed` : 'all passed');
process.exit(failed ? 1 : 0);
