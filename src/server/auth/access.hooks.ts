// Access control on the management listener. Every route declares who may use it (`config.access`); a route
// that declares nothing needs a login to read and an admin to change. Foreign-origin writes are refused before
// anything else, and every successful change is written to the audit log.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Role } from '../../contracts/domain.js';
import { AppError } from '../../contracts/errors.js';
import { hasRole, type AccountsService, type Principal } from './accounts.service.js';
import { authenticate, isForeignOrigin } from './request-auth.js';

export type Access = 'public' | Role;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route: 'public', or the lowest role allowed. */
    access?: Access;
    /** Name of the change in the audit log (e.g. `batch.start`); `false` for writes that are not management changes. */
    audit?: string | false;
  }
  interface FastifyRequest {
    principal: Principal | null;
    /** Set by a handler to name what was changed in the audit entry (e.g. the new batch's id). */
    auditTarget?: string;
  }
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
const SECRET_FIELDS = /pass(word)?|secret|token/i;

/** What a route that declares nothing requires: a login to read, an admin to change. */
export const defaultAccess = (method: string): Access => (READS.has(method) ? 'viewer' : 'admin');

export function accessOf(request: FastifyRequest): Access {
  const declared = request.routeOptions.config?.access;
  if (declared) return declared;
  // Unmatched URLs (404s) carry no route: nothing there to protect.
  if (!request.routeOptions.url) return 'public';
  return defaultAccess(request.method);
}

export function requireRole(request: FastifyRequest, role: Role): Principal {
  const principal = request.principal;
  if (!principal) throw new AppError('UNAUTHENTICATED', 'Log in first: this needs a session or an API token.');
  if (!hasRole(principal.user.role, role)) {
    throw new AppError('FORBIDDEN', `Your role (${principal.user.role}) cannot do this; it needs ${role}${role === 'admin' ? '' : ' or admin'}.`);
  }
  return principal;
}

export const actorOf = (principal: Principal | null): string =>
  principal ? (principal.via === 'token' ? `${principal.user.username} (token ${principal.tokenId})` : principal.user.username) : 'anonymous';

function redact(value: unknown, depth = 0): unknown {
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.slice(0, 50).map((item) => redact(item, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, SECRET_FIELDS.test(key) ? '***' : redact(item, depth + 1)]));
}

function auditDetails(request: FastifyRequest): string | null {
  const body = request.body;
  if (body === undefined || body === null || typeof body !== 'object') return null;
  const text = JSON.stringify(redact(body));
  return text.length > 2000 ? `${text.slice(0, 1997)}...` : text;
}

function auditTarget(request: FastifyRequest): string | null {
  if (request.auditTarget) return request.auditTarget;
  const params = request.params as Record<string, unknown> | undefined;
  const values = params ? Object.values(params).map(String) : [];
  return values.length ? values.join('/') : null;
}

export function installAccessHooks(app: FastifyInstance, accounts: AccountsService, trustedOrigins: readonly string[]): void {
  app.decorateRequest('principal', null);

  app.addHook('onRequest', async (request: FastifyRequest, _reply: FastifyReply) => {
    if (!READS.has(request.method) && isForeignOrigin(request.headers, trustedOrigins)) {
      throw new AppError('FORBIDDEN', `Refused a change sent from another site (Origin ${request.headers.origin ?? 'unknown'}).`);
    }
    const access = accessOf(request);
    request.principal = authenticate(accounts, request.headers);
    if (access !== 'public') requireRole(request, access);
  });

  // onSend, not onResponse: the entry is written before the client hears the change was made.
  app.addHook('onSend', async (request, reply, payload) => {
    const audit = request.routeOptions.config?.audit;
    if (READS.has(request.method) || audit === false || !request.routeOptions.url || reply.statusCode >= 400) return payload;
    try {
      accounts.record({
        actor: actorOf(request.principal),
        action: audit ?? `${request.method} ${request.routeOptions.url}`,
        target: auditTarget(request),
        details: auditDetails(request),
      });
    } catch (error) {
      request.log.error({ err: error }, 'could not write the audit log');
    }
    return payload;
  });
}
