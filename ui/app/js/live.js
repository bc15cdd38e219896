// Following /v1/changes/stream. EventSource cannot send an Authorization header, so the
// stream is read with fetch: the token stays in a header, never in a URL. Every
// connection sends `Last-Event-ID` with the last position received, so a reconnection
// (after a server restart, a network cut, a `lagged` end) resumes right after it,
// without a gap or a repeat. Quiet for longer than three heartbeats means dead.

import { authHeaders } from './api.js';

const SILENCE_MS = 35000;
const sleep = (ms, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
});

export class Live {
  /**
   * `onChange(change)` for each change, in seq order; `onReset()` when the position is
   * older than the log keeps (reload); `onState('live' | 'reconnecting')`;
   * `onUnauthorized()` when the token is refused.
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.controller = null;
    this.last = 0;
  }

  /** Follows the changes after `seq` (a list's `seq`), until `stop`. */
  start(seq) {
    this.stop();
    this.last = seq;
    this.controller = new AbortController();
    this.run(this.controller.signal);
  }

  stop() {
    this.controller?.abort();
    this.controller = null;
  }

  async run(signal) {
    let delay = 500;
    while (!signal.aborted) {
      try {
        if (await this.follow(signal)) delay = 500;
      } catch (error) {
        if (signal.aborted) return;
        if (error.status === 401) return this.handlers.onUnauthorized();
      }
      if (signal.aborted) return;
      this.handlers.onState('reconnecting');
      await sleep(delay, signal);
      delay = Math.min(delay * 2, 5000);
    }
  }

  /** One connection; true if it was established (it ended since). */
  async follow(signal) {
    const attempt = new AbortController();
    const cut = () => attempt.abort();
    signal.addEventListener('abort', cut, { once: true });
    let watchdog = setTimeout(cut, SILENCE_MS);
    try {
      const response = await fetch('/v1/changes/stream', {
        headers: authHeaders({ Accept: 'text/event-stream', 'Last-Event-ID': String(this.last) }),
        cache: 'no-store',
        signal: attempt.signal,
      });
      if (!response.ok) throw Object.assign(new Error('stream refused'), { status: response.status });
      this.handlers.onState('live');
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      let block = {};
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return true;
        clearTimeout(watchdog);
        watchdog = setTimeout(cut, SILENCE_MS);
        buffer += value;
        const lines = buffer.split('\n');
        buffer = lines.pop();
        for (const raw of lines) {
          const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
          if (line === '') {
            if (this.dispatch(block) === 'end') return true;
            block = {};
          } else if (!line.startsWith(':')) {
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            block[field] = field === 'data' && block.data !== undefined ? `${block.data}\n${text}` : text;
          }
        }
      }
    } finally {
      clearTimeout(watchdog);
      signal.removeEventListener('abort', cut);
      attempt.abort();
    }
  }

  /** Handles one block of the stream; 'end' when the stream is over. */
  dispatch(block) {
    if (block.event === 'reset') {
      this.handlers.onReset();
      return 'end';
    }
    if (block.event === 'lagged') return 'end';
    if (block.data === undefined) {
      // The starting position, with no data: no change, but where to resume from.
      if (block.id !== undefined) this.last = Math.max(this.last, Number(block.id));
      return;
    }
    const change = JSON.parse(block.data);
    if (change.seq <= this.last) return;
    this.last = change.seq;
    document.body.dataset.seq = String(change.seq);
    this.handlers.onChange(change);
  }
}
