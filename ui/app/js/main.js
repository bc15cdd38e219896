// The app: signs in (or finds that no sign-in is needed), shows the view the URL names,
// follows the change stream from the `seq` of what it loaded, and keeps the view
// current as changes arrive. Keyboard: n (new task), / (search), l (list), b (board).

import { api, token, TOKEN_PATTERN } from './api.js';
import { BoardView } from './board.js';
import { $, h, PRIORITIES, STATUSES, toast } from './dom.js';
import { Editor } from './editor.js';
import { ListView } from './list.js';
import { Live } from './live.js';
import { DEFAULT_SORT, readView, viewUrl } from './view.js';

let view = readView();
const editor = new Editor({ onWrite: () => refresh() });
const open = (task) => editor.open(task);
const showCounts = (counts) => {
  for (const [status] of STATUSES) {
    const count = document.querySelector(`#status-options [data-count="${status}"]`);
    if (count) count.textContent = `(${counts[status]})`;
  }
  const total = Object.entries(counts)
    .filter(([status]) => view.view === 'board' || !view.status.length || view.status.includes(status))
    .reduce((sum, [, count]) => sum + count, 0);
  $('summary').textContent = `${total} ${total === 1 ? 'task' : 'tasks'} in this view`;
};
const views = {
  list: new ListView({ open, onCounts: showCounts }),
  board: new BoardView({ open, onCounts: showCounts, onWrite: () => refresh() }),
};
const live = new Live({
  onChange: (change) => {
    views[view.view].apply(change);
    refresh();
  },
  onReset: () => {
    live.stop();
    load();
  },
  onState: (state) => {
    $('live').dataset.state = state;
    $('live').textContent = state === 'live' ? 'Live' : 'Reconnecting…';
  },
  onUnauthorized: () => signIn('Your token was refused: sign in again.'),
});

/** Shows the view the URL names, and follows the changes from what it loaded; true if it could. */
async function load() {
  document.body.dataset.view = view.view;
  $('list-view').hidden = view.view !== 'list';
  $('board-view').hidden = view.view !== 'board';
  $('status-fieldset').hidden = view.view === 'board';
  for (const name of ['list', 'board']) {
    if (view.view === name) $(`nav-${name}`).setAttribute('aria-current', 'page');
    else $(`nav-${name}`).removeAttribute('aria-current');
  }
  document.title = view.view === 'board' ? 'Board · Tasklane' : 'Tasks · Tasklane';
  try {
    const seq = await views[view.view].load(view);
    if (!live.controller) live.start(seq);
    return true;
  } catch (error) {
    failed(error);
    return false;
  }
}

/**
 * Says why the view could not be loaded, and keeps saying it: a refused token asks for
 * another; a view the server refuses (a filter from an edited address) leaves the
 * filters to fix or clear; a server that cannot be reached is asked again.
 */
let retry = null;
function failed(error) {
  if (error.status === 401) {
    signIn(token.get() ? 'Your token was refused: sign in again.' : '');
    return;
  }
  $('list-view').hidden = true;
  $('board-view').hidden = true;
  const unreachable = !error.status || error.status >= 500;
  $('summary').textContent = unreachable
    ? `Could not reach the server (${error.message}); trying again…`
    : `Could not load the tasks: ${error.message}. Change the filters, or clear them.`;
  if (unreachable && !retry) {
    retry = setTimeout(() => {
      retry = null;
      load();
    }, 3000);
  }
}

// Reloads the view after a change, one reload at a time; an answer older than the last
// change received is asked for again (never shown).
let reloading = null;
let again = false;
function refresh() {
  if (reloading) {
    again = true;
    return;
  }
  reloading = (async () => {
    for (let tries = 0; tries < 5; tries++) {
      again = false;
      if (await views[view.view].refresh(live.last) && !again) break;
    }
  })().catch(failed).finally(() => { reloading = null; });
}

