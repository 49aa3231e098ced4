// Access control on the management listener. Every route declares who may use it (`config.access`); a route
// that declares nothing needs a login to read and an admin to change. Foreign-origin writes are refused before
// anything else, and each request runs as its user or token, so the changes it makes are audited under that name
// (the core writes the entry inside the change's transaction, see src/core/audit.ts).
import { AsyncResource } from 'node:async_hooks';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { Role } from '../../contracts/domain.js';
import { AppError } from '../../contracts/errors.js';
import { hasRole, type AccountsService } from '../../core/accounts.service.js';
import { actingAs, actorOf, type Principal } from '../../core/audit.js';
import { authenticate, isForeignOrigin } from './request-auth.js';

export type Access = 'public' | Role;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route: 'public', or the lowest role allowed. */
    access?: Access;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

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

/** The request's actor scope, re-entered where Fastify continues from a stream callback (body parsing). */
const ACTOR_SCOPE = Symbol('actorScope');
type ScopedRequest = FastifyRequest & { [ACTOR_SCOPE]?: AsyncResource };

export function installAccessHooks(app: FastifyInstance, accounts: AccountsService, trustedOrigins: readonly string[]): void {
  app.decorateRequest('principal', null);

  app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    try {
      if (!READS.has(request.method) && isForeignOrigin(request.headers, trustedOrigins)) {
        throw new AppError('FORBIDDEN', `Refused a change sent from another site (Origin ${request.headers.origin ?? 'unknown'}).`);
      }
      const access = accessOf(request);
      request.principal = authenticate(accounts, request.headers);
      if (access !== 'public') requireRole(request, access);
    } catch (error) {
      done(error as Error);
      return;
    }
    // Everything after this hook (handler, awaited work) runs as the request's actor.
    actingAs(actorOf(request.principal), () => {
      const scope = new AsyncResource('pitcrew-actor');
      (request as ScopedRequest)[ACTOR_SCOPE] = scope;
      done();
    });
  });
  app.addHook('preValidation', (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const scope = (request as ScopedRequest)[ACTOR_SCOPE];
    if (scope) scope.runInAsyncScope(done);
    else done();
  });
}
