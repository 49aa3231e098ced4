/* eslint-disable @typescript-eslint/no-explicit-any -- answers are checked by the assertions, not the compiler */
// Test support: the real server on ephemeral loopback ports with a throw-away data dir, and a small HTTP client
// that keeps one session cookie per logged-in user.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Role } from '../../contracts/domain.js';
import { createUserRepository, publicUser } from '../../db/user.repository.js';
import { hashPassword } from '../../core/password.js';
import { SESSION_COOKIE } from '../auth/request-auth.js';
import { buildApp, type BuildOptions, type PitcrewServer } from '../build-app.js';
import { loadConfig, type ServerConfig } from '../config.js';
import { tinyDiskImage } from '../../disk-layout/test-support/tiny-disk-image.js';

export const PASSWORDS: Record<Role, string> = { admin: 'admin-password-1', operator: 'operator-password-1', viewer: 'viewer-password-1' };

export interface TestServer {
  server: PitcrewServer;
  config: ServerConfig;
  managementUrl: string;
  deviceUrl: string;
  dataDir: string;
  /** Logged-in clients, one per role (users `admin`, `operator`, `viewer`). */
  as: Record<Role, HttpClient>;
  anonymous: HttpClient;
  device: HttpClient;
  close(): Promise<void>;
}

export interface HttpAnswer<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Sent as JSON unless it is a string (sent as is). */
  body?: unknown;
}

export class HttpClient {
  cookie: string | null = null;
  constructor(readonly baseUrl: string, readonly defaultHeaders: Record<string, string> = {}) {}

  async request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<HttpAnswer<T>> {
    const headers: Record<string, string> = { ...this.defaultHeaders, ...options.headers };
    if (this.cookie) headers.cookie = this.cookie;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${this.baseUrl}${path}`, { method, headers, body });
    const setCookie = response.headers.getSetCookie().find((c) => c.startsWith('pitcrew_session='));
    if (setCookie) this.cookie = setCookie.split(';')[0]!;
    const text = await response.text();
    let parsed: unknown = text;
    if (response.headers.get('content-type')?.includes('json') && text) parsed = JSON.parse(text);
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }

  get = <T = any>(path: string, options?: RequestOptions) => this.request<T>('GET', path, options);
  post = <T = any>(path: string, body?: unknown, options?: RequestOptions) => this.request<T>('POST', path, { ...options, body: body ?? {} });
  put = <T = any>(path: string, body?: unknown, options?: RequestOptions) => this.request<T>('PUT', path, { ...options, body: body ?? {} });
  delete = <T = any>(path: string, options?: RequestOptions) => this.request<T>('DELETE', path, options);

  async login(username: string, password: string): Promise<HttpAnswer> {
    const answer = await this.post('/api/auth/login', { username, password });
    if (answer.status !== 200) throw new Error(`login of ${username} failed: ${answer.status} ${answer.text}`);
    return answer;
  }
}

let hashing: Promise<Record<Role, string>> | null = null;
const testPasswordHashes = () =>
  (hashing ??= Promise.all([hashPassword(PASSWORDS.admin), hashPassword(PASSWORDS.operator), hashPassword(PASSWORDS.viewer)]).then(([admin, operator, viewer]) => ({ admin, operator, viewer })));

export async function startTestServer(overrides: Partial<Record<keyof ServerConfig, string | number | string[] | null>> = {}, options: BuildOptions & { users?: boolean } = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pitcrew-server-test-'));
  const config = loadConfig({}, { dataDir, port: 0, devicePort: 0, host: '127.0.0.1', deviceHost: '127.0.0.1', logLevel: 'silent', ...overrides });
  const server = await buildApp(config, options);
  const addresses = await server.listen();
  const as = {} as Record<Role, HttpClient>;
  if (options.users !== false) {
    // scrypt is deliberately slow: hash the three test passwords once per test file, and start the clients with
    // sessions made directly (login itself has its own tests).
    const hashes = await testPasswordHashes();
    const users = createUserRepository(server.db);
    for (const role of ['admin', 'operator', 'viewer'] as const) {
      const user = users.insert({ username: role, password_hash: hashes[role], role, created_at: new Date().toISOString() });
      as[role] = new HttpClient(addresses.management);
      as[role].cookie = `${SESSION_COOKIE}=${server.accounts.createSession(publicUser(user)).id}`;
    }
  }
  return {
    server,
    config,
    managementUrl: addresses.management,
    deviceUrl: addresses.device,
    dataDir,
    as,
    anonymous: new HttpClient(addresses.management),
    device: new HttpClient(addresses.device),
    async close() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Registers a tiny (1 KiB) disk image as the active image of `product`, through the core (no upload route needed). */
export async function activateTestImage(server: PitcrewServer, product: 'KXP2' | 'RXP2', version = '1.0.0'): Promise<number> {
  const { Readable } = await import('node:stream');
  const bytes = tinyDiskImage(`image of ${product} ${version}`);
  const image = await server.core.images.upload({ product_type: product, version }, `${product.toLowerCase()}.img`, Readable.from([bytes]));
  server.core.images.activate(image.id);
  return image.id;
}

/** Waits until `check` passes (no fixed sleeps), failing after `timeoutMs`. */
export async function waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
