// The view a person is looking at (list or board, filters, sort) and the URL that names
// it, so that it can be bookmarked and shared; and the API parameters it means.

export const DEFAULT_SORT = '-created_at';
const TEXT = ['q', 'assignee', 'label', 'due_after', 'due_before'];
const split = (text) => (text ? text.split(',').map((part) => part.trim()).filter(Boolean) : []);

/** The view the current URL names. */
export function readView() {
  const url = new URLSearchParams(location.search);
  const view = {
    view: url.get('view') === 'board' ? 'board' : 'list',
    status: split(url.get('status')),
    priority: split(url.get('priority')),
    sort: url.get('sort') || DEFAULT_SORT,
  };
  for (const name of TEXT) view[name] = url.get(name) || '';
  return view;
}

/** The URL of `view`: only what differs from the defaults. */
export function viewUrl(view) {
  const url = new URLSearchParams();
  if (view.view === 'board') url.set('view', 'board');
  if (view.status.length) url.set('status', view.status.join(','));
  if (view.priority.length) url.set('priority', view.priority.join(','));
  for (const name of TEXT) if (view[name]) url.set(name, view[name]);
  if (view.sort !== DEFAULT_SORT) url.set('sort', view.sort);
  const query = url.toString();
  return query ? `?${query}` : location.pathname;
}

/**
 * The list parameters of `view` (`status` replaced when given: a board column, a
 * count). Assignees and labels are comma lists in the form: any of the assignees, every
 * one of the labels. Due dates are days in the reader's time zone.
 */
export function apiParams(view, { status = view.status, limit = 50, total = false } = {}) {
  const params = new URLSearchParams();
  if (status.length) params.set('status', status.join(','));
  if (view.priority.length) params.set('priority', view.priority.join(','));
  for (const assignee of split(view.assignee)) params.append('assignee', assignee);
  for (const label of split(view.label)) params.append('label', label);
  if (view.q) params.set('q', view.q);
  if (view.due_after) params.set('due_after', view.due_after);
  if (view.due_before) params.set('due_before', view.due_before);
  if (view.due_after || view.due_before) {
    params.set('tz', Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
  }
  params.set('sort', view.sort);
  params.set('limit', String(limit));
  params.set('total', String(total));
  return params;
}
