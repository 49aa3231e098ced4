// Who changed what: every management change writes its audit entry inside the change's own transaction, so an
// entry exists exactly when the change does (a rolled-back change leaves none, a committed one always has one),
// whichever door it came through (web UI, API token, CLI).
//
// The actor is ambient: the HTTP layer runs each request "as" its user or token (`actingAs`), the CLI names its
// OS user as the core's default actor, and anything else (first start, sweeps) is `system`.
import { AsyncLocalStorage } from 'node:async_hooks';
import { userInfo } from 'node:os';
import type { User } from '../contracts/domain.js';

/** The actor as the audit log shows it: `alice`, `alice (token 3)`, `cli:root`, `system`, `device 10.0.0.7`. */
export type Actor = string;
export const SYSTEM_ACTOR: Actor = 'system';

/** Someone logged in on the management side, by a browser session or an API token. */
export interface Principal {
  user: User;
  via: 'session' | 'token';
  tokenId?: number;
}

export const actorOf = (principal: Principal | null): Actor =>
  principal ? (principal.via === 'token' ? `${principal.user.username} (token ${principal.tokenId})` : principal.user.username) : 'anonymous';

/** The operating-system account running the CLI, e.g. `cli:root`. */
export function cliActor(): Actor {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

const ambient = new AsyncLocalStorage<Actor>();

/** Runs `work` (and everything it awaits) with `actor` as the author of the changes it makes. */
export const actingAs = <T>(actor: Actor, work: () => T): T => ambient.run(actor, work);
export const ambientActor = (): Actor | undefined => ambient.getStore();

export interface AuditRecord {
  /** What was done, `<subject>.<verb>`: `venue.create`, `batch.start`, `user.delete`. */
  action: string;
  /** What it was done to, as an operator recognises it: a venue code, a hostname, `KXP2 1.4`. */
  target?: string | null;
  /** The input of the change; objects are stored as JSON with secrets masked. */
  details?: string | object | null;
  /** Only when the author is not the ambient actor (a login is made by the user logging in). */
  actor?: Actor;
}

const SECRET_FIELDS = /pass(word)?|secret|token/i;
const MAX_DETAILS = 2000;

function redact(value: unknown, depth = 0): unknown {
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.slice(0, 50).map((item) => redact(item, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, SECRET_FIELDS.test(key) ? '***' : redact(item, depth + 1)]));
}

export function auditDetails(details: AuditRecord['details']): string | null {
  if (details === undefined || details === null) return null;
  const text = typeof details === 'string' ? details : JSON.stringify(redact(details));
  return text.length > MAX_DETAILS ? `${text.slice(0, MAX_DETAILS - 3)}...` : text;
}
