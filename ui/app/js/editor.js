// The task editor, a modal dialog: create a task, edit every field, delete it (with an
// undo that restores it). Only the fields the person changed are sent, guarded by the
// version they started from; when someone else changed the task meanwhile (412), the
// dialog shows what they changed, takes their values into the fields the person did not
// touch, and keeps the person's own edits for them to save again, knowingly.

import { api, ApiError } from './api.js';
import { $, h, PRIORITIES, STATUSES, differences, toast } from './dom.js';

const FIELDS = ['title', 'description', 'status', 'priority', 'assignee', 'labels', 'due'];
const pad = (number) => String(number).padStart(2, '0');

/** An instant as a `datetime-local` value on the reader's clock. */
function localInput(iso) {
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The form's text for each field of `task`. */
function formOf(task) {
  return {
    title: task.title,
    description: task.description,
    status: task.status,
    priority: task.priority,
    assignee: task.assignee ?? '',
    labels: task.labels.join(', '),
    due: task.due_at ? localInput(task.due_at) : '',
  };
}

/** A form field's text as the API's value. */
function valueOf(field, text) {
  switch (field) {
    case 'assignee': return text.trim() || null;
    case 'labels': return [...new Set(text.split(',').map((label) => label.trim()).filter(Boolean))];
    // The reader's local date and time, as an instant in RFC 3339 (UTC).
    case 'due': return text ? new Date(text).toISOString() : null;
    default: return text;
  }
}
const member = (field) => (field === 'due' ? 'due_at' : field);

export class Editor {
  /** `onWrite()` after every write, `onDeleted(task)` after a delete. */
  constructor({ onWrite }) {
    this.onWrite = onWrite;
    this.dialog = $('editor');
    const options = (id, values) => $(id).replaceChildren(
      ...values.map(([value, name]) => h('option', { value }, name)));
    options('f-status', STATUSES);
    options('f-priority', PRIORITIES);
    $('editor-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.save();
    });
    $('editor-delete').addEventListener('click', () => this.delete());
    $('editor-cancel').addEventListener('click', () => this.dialog.close());
  }

  /** Opens the editor on `task`, or on a new task. */
  open(task = null) {
    this.task = task;
    this.start = formOf(task ?? {
      title: '', description: '', status: 'todo', priority: 'medium', assignee: null, labels: [], due_at: null,
    });
    for (const field of FIELDS) $(`f-${field}`).value = this.start[field];
    $('editor-title').textContent = task ? 'Edit task' : 'New task';
    $('editor-delete').hidden = !task;
    $('conflict').hidden = true;
    $('editor-error').textContent = '';
    this.dialog.showModal();
    $('f-title').focus();
  }

  /** The fields changed in the form since it was filled. */
  changed() {
    return FIELDS.filter((field) => $(`f-${field}`).value !== this.start[field]);
  }

  async save() {
    $('editor-error').textContent = '';
    try {
      if (!this.task) {
        const fields = Object.fromEntries(FIELDS.map((field) => [member(field), valueOf(field, $(`f-${field}`).value)]));
        await api.create(fields);
      } else {
        const patch = Object.fromEntries(this.changed().map((field) => [member(field), valueOf(field, $(`f-${field}`).value)]));
        if (Object.keys(patch).length) await api.patch(this.task.id, this.task.version, patch);
      }
      this.dialog.close();
      this.onWrite();
    } catch (error) {
      this.refused(error);
    }
  }

  async delete() {
    const task = this.task;
    try {
      await api.remove(task.id, task.version);
      this.dialog.close();
      this.onWrite();
      toast(`Deleted “${task.title}”.`, {
        label: 'Undo',
        run: async () => {
          try {
            await api.restore(task.id);
            toast(`Restored “${task.title}”.`);
          } catch (error) {
            toast(`Could not restore “${task.title}”: ${error.message}`);
          }
          this.onWrite();
        },
      });
    } catch (error) {
      this.refused(error);
    }
  }

  /** Shows why the server refused; on a 412, what changed, keeping the person's edits. */
  async refused(error) {
    if (error instanceof ApiError && error.status === 404 && this.task) {
      $('editor-error').textContent = 'This task was deleted elsewhere.';
      return;
    }
    if (!(error instanceof ApiError) || error.status !== 412) {
      $('editor-error').textContent = error.message;
      const field = error instanceof ApiError && error.problem?.field;
      if (field) $(`f-${field === 'due_at' ? 'due' : field}`)?.focus();
      return;
    }
    const current = await api.get(this.task.id).catch(() => null);
    if (!current) {
      $('editor-error').textContent = 'This task was deleted elsewhere.';
      return;
    }
    const mine = new Set(this.changed());
    const theirs = formOf(current);
    for (const field of FIELDS) if (!mine.has(field)) $(`f-${field}`).value = theirs[field];
    const lines = differences(this.task, current);
    $('conflict').replaceChildren(
      h('p', {}, `Someone else changed this task (version ${this.task.version} → ${current.version}). Their changes are now in the form:`),
      h('ul', {}, lines.map((line) => h('li', {}, line))),
      h('p', {}, mine.size
        ? 'Your own changes are kept. Save again to apply them on top of theirs.'
        : 'You had changed nothing.'));
    $('conflict').hidden = false;
    this.task = current;
    this.start = theirs;
    $('f-title').focus();
  }
}
