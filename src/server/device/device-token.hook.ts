// Optional shared secret on the device listener (PITCREW_DEVICE_TOKEN): when set, every device request but
// /health and /api/checkin must carry it as `Authorization: Bearer <token>` or `X-Device-Token: <token>`. A
// check-in comes from the installed system and carries its own one-time token: the shared secret stays off the cards.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../contracts/errors.js';
import { bearerToken } from '../auth/request-auth.js';

const digest = (text: string) => createHash('sha256').update(text).digest();

export function installDeviceTokenHook(app: FastifyInstance, token: string | null): void {
  if (!token) return;
  const expected = digest(token);
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.url === '/health' || request.routeOptions.url === '/api/checkin') return;
    const header = request.headers['x-device-token'];
    const given = bearerToken(request.headers.authorization) ?? (typeof header === 'string' ? header.trim() : undefined);
    // Compare digests: equal length always, and the comparison time says nothing about the token.
    if (!given || !timingSafeEqual(digest(given), expected)) {
      throw new AppError('UNAUTHENTICATED', 'This deployment server requires a device token (PITCREW_DEVICE_TOKEN): send it as Authorization: Bearer <token> or X-Device-Token.');
    }
  });
}
