// The board: a column per status. A card moves by drag and drop, or from the keyboard
// (Shift+→, Shift+←), as a PATCH of its status guarded by the version shown. When the
// server has a newer version (412), the card shows it and says what changed; nothing is
// written over it.

import { api, ApiError } from './api.js';
import { $, h, STATUSES, differences, facts } from './dom.js';
import { apiParams } from './view.js';

const COLUMN = 100;

export class BoardView {
  constructor({ open, onCounts, onWrite }) {
    this.open = open;
    this.onCounts = onCounts;
    this.onWrite = onWrite;
    this.columns = {};
    this.totals = {};
    this.notices = new Map();
    // Each load takes a ticket: an answer for an earlier view is not shown.
    this.ticket = 0;
  }

  /** Loads every column of `view`; the oldest `seq` among them. */
  async load(view) {
    this.view = view;
    this.ticket++;
    await this.refresh(0);
    return this.seq;
  }

  /**
   * Loads every column again; false if an answer is older than `seq` (true, showing
   * nothing, if another view was loaded meanwhile).
   */
  async refresh(seq) {
    const ticket = this.ticket;
    const pages = await Promise.all(STATUSES.map(([status]) =>
      api.list(apiParams(this.view, { status: [status], limit: COLUMN, total: true }))));
    if (ticket !== this.ticket) return true;
    if (pages.some((page) => page.seq < seq)) return false;
    this.seq = Math.min(...pages.map((page) => page.seq));
    STATUSES.forEach(([status], i) => {
      this.columns[status] = pages[i].data;
      this.totals[status] = pages[i].total;
    });
    this.render();
    this.onCounts(this.totals);
    return true;
  }

  /** A change from the stream, shown at once on a card already on the board. */
  apply(change) {
    for (const [status, tasks] of Object.entries(this.columns)) {
      const index = tasks.findIndex((task) => task.id === change.task_id);
      if (index < 0) continue;
      if (change.task === null) tasks.splice(index, 1);
      else if (change.task.version > tasks[index].version) {
        tasks.splice(index, 1);
        this.columns[change.task.status].unshift(change.task);
        if (change.task.status !== status) this.notices.delete(change.task_id);
      }
      this.render();
      return;
    }
  }

  find(id) {
    return Object.values(this.columns).flat().find((task) => task.id === id);
  }

  /** Moves `task` to `status`, if the server still has the version shown. */
  async move(task, status) {
    if (task.status === status) return;
    this.notices.delete(task.id);
    try {
      const moved = await api.patch(task.id, task.version, { status });
      this.replace(moved);
      this.onWrite();
    } catch (error) {
      if (!(error instanceof ApiError) || (error.status !== 412 && error.status !== 404)) {
        this.notices.set(task.id, [`Not moved: ${error.message}`]);
        this.render();
        this.focus(task.id);
        return;
      }
      const current = error.status === 412 ? await api.get(task.id).catch(() => null) : null;
      if (!current) {
        this.notices.set(task.id, ['Not moved: this task was deleted elsewhere.']);
      } else {
        this.notices.set(task.id, [
          `Not moved: someone else changed this task (version ${task.version} → ${current.version}):`,
          ...differences(task, current)]);
        this.replace(current);
      }
      this.render();
      this.onWrite();
    }
    this.focus(task.id);
  }

  replace(task) {
    for (const tasks of Object.values(this.columns)) {
      const index = tasks.findIndex((shown) => shown.id === task.id);
      if (index >= 0) tasks.splice(index, 1);
    }
    this.columns[task.status].unshift(task);
    this.render();
  }

  focus(id) {
    document.querySelector(`.card[data-id="${CSS.escape(id)}"]`)?.focus();
  }

  card(task) {
    const notice = this.notices.get(task.id);
    const step = (by) => {
      const index = STATUSES.findIndex(([status]) => status === task.status) + by;
      if (index >= 0 && index < STATUSES.length) this.move(task, STATUSES[index][0]);
    };
    return h('li', {
      class: notice ? 'card has-notice' : 'card',
      tabindex: 0,
      draggable: 'true',
      'aria-keyshortcuts': 'Enter Shift+ArrowRight Shift+ArrowLeft',
      dataset: { id: task.id },
      ondragstart: (event) => {
        event.dataTransfer.setData('text/plain', task.id);
        event.dataTransfer.effectAllowed = 'move';
      },
      onkeydown: (event) => {
        if (event.target !== event.currentTarget) return;
        if (event.key === 'Enter') this.open(task);
        else if (event.shiftKey && event.key === 'ArrowRight') step(1);
        else if (event.shiftKey && event.key === 'ArrowLeft') step(-1);
        else return;
        event.preventDefault();
      },
    },
    h('button', { type: 'button', class: 'title', tabindex: -1, onclick: () => this.open(task) }, task.title),
    facts(task, { status: false }),
    notice ? h('div', { class: 'notice', role: 'alert' }, notice.map((line) => h('p', {}, line))) : null);
  }

  render() {
    const focused = document.activeElement?.closest?.('.card')?.dataset.id;
    const columns = STATUSES.map(([status, name]) => {
      const tasks = this.columns[status] ?? [];
      const hidden = (this.totals[status] ?? 0) - tasks.length;
      return h('section', { class: 'column', 'aria-labelledby': `column-${status}`, dataset: { status } },
        h('h2', { id: `column-${status}` }, `${name} `, h('span', { class: 'count' }, `(${this.totals[status] ?? 0})`)),
        h('ul', {
          ondragover: (event) => { event.preventDefault(); event.dataTransfer.dropEffect = 'move'; },
          ondrop: (event) => {
            event.preventDefault();
            const task = this.find(event.dataTransfer.getData('text/plain'));
            if (task) this.move(task, status);
          },
        }, tasks.map((task) => this.card(task))),
        hidden > 0 ? h('p', { class: 'hint' }, `${hidden} more not shown: use the list view.`) : null);
    });
    $('board').replaceChildren(...columns);
    if (focused) this.focus(focused);
    performance.mark('list-rendered');
  }
}
