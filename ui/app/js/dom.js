// Building the page: elements from tags, attributes and children, where every string
// becomes a text node (never markup), and the words shown for the API's values.

/** `h('li', {class: 'card'}, 'text', child)`: an element; strings become text nodes. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

export const $ = (id) => document.getElementById(id);

export const STATUSES = [
  ['todo', 'To do'], ['in_progress', 'In progress'], ['blocked', 'Blocked'], ['done', 'Done'],
];
export const PRIORITIES = [
  ['low', 'Low'], ['medium', 'Medium'], ['high', 'High'], ['urgent', 'Urgent'],
];
const words = Object.fromEntries([...STATUSES, ...PRIORITIES]);
export const word = (value) => words[value] ?? value;

/** A due date as the reader's clock shows it. */
export function when(iso) {
  return new Date(iso).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

/** One line per field that differs between two versions of a task, in words. */
export function differences(before, after) {
  const shown = (field, value) => {
    if (value === null || value === undefined || value === '') return 'nothing';
    if (field === 'labels') return value.length ? value.join(', ') : 'nothing';
    if (field === 'due_at') return when(value);
    if (field === 'status' || field === 'priority') return word(value);
    return `“${value}”`;
  };
  const fields = ['title', 'description', 'status', 'priority', 'assignee', 'labels', 'due_at'];
  return fields
    .filter((field) => JSON.stringify(before[field]) !== JSON.stringify(after[field]))
    .map((field) => `${field.replace('_at', '')}: ${shown(field, before[field])} → ${shown(field, after[field])}`);
}

/** The small facts of a task under its title: status, priority, assignee, labels, due. */
export function facts(task, { status = true } = {}) {
  const overdue = task.due_at && task.status !== 'done' && new Date(task.due_at) < new Date();
  return h('p', { class: 'facts' },
    status ? h('span', { class: `status s-${task.status}` }, word(task.status)) : null,
    h('span', { class: `priority p-${task.priority}` }, word(task.priority)),
    task.assignee ? h('span', { class: 'assignee' }, `@${task.assignee}`) : null,
    ...task.labels.map((label) => h('span', { class: 'label' }, label)),
    task.due_at ? h('span', { class: overdue ? 'due overdue' : 'due' }, `due ${when(task.due_at)}`) : null,
  );
}

let toastTimer;
/** A message at the bottom of the page, with an action button if `action` is given. */
export function toast(message, action) {
  clearTimeout(toastTimer);
  $('toast-text').textContent = message;
  const button = $('toast-undo');
  button.hidden = !action;
  button.onclick = action ? () => { $('toast').hidden = true; action.run(); } : null;
  if (action) button.textContent = action.label;
  $('toast').hidden = false;
  if (action) button.focus();
  toastTimer = setTimeout(() => { $('toast').hidden = true; }, action ? 15000 : 5000);
}
