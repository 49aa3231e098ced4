// GET /health on either listener: for load balancers, monitoring and the installer's "is the server there".
import { HealthResponse } from '../../contracts/device-api.js';
import type { TypedApp } from '../http/app-types.js';
import { PITCREW_VERSION } from '../../version.js';

export function registerHealthRoute(app: TypedApp, startedAt: Date): void {
  app.get('/health', { schema: { response: { 200: HealthResponse } }, config: { access: 'public' } }, async () => ({
    status: 'ok' as const,
    version: PITCREW_VERSION,
    uptime_s: Math.round((Date.now() - startedAt.getTime()) / 1000),
  }));
}
