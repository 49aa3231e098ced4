// The installer's side of the device API: ask for a configuration, send status reports.
import { Value } from 'typebox/value';
import { ConfigResponse, type ConfigRequest, type StatusRequest } from '../contracts/device-api.js';
import { filePathProblem } from '../contracts/provisioning-profile.js';
import type { LogUpload } from '../contracts/card-health.js';
import { InstallerError } from './installer.errors.js';
import { describeErrorBody, deviceTokenHeaders, httpError, postJson, resolveUrl } from './http.client.js';
import { DEFAULT_RETRY_POLICY, retryTransient, type RetryNotice, type RetryPolicy } from './retry.policy.js';

const SHA256_HEX = /^[0-9a-f]{64}$/i;

export interface ConfigFetchOptions {
  policy?: RetryPolicy;
  signal?: AbortSignal;
  onRetry?: (notice: RetryNotice) => void;
  /** Shared secret of a server that requires one (PITCREW_DEVICE_TOKEN). */
  deviceToken?: string | null;
}

/** POST /api/config until it answers. A 4xx (no active image, pool exhausted, …) is final and says why. */
export async function fetchConfig(serverUrl: string, request: ConfigRequest, options: ConfigFetchOptions = {}): Promise<ConfigResponse> {
  const url = resolveUrl(serverUrl, '/api/config');
  const answer = await retryTransient(
    async () => {
      const reply = await postJson(url, request, { signal: options.signal, headers: deviceTokenHeaders(options.deviceToken) });
      if (reply.status >= 200 && reply.status < 300) return reply;
      const error = httpError(`configuration request to ${url.host} failed`, reply.status, reply.body);
      if (error.transient) throw error;
      const { message, code } = describeErrorBody(reply.body);
      throw new InstallerError('CONFIG_REFUSED', `the server refused a configuration (HTTP ${reply.status}${code ? ` ${code}` : ''}): ${message}`, {
        status: reply.status,
      });
    },
    { policy: options.policy ?? DEFAULT_RETRY_POLICY, signal: options.signal, onRetry: options.onRetry },
  );
  return parseConfigResponse(answer.body);
}

/** Checks the answer's shape before anything is written to a disk on its say-so. */
export function parseConfigResponse(body: unknown): ConfigResponse {
  if (!Value.Check(ConfigResponse, body)) {
    const first = [...Value.Errors(ConfigResponse, body)][0];
    const where = first ? `${first.instancePath || '/'}: ${first.message}` : 'not an object';
    throw new InstallerError('BAD_RESPONSE', `the configuration answer is malformed (${where})`);
  }
  if (!SHA256_HEX.test(body.image_checksum)) throw new InstallerError('BAD_RESPONSE', `the configuration's image_checksum is not a SHA-256: ${body.image_checksum}`);
  if (body.image_size <= 0) throw new InstallerError('BAD_RESPONSE', `the configuration's image_size is not positive: ${body.image_size}`);
  if (!isValidHostname(body.hostname)) throw new InstallerError('BAD_RESPONSE', `the configuration's hostname is not a valid host name: ${JSON.stringify(body.hostname)}`);
  // The server substituted the variables: the paths it sends must still stay inside the root filesystem.
  for (const file of body.provisioning?.files ?? []) {
    const problem = filePathProblem(file.path);
    if (problem) throw new InstallerError('BAD_RESPONSE', `the provisioning profile's file ${JSON.stringify(file.path)}: the path ${problem}`);
  }
  return { ...body, image_checksum: body.image_checksum.toLowerCase() };
}

/**
 * RFC 1123 label: what every first-boot mechanism accepts. The hostname also lands in a shell script, TOML and
 * YAML, so nothing else may pass.
 */
export const isValidHostname = (name: string): boolean => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(name);

export interface StatusAnswer {
  status: number;
  body: unknown;
}

/** One POST /api/status. 409 means the server already closed the deployment: no later report can change it. */
export async function sendStatus(
  statusUrl: string,
  report: StatusRequest,
  options: { signal?: AbortSignal; idleTimeoutMs?: number; deviceToken?: string | null } = {},
): Promise<StatusAnswer> {
  const reply = await postJson(new URL(statusUrl), report, { signal: options.signal, idleTimeoutMs: options.idleTimeoutMs ?? 15_000, headers: deviceTokenHeaders(options.deviceToken) });
  if (reply.status >= 200 && reply.status < 300) return reply;
  if (reply.status === 409) {
    const { message } = describeErrorBody(reply.body);
    throw new InstallerError('DEPLOYMENT_CLOSED', `the server has closed this deployment: ${message}`, { status: 409 });
  }
  throw httpError('status report rejected', reply.status, reply.body);
}

/**
 * POST /api/deployments/:id/log on the listener that took the status reports: the installer's log after a
 * failure, with the deployment's token.
 */
export async function sendLog(
  statusUrl: string,
  deploymentId: number,
  upload: LogUpload,
  options: { policy?: RetryPolicy; signal?: AbortSignal; deviceToken?: string | null } = {},
): Promise<void> {
  // Beside .../api/status, keeping any path prefix a reverse proxy adds.
  const url = new URL(`deployments/${deploymentId}/log`, statusUrl);
  await retryTransient(
    async () => {
      const reply = await postJson(url, upload, { signal: options.signal, idleTimeoutMs: 15_000, headers: deviceTokenHeaders(options.deviceToken) });
      if (reply.status < 200 || reply.status >= 300) throw httpError('log upload rejected', reply.status, reply.body);
    },
    { policy: options.policy ?? DEFAULT_RETRY_POLICY, signal: options.signal },
  );
}