// Filters: the form holds the view; each change is written to the URL and loaded.
function fillFilters() {
  const boxes = (id, name, values) => $(id).replaceChildren(...values.map(([value, label]) =>
    h('label', { class: 'option' },
      h('input', { type: 'checkbox', name, value, checked: view[name].includes(value) }),
      ` ${label} `, name === 'status' ? h('span', { class: 'count', dataset: { count: value } }) : null)));
  boxes('status-options', 'status', STATUSES);
  boxes('priority-options', 'priority', PRIORITIES);
  for (const name of ['q', 'assignee', 'label', 'due_after', 'due_before', 'sort']) $(name).value = view[name];
}

function readFilters() {
  const checked = (name) => [...document.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => box.value);
  view.status = checked('status');
  view.priority = checked('priority');
  for (const name of ['q', 'assignee', 'label', 'due_after', 'due_before', 'sort']) view[name] = $(name).value.trim();
}

let typing;
function filtersChanged(event) {
  clearTimeout(typing);
  const apply = () => {
    readFilters();
    history.replaceState(null, '', viewUrl(view));
    load();
  };
  if (['search', 'text'].includes(event.target.type)) typing = setTimeout(apply, 250);
  else apply();
}

function go(name) {
  if (view.view === name) return;
  view.view = name;
  history.pushState(null, '', viewUrl(view));
  load();
}

function shortcuts(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || $('editor').open) return;
  if (event.target.closest('input, textarea, select')) return;
  const actions = { n: () => editor.open(), '/': () => { $('filter-panel').open = true; $('q').focus(); }, l: () => go('list'), b: () => go('board') };
  const action = actions[event.key];
  if (!action || $('filters').hidden) return;
  event.preventDefault();
  action();
}

/** Shows the sign-in form. */
function signIn(message = '') {
  live.stop();
  token.clear();
  for (const id of ['filters', 'list-view', 'board-view']) $(id).hidden = true;
  $('summary').textContent = '';
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message;
  $('new-task').disabled = true;
  $('sign-out').hidden = true;
  $('live').textContent = '';
  $('token').focus();
}

/** True if the API answers with the token held. */
async function signedIn() {
  try {
    await api.list(new URLSearchParams({ limit: '1', total: 'false' }));
    return true;
  } catch (error) {
    if (error.status === 401) return false;
    throw error;
  }
}

async function start() {
  // Filters take the whole of a phone's screen: there they start folded, unless in use.
  const filtering = viewUrl({ ...view, view: 'list', sort: DEFAULT_SORT }) !== location.pathname;
  $('filter-panel').open = filtering || matchMedia('(min-width: 561px)').matches;
  $('sign-in').hidden = true;
  await load();
  if (!$('sign-in').hidden) return;
  $('filters').hidden = false;
  $('new-task').disabled = false;
  $('sign-out').hidden = !token.get();
}

$('sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const given = $('token').value.trim();
  $('token').value = '';
  if (!TOKEN_PATTERN.test(given)) {
    signIn('That is not a token: a token is tl_ and 64 hexadecimal digits (tasklane token create).');
    return;
  }
  token.set(given);
  if (await signedIn()) start();
  else signIn('That token was refused.');
});
$('sign-out').addEventListener('click', () => signIn());
$('new-task').addEventListener('click', () => editor.open());
$('filters').addEventListener('input', filtersChanged);
$('filters').addEventListener('submit', (event) => event.preventDefault());
$('clear-filters').addEventListener('click', () => {
  view = { ...readView(), status: [], priority: [], q: '', assignee: '', label: '', due_after: '', due_before: '', view: view.view };
  fillFilters();
  history.replaceState(null, '', viewUrl(view));
  load();
});
for (const name of ['list', 'board']) {
  $(`nav-${name}`).addEventListener('click', (event) => {
    event.preventDefault();
    go(name);
  });
}
window.addEventListener('popstate', () => {
  view = readView();
  fillFilters();
  load();
});
document.addEventListener('keydown', shortcuts);
fillFilters();
// No sign-in first: a view that loads without a token (a loopback `--auth none` server)
// needs none; a 401 shows the sign-in form (load's `failed`).
await start();
