// The public /v1 API, as this app calls it: the bearer token (kept in sessionStorage,
// never in a URL), problem documents turned into ApiError, versions sent as If-Match.

const TOKEN_KEY = 'tasklane.token';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** What `tasklane token create` prints: `tl_` and 64 hexadecimal digits. */
export const TOKEN_PATTERN = /^tl_[0-9a-fA-F]{64}$/;

export const token = {
  /** The token kept for this tab; one that is not a token (kept by hand) is dropped. */
  get: () => {
    const value = sessionStorage.getItem(TOKEN_KEY);
    if (value === null || TOKEN_PATTERN.test(value)) return value;
    sessionStorage.removeItem(TOKEN_KEY);
    return null;
  },
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** Request headers with the token, if there is one. */
export function authHeaders(extra = {}) {
  const headers = new Headers(extra);
  const secret = token.get();
  if (secret) headers.set('Authorization', `Bearer ${secret}`);
  return headers;
}

async function request(method, path, { body, ifMatch, type = 'application/json' } = {}) {
  const init = { method, headers: authHeaders() };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers.set('Content-Type', type);
  }
  if (ifMatch !== undefined) init.headers.set('If-Match', `"${ifMatch}"`);
  const response = await fetch(path, init);
  const json = (response.headers.get('content-type') || '').includes('json')
    ? await response.json()
    : null;
  if (!response.ok) throw new ApiError(response.status, json);
  return json;
}

const task = (id) => `/v1/tasks/${encodeURIComponent(id)}`;

export const api = {
  /** A page of tasks: `params` is a URLSearchParams of list parameters. */
  list: (params) => request('GET', `/v1/tasks?${params}`),
  get: (id) => request('GET', task(id)),
  create: (fields) => request('POST', '/v1/tasks', { body: fields }),
  /** A merge patch, applied only if the task is still at `version` (else 412). */
  patch: (id, version, patch) =>
    request('PATCH', task(id), { body: patch, ifMatch: version, type: 'application/merge-patch+json' }),
  remove: (id, version) => request('DELETE', task(id), { ifMatch: version }),
  restore: (id) => request('POST', `${task(id)}/restore`),
};
