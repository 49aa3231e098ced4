// Plain node:http(s) requests: the installer runs from a one-file bundle on a bare network-booted system, and
// the image download needs precise control over Range headers, sockets and stalls.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { InstallerError, isTransientStatus } from './installer.errors.js';
import { abortError } from './retry.policy.js';
import { DEPLOYMENT_ID_HEADER, DEPLOYMENT_TOKEN_HEADER, type ConfigResponse } from '../contracts/device-api.js';

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Fail when the socket is idle this long (no connect, no headers, no data). */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
  /** Connections kept alive between requests (chunks); without it, a fresh connection per request. */
  agent?: http.Agent;
}

/** Sends a request and resolves with the response once its headers arrive; the body is the caller's to read. */
export function sendRequest(url: URL, options: RequestOptions = {}): Promise<IncomingMessage> {
  const transport = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
  if (!transport) return Promise.reject(new InstallerError('USAGE', `unsupported URL scheme: ${url.protocol} (${url.href})`));
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) return reject(abortError(options.signal));
    const headers: Record<string, string> = { 'user-agent': 'pitcrew-agent', ...options.headers };
    if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
    // A fresh connection per request unless the caller keeps some alive: a resumed download must never reuse a
    // socket the old attempt left behind (a failed request destroys its socket, so a keep-alive pool drops it).
    const request = transport.request(url, { method: options.method ?? 'GET', headers, agent: options.agent ?? false, signal: options.signal });
    if (options.idleTimeoutMs) {
      request.setTimeout(options.idleTimeoutMs, () => {
        const error = Object.assign(new Error(`no answer from ${url.host} for ${Math.round(options.idleTimeoutMs! / 1000)} s`), { code: 'ETIMEDOUT' });
        request.destroy(error);
      });
    }
    request.once('response', resolve);
    request.once('error', (error) => reject(options.signal?.aborted ? abortError(options.signal) : error));
    request.end(options.body);
  });
}

/** Reads a whole (small) body as text, refusing anything larger than `limit` bytes. */
export async function readBodyText(response: IncomingMessage, limit = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      response.destroy();
      throw new InstallerError('BAD_RESPONSE', `answer larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface JsonAnswer {
  status: number;
  body: unknown;
}

/** POSTs JSON and parses the JSON answer (a non-JSON body comes back as its text). */
export async function postJson(url: URL, payload: unknown, options: { idleTimeoutMs?: number; signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<JsonAnswer> {
  const response = await sendRequest(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...options.headers },
    body: JSON.stringify(payload),
    idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
    signal: options.signal,
  });
  const text = await readBodyText(response);
  let body: unknown = text;
  try {
    body = text.length > 0 ? JSON.parse(text) : null;
  } catch {
    // Keep the text: a proxy's HTML error page still says something useful.
  }
  return { status: response.statusCode ?? 0, body };
}

/** The server's own words from an error body ({success:false, error, code}), else a short excerpt of it. */
export function describeErrorBody(body: unknown): { message: string; code: string | null } {
  if (typeof body === 'object' && body !== null) {
    const { error, code } = body as { error?: unknown; code?: unknown };
    return { message: typeof error === 'string' ? error : JSON.stringify(body).slice(0, 300), code: typeof code === 'string' ? code : null };
  }
  const text = typeof body === 'string' ? body.replace(/\s+/g, ' ').trim().slice(0, 300) : '';
  return { message: text || 'no details', code: null };
}

/** An InstallerError for an HTTP error answer: transient for 5xx/408/429, permanent otherwise. */
export function httpError(what: string, status: number, body: unknown): InstallerError {
  const { message, code } = describeErrorBody(body);
  return new InstallerError('HTTP', `${what}: HTTP ${status}${code ? ` ${code}` : ''}: ${message}`, { transient: isTransientStatus(status), status });
}

/** The header a server with PITCREW_DEVICE_TOKEN expects from devices. */
export const deviceTokenHeaders = (token: string | null | undefined): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});

/** What ties a request to the deployment of a configuration answer: the answer itself will do. */
export type DeploymentCredentials = Pick<ConfigResponse, 'deployment_id' | 'deployment_token'>;

/**
 * The headers an image download (raw image, manifest, chunk) from the server carries: the deployment and its token
 * (servers that gave none: nothing). Never for peers: the token is the installer's alone.
 */
export const deploymentHeaders = (deployment: DeploymentCredentials | null | undefined): Record<string, string> =>
  deployment?.deployment_token ? { [DEPLOYMENT_ID_HEADER]: String(deployment.deployment_id), [DEPLOYMENT_TOKEN_HEADER]: deployment.deployment_token } : {};

/** Joins a path onto a base URL, keeping any path prefix the base has (a reverse proxy's sub-path). */
export function resolveUrl(base: string, path: string): URL {
  const root = new URL(base);
  if (!root.pathname.endsWith('/')) root.pathname += '/';
  return new URL(path.replace(/^\//, ''), root);
}
