// Live events for dashboards: Socket.IO on the management listener only. A socket is accepted only from this
// server's own pages (or a trusted origin) and only with a logged-in session or an API token.
import type { Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import type { FastifyBaseLogger } from 'fastify';
import type { ClientToServerEvents, ServerToClientEvents } from '../../contracts/events.js';
import type { AccountsService } from '../../core/accounts.service.js';
import type { Principal } from '../../core/audit.js';
import { authenticate, isForeignOrigin, sessionIdFrom } from '../auth/request-auth.js';

export interface SocketData {
  principal: Principal;
  /** The session cookie the socket was opened with, so logging out can end it too. */
  sessionId: string | null;
}

export type EventServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

export function createSocketServer(server: HttpServer, accounts: AccountsService, trustedOrigins: readonly string[], log: FastifyBaseLogger): EventServer {
  const io: EventServer = new Server(server, {
    serveClient: false,
    // Browsers send Origin on WebSocket and polling requests; a foreign page must not ride on the session cookie.
    allowRequest: (request, callback) => callback(null, !isForeignOrigin(request.headers, trustedOrigins)),
  });
  io.use((socket, next) => {
    const principal = authenticate(accounts, socket.handshake.headers, (socket.handshake.auth as { token?: unknown } | undefined)?.token);
    if (!principal) {
      next(new Error('Log in first: live events need a session or an API token.'));
      return;
    }
    socket.data.principal = principal;
    socket.data.sessionId = principal.via === 'session' ? (sessionIdFrom(socket.handshake.headers.cookie) ?? null) : null;
    next();
  });
  io.on('connection', (socket) => {
    log.debug({ user: socket.data.principal.user.username, id: socket.id }, 'dashboard connected');
  });
  return io;
}

/** Ends live connections whose credentials just stopped being valid (logout, password change, removal, revocation). */
export function disconnectSockets(io: EventServer, matches: (data: Partial<SocketData>) => boolean): number {
  let ended = 0;
  for (const socket of io.of('/').sockets.values()) {
    if (!matches(socket.data)) continue;
    socket.disconnect(true);
    ended++;
  }
  return ended;
}
