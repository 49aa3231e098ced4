// The server's one configuration schema. Every key has a default, a description and an environment variable;
// a bad value stops the server at start-up with a message naming the variable (or flag) and what it expects.
import { resolve } from 'node:path';
import { parseByteSize, parseWholeNumber } from '../contracts/numbers.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ServerConfig {
  dataDir: string;
  port: number;
  devicePort: number;
  host: string;
  deviceHost: string;
  adminPassword: string | null;
  deviceUrl: string | null;
  deviceToken: string | null;
  requireDeploymentToken: boolean;
  staleMinutes: number;
  staleSweepSeconds: number;
  checkinUrl: string | null;
  bootDeadlineSeconds: number;
  checkinRetrySeconds: number;
  maxImageBytes: number;
  logLevel: LogLevel;
  sessionHours: number;
  loginAttemptsPerMinute: number;
  trustedOrigins: string[];
  shutdownGraceSeconds: number;
  webDir: string | null;
  netboot: boolean;
}

type Parser<T> = (raw: string) => T;

interface KeySpec<K extends keyof ServerConfig> {
  env: string;
  flag: string;
  description: string;
  default: ServerConfig[K];
  parse: Parser<ServerConfig[K]>;
  /** A command-line switch that takes no value (`--netboot`), where the environment variable takes 1 or 0. */
  isSwitch?: true;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const integer = (min: number, max: number, what: string): Parser<number> => (raw) => {
  const value = parseWholeNumber(raw, { min, max });
  if (value === null) throw new Error(`must be ${what}, a whole number from ${min} to ${max}`);
  return value;
};

const optionalText = (raw: string): string | null => (raw.trim() === '' ? null : raw);

const host: Parser<string> = (raw) => {
  const value = raw.trim();
  if (!/^[A-Za-z0-9.:[\]%-]+$/.test(value)) throw new Error('must be an IP address or host name to listen on, e.g. 0.0.0.0');
  return value;
};

const url: Parser<string | null> = (raw) => {
  const value = raw.trim();
  if (value === '') return null;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new Error('must be an http:// or https:// URL, e.g. http://10.0.0.1:5001');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('must be an http:// or https:// URL');
  if (parsed.search || parsed.hash) throw new Error('must not contain a query or fragment');
  return value.replace(/\/+$/, '');
};

const byteSize: Parser<number> = (raw) => {
  const value = parseByteSize(raw);
  if (value === null) throw new Error('must be a size in bytes, or with a unit such as 16G or 500MiB');
  if (value < 1) throw new Error('must be a positive size');
  return value;
};

const origins: Parser<string[]> = (raw) =>
  raw
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => {
      try {
        return new URL(item).origin;
      } catch {
        throw new Error(`"${item}" is not an origin like http://pitcrew.local:5173`);
      }
    });

const token: Parser<string | null> = (raw) => {
  const value = raw.trim();
  if (value === '') return null;
  if (value.length < 16) throw new Error('must be at least 16 characters, so it cannot be guessed');
  return value;
};

const flag: Parser<boolean> = (raw) => {
  const value = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['', '0', 'false', 'no', 'off'].includes(value)) return false;
  throw new Error('must be 1 or 0 (true/false, yes/no, on/off)');
};

const password: Parser<string | null> = (raw) => {
  if (raw === '') return null;
  if (raw.length < 8) throw new Error('must be at least 8 characters');
  return raw;
};

