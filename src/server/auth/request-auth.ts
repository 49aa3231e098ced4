// Who is asking: a session cookie (browsers) or `Authorization: Bearer <token>` (scripts). Shared by the HTTP
// hooks and the Socket.IO handshake, so both recognise the same people the same way.
import { fastifyCookie } from '@fastify/cookie';
import type { IncomingHttpHeaders } from 'node:http';
import type { AccountsService } from '../../core/accounts.service.js';
import type { Principal } from '../../core/audit.js';

export const SESSION_COOKIE = 'pitcrew_session';

export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match?.[1];
}

export function sessionIdFrom(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  return fastifyCookie.parse(cookieHeader)[SESSION_COOKIE] || undefined;
}

/** A token wins over a cookie when both are present (a script reusing a browser's cookie jar). */
export function authenticate(accounts: AccountsService, headers: IncomingHttpHeaders, handshakeToken?: unknown): Principal | null {
  const token = bearerToken(headers.authorization) ?? (typeof handshakeToken === 'string' ? handshakeToken : undefined);
  if (token) {
    const found = accounts.findTokenUser(token);
    return found ? { user: found.user, via: 'token', tokenId: found.tokenId } : null;
  }
  const sessionId = sessionIdFrom(headers.cookie);
  if (sessionId) {
    const user = accounts.findSessionUser(sessionId);
    return user ? { user, via: 'session' } : null;
  }
  return null;
}

/**
 * True when a browser sent this request from another site: its Origin is neither this server (as the browser
 * addressed it) nor a configured trusted origin. Requests without Origin (CLI, curl, same-origin GET) pass.
 */
export function isForeignOrigin(headers: IncomingHttpHeaders, trusted: readonly string[]): boolean {
  const origin = headers.origin;
  if (origin === undefined) return headers['sec-fetch-site'] === 'cross-site';
  if (origin === 'null') return true;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return true;
  }
  if (trusted.includes(parsed.origin)) return false;
  return parsed.host.toLowerCase() !== String(headers.host ?? '').toLowerCase();
}
