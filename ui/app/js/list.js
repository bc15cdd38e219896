// The list view: the tasks of the view, a page at a time ("Load more" walks the keyset
// cursor), and how many tasks each status has under the other filters.

import { api } from './api.js';
import { $, h, STATUSES, facts, toast } from './dom.js';
import { apiParams } from './view.js';

const PAGE = 50;

/** How many tasks of each status match `view`'s other filters (cached by the server). */
export async function countByStatus(view) {
  const pages = await Promise.all(STATUSES.map(([status]) =>
    api.list(apiParams(view, { status: [status], limit: 1, total: true }))));
  return Object.fromEntries(STATUSES.map(([status], i) => [status, pages[i].total]));
}

export class ListView {
  /** `open(task)` opens the editor. */
  constructor({ open, onCounts }) {
    this.open = open;
    this.onCounts = onCounts;
    this.items = [];
    this.cursor = null;
    // Each load takes a ticket: an answer for an earlier view is not shown.
    this.ticket = 0;
    $('load-more').addEventListener('click', () => this.more());
  }

  /** Loads the first page of `view`; its `seq`. */
  async load(view) {
    this.view = view;
    const ticket = ++this.ticket;
    const counts = countByStatus(view).then((counts) => ticket === this.ticket && this.onCounts(counts));
    counts.catch(() => {}); // awaited below, once the list is shown
    let page;
    try {
      page = await api.list(apiParams(view, { limit: PAGE }));
    } catch (error) {
      // The counts of a view that failed are not shown over the reason it failed.
      if (ticket === this.ticket) this.ticket++;
      throw error;
    }
    if (ticket !== this.ticket) return page.seq;
    this.items = page.data;
    this.cursor = page.next_cursor;
    this.render();
    await counts;
    return page.seq;
  }

  /**
   * Loads as many tasks as are shown again; false if the answer is older than `seq`
   * (true, showing nothing, if another view was loaded meanwhile).
   */
  async refresh(seq) {
    const ticket = this.ticket;
    const wanted = Math.max(this.items.length, PAGE);
    const counts = countByStatus(this.view);
    counts.catch(() => {}); // awaited below, once the list is shown
    const items = [];
    let cursor = null;
    do {
      const params = apiParams(this.view, { limit: PAGE });
      if (cursor) params.set('cursor', cursor);
      const page = await api.list(params);
      if (page.seq < seq) return false;
      items.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor && items.length < wanted);
    if (ticket !== this.ticket) return true;
    this.items = items;
    this.cursor = cursor;
    this.render();
    const counted = await counts;
    if (ticket === this.ticket) this.onCounts(counted);
    return true;
  }

  async more() {
    const ticket = this.ticket;
    const params = apiParams(this.view, { limit: PAGE });
    params.set('cursor', this.cursor);
    let page;
    try {
      page = await api.list(params);
    } catch (error) {
      toast(`Could not load more tasks: ${error.message}`);
      return;
    }
    if (ticket !== this.ticket) return;
    const shown = new Set(this.items.map((task) => task.id));
    this.items.push(...page.data.filter((task) => !shown.has(task.id)));
    this.cursor = page.next_cursor;
    this.render();
  }

  /** A change from the stream, shown at once on a task already listed. */
  apply(change) {
    const index = this.items.findIndex((task) => task.id === change.task_id);
    if (index < 0) return;
    if (change.task === null) this.items.splice(index, 1);
    else if (change.task.version > this.items[index].version) this.items[index] = change.task;
    this.render();
  }

  render() {
    const rows = this.items.map((task) => h('li', { class: 'row', dataset: { id: task.id } },
      h('button', { type: 'button', class: 'title', onclick: () => this.open(task) }, task.title),
      facts(task)));
    $('list').replaceChildren(...rows);
    if (!rows.length) $('list').append(h('li', { class: 'empty' }, 'No task matches this view.'));
    $('load-more').hidden = !this.cursor;
    performance.mark('list-rendered');
  }
}