export const CONFIG_KEYS: { [K in keyof ServerConfig]: KeySpec<K> } = {
  dataDir: { env: 'PITCREW_DATA_DIR', flag: '--data-dir', description: 'Folder for the SQLite database and the image store.', default: './data', parse: (raw) => {
    if (raw.trim() === '') throw new Error('must name a folder');
    return raw.trim();
  } },
  port: { env: 'PITCREW_PORT', flag: '--port', description: 'Port of the management listener (web UI, JSON API, live events).', default: 5000, parse: integer(0, 65535, 'a TCP port') },
  devicePort: { env: 'PITCREW_DEVICE_PORT', flag: '--device-port', description: 'Port of the device listener (installer API and image downloads).', default: 5001, parse: integer(0, 65535, 'a TCP port') },
  host: { env: 'PITCREW_HOST', flag: '--host', description: 'Address the management listener binds to.', default: '0.0.0.0', parse: host },
  deviceHost: { env: 'PITCREW_DEVICE_HOST', flag: '--device-host', description: 'Address the device listener binds to (e.g. the deployment network interface).', default: '0.0.0.0', parse: host },
  adminPassword: { env: 'PITCREW_ADMIN_PASSWORD', flag: '--admin-password', description: 'Password of the first `admin` user, created on first start; a random one is printed when unset.', default: null, parse: password },
  deviceUrl: { env: 'PITCREW_DEVICE_URL', flag: '--device-url', description: 'Base URL devices are given for images and reports; by default the address the device used.', default: null, parse: url },
  deviceToken: { env: 'PITCREW_DEVICE_TOKEN', flag: '--device-token', description: 'When set, device requests must carry it (Authorization: Bearer or X-Device-Token).', default: null, parse: token },
  requireDeploymentToken: { env: 'PITCREW_REQUIRE_DEPLOYMENT_TOKEN', flag: '--require-deployment-token', description: 'When 1, every status report and image download must carry the deployment_token its configuration answer gave (installers that predate it are refused); otherwise only those that carry a wrong one are.', default: false, parse: flag },
  staleMinutes: { env: 'PITCREW_STALE_MINUTES', flag: '--stale-minutes', description: 'A deployment with no report for this many minutes is marked failed.', default: 10, parse: integer(1, 7 * 24 * 60, 'minutes') },
  staleSweepSeconds: { env: 'PITCREW_STALE_SWEEP_SECONDS', flag: '--stale-sweep-seconds', description: 'How often to look for stale deployments.', default: 30, parse: integer(1, 3600, 'seconds') },
  checkinUrl: { env: 'PITCREW_CHECKIN_URL', flag: '--checkin-url', description: 'Base URL a written unit reports its first boot to (POST <url>/api/checkin on the device listener), if it boots on a network that reaches the server by another address; by default the device URL.', default: null, parse: url },
  bootDeadlineSeconds: { env: 'PITCREW_BOOT_DEADLINE_S', flag: '--boot-deadline-s', description: 'A written card that has not checked in from its first boot this many seconds after completing is flagged "not booted".', default: 15 * 60, parse: integer(10, 30 * 24 * 3600, 'seconds') },
  checkinRetrySeconds: { env: 'PITCREW_CHECKIN_RETRY_S', flag: '--checkin-retry-s', description: 'How long a booted unit keeps trying to check in (with growing pauses) before its check-in removes itself.', default: 24 * 3600, parse: integer(60, 30 * 24 * 3600, 'seconds') },
  maxImageBytes: { env: 'PITCREW_MAX_IMAGE_BYTES', flag: '--max-image-bytes', description: 'Largest master image accepted by upload (bytes, or 32G, 500MiB…).', default: 64 * 2 ** 30, parse: byteSize },
  logLevel: { env: 'PITCREW_LOG_LEVEL', flag: '--log-level', description: `Log level: ${LOG_LEVELS.join(', ')}.`, default: 'info', parse: (raw) => {
    const value = raw.trim().toLowerCase();
    if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new Error(`must be one of ${LOG_LEVELS.join(', ')}`);
    return value as LogLevel;
  } },
  sessionHours: { env: 'PITCREW_SESSION_HOURS', flag: '--session-hours', description: 'How long a login lasts.', default: 12, parse: integer(1, 24 * 90, 'hours') },
  loginAttemptsPerMinute: { env: 'PITCREW_LOGIN_ATTEMPTS_PER_MINUTE', flag: '--login-attempts-per-minute', description: 'Login attempts allowed per client address per minute.', default: 10, parse: integer(1, 10_000, 'a count') },
  trustedOrigins: { env: 'PITCREW_TRUSTED_ORIGINS', flag: '--trusted-origins', description: 'Extra browser origins (comma-separated) allowed to change things, e.g. a reverse proxy address.', default: [], parse: origins },
  shutdownGraceSeconds: { env: 'PITCREW_SHUTDOWN_GRACE_SECONDS', flag: '--shutdown-grace-seconds', description: 'How long shutdown waits for in-flight requests and downloads before cutting them.', default: 10, parse: integer(0, 3600, 'seconds') },
  webDir: { env: 'PITCREW_WEB_DIR', flag: '--web-dir', description: 'Folder of the built web UI; by default dist/web of this installation.', default: null, parse: optionalText },
  netboot: { env: 'PITCREW_NETBOOT', flag: '--netboot', description: 'When 1, also run dnsmasq for network boot, with the configuration `pitcrew netboot config` wrote.', default: false, parse: flag, isSwitch: true },
};

/**
 * Builds the configuration from defaults, then the environment, then `overrides` (command-line flags, tests).
 * Throws a ConfigError naming every bad key.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Record<keyof ServerConfig, string | number | null | string[]>> = {}): ServerConfig {
  const problems: string[] = [];
  const config = {} as Record<keyof ServerConfig, unknown>;
  for (const key of Object.keys(CONFIG_KEYS) as Array<keyof ServerConfig>) {
    const spec = CONFIG_KEYS[key] as KeySpec<typeof key>;
    const override = overrides[key];
    const [raw, source] = override !== undefined ? [override, spec.flag] : [env[spec.env], spec.env];
    if (raw === undefined) {
      config[key] = spec.default;
      continue;
    }
    try {
      config[key] = raw === null ? spec.default : spec.parse(Array.isArray(raw) ? raw.join(',') : String(raw));
    } catch (error) {
      problems.push(`${source}=${JSON.stringify(String(raw)).slice(0, 80)}: ${(error as Error).message}`);
    }
  }
  if (problems.length) throw new ConfigError(`Pitcrew cannot start, bad configuration:\n  ${problems.join('\n  ')}`);
  const result = config as unknown as ServerConfig;
  result.dataDir = resolve(result.dataDir);
  if (result.webDir) result.webDir = resolve(result.webDir);
  return result;
}

/**
 * One setting from the environment (or its default), for commands that need it without starting the server (the
 * CLI's logins, the device port network boot points installers to). Throws a ConfigError naming the variable.
 */
export function readSetting<K extends keyof ServerConfig>(key: K, env: NodeJS.ProcessEnv = process.env): ServerConfig[K] {
  const spec = CONFIG_KEYS[key] as KeySpec<K>;
  const raw = env[spec.env];
  if (raw === undefined) return spec.default;
  try {
    return spec.parse(raw);
  } catch (error) {
    throw new ConfigError(`Bad configuration: ${spec.env}=${JSON.stringify(raw).slice(0, 80)}: ${(error as Error).message}`);
  }
}

/** A one-line-per-key description of every setting, for `pitcrew serve --help` and the README. */
export function describeConfig(): string {
  return (Object.entries(CONFIG_KEYS) as Array<[string, KeySpec<keyof ServerConfig>]>)
    .map(([, spec]) => `  ${spec.env.padEnd(34)} ${spec.description} (default: ${JSON.stringify(spec.default)})`)
    .join('\n');
}
