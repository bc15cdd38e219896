// A real `tasklane serve` for the browser tests: SQLite in a temporary directory, a free
// port on 127.0.0.1, stopped and started again on the same port and database when a test
// needs the server to go away.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Read when used, not when imported: measure.mjs sets it from its --bin after its imports.
const bin = () => process.env.TASKLANE_BIN || new URL('../../../target/debug/tasklane', import.meta.url).pathname;

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class Server {
  /** `auth`: 'none' (no sign-in on loopback) or 'token'. `database`: an existing SQLite URL. */
  static async start({ auth = 'none', database, extra = [] } = {}) {
    const server = new Server();
    server.dir = mkdtempSync(join(tmpdir(), 'tasklane-ui-'));
    server.database = database || `sqlite://${join(server.dir, 'tasklane.db')}`;
    server.auth = auth;
    server.extra = extra;
    server.port = await freePort();
    server.url = `http://127.0.0.1:${server.port}`;
    await server.up();
    return server;
  }

  async up() {
    this.process = spawn(bin(), ['serve', '--listen', `127.0.0.1:${this.port}`, '--auth', this.auth,
      '--rate-limit', '0', '--database-url', this.database, '--log', 'warn', ...this.extra],
    { stdio: ['ignore', 'ignore', 'inherit'] });
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    for (let i = 0; i < 200; i++) {
      try {
        if ((await fetch(`${this.url}/healthz`)).ok) return;
      } catch { /* not yet listening */ }
      if (this.process.exitCode !== null) break;
      await sleep(50);
    }
    await Promise.race([exited, sleep(10)]);
    throw new Error(`tasklane serve did not start on ${this.url}`);
  }

  /** Stops the server (SIGTERM) and waits for it to exit. */
  async down() {
    if (!this.process || this.process.exitCode !== null) return;
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.kill('SIGTERM');
    await exited;
  }

  async stop() {
    await this.down();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A token for `workspace`, issued by the binary on the server's database. */
  token(workspace = 'ui') {
    return execFileSync(bin(), ['token', 'create', '--workspace', workspace, '--database-url', this.database],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  }

  /** A call to the API from outside the browser (as curl would), `token` if given. */
  async api(method, path, { body, ifMatch, token } = {}) {
    const headers = {};
    if (body !== undefined) headers['content-type'] = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
    if (ifMatch !== undefined) headers['if-match'] = `"${ifMatch}"`;
    if (token) headers.authorization = `Bearer ${token}`;
    const response = await fetch(`${this.url}${path}`, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = response.status === 204 ? null : await response.json();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  }

  create(task, options) {
    return this.api('POST', '/v1/tasks', { ...options, body: task });
  }
}
