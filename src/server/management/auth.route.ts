// Login, logout and "who am I". Login is rate-limited per client address; the session cookie is HttpOnly and
// SameSite=Strict, so scripts on other sites can neither read nor send it.
import { Type } from 'typebox';
import { LoginRequest, MeResponse, SuccessResponse } from '../../contracts/api.js';
import { AppError } from '../../contracts/errors.js';
import { SESSION_COOKIE, sessionIdFrom } from '../auth/request-auth.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';

export function registerAuthRoutes(app: TypedApp, { accounts, config, endLiveSockets }: ServerDeps): void {
  app.post(
    '/api/auth/login',
    {
      schema: { body: LoginRequest, response: { 200: Type.Object({ success: Type.Literal(true), user: MeResponse.properties.user }) } },
      config: {
        access: 'public',
        rateLimit: {
          max: config.loginAttemptsPerMinute,
          timeWindow: 60_000,
          errorResponseBuilder: (_request, context) => new AppError('RATE_LIMITED', `Too many login attempts from this address; try again in ${context.after}.`),
        },
      },
    },
    async (request, reply) => {
      const user = await accounts.verifyLogin(request.body.username, request.body.password, request.ip);
      const session = accounts.createSession(user);
      reply.setCookie(SESSION_COOKIE, session.id, {
        path: '/',
        httpOnly: true,
        sameSite: 'strict',
        secure: 'auto',
        expires: session.expiresAt,
      });
      return { success: true as const, user };
    },
  );

  app.post('/api/auth/logout', { schema: { response: { 200: SuccessResponse } }, config: { access: 'public' } }, async (request, reply) => {
    const sessionId = sessionIdFrom(request.headers.cookie);
    if (sessionId) {
      accounts.deleteSession(sessionId);
      endLiveSockets({ sessionId });
    }
    reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: 'auto' });
    return { success: true as const };
  });

  app.get('/api/auth/me', { schema: { response: { 200: MeResponse } }, config: { access: 'viewer' } }, async (request) => ({ user: request.principal!.user }));
}
