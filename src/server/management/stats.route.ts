// GET /api/stats: the dashboard's four numbers.
import { StatsResponse } from '../../contracts/api.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';

export function registerStatsRoute(app: TypedApp, { core }: ServerDeps): void {
  app.get('/api/stats', { schema: { response: { 200: StatsResponse } }, config: { access: 'viewer' } }, async () => core.stats());
}
