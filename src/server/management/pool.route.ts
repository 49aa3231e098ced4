// The hostname pool: kart-number listing, bulk import, single-number actions, and manual assign/release.
import { Type } from 'typebox';
import { RowId } from '../../contracts/domain.js';
import {
  HostnameAssignRequest, HostnameAssignResponse, HostnameReleaseRequest, KartNumberImport, KartNumberImportResult, PoolEntryResponse,
  PoolList, PoolQuery, SuccessResponse,
} from '../../contracts/api.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';

const IdParams = Type.Object({ id: RowId() });

export function registerPoolRoutes(app: TypedApp, { core }: ServerDeps): void {
  app.get('/api/kart-numbers', { schema: { querystring: Type.Evaluate(PoolQuery), response: { 200: PoolList } }, config: { access: 'viewer' } }, async (request) =>
    core.pool.list(request.query),
  );

  app.post('/api/kart-numbers', { schema: { body: KartNumberImport, response: { 200: KartNumberImportResult } }, config: { access: 'operator' } }, async (request) => {
    return core.pool.importKartNumbers(request.body);
  });

  app.post('/api/kart-numbers/:id/release', { schema: { params: IdParams, response: { 200: PoolEntryResponse } }, config: { access: 'operator' } }, async (request) => {
    const entry = core.pool.release(request.params.id);
    return { success: true as const, entry };
  });

  app.post('/api/kart-numbers/:id/retire', { schema: { params: IdParams, response: { 200: PoolEntryResponse } }, config: { access: 'operator' } }, async (request) => {
    const entry = core.pool.retire(request.params.id);
    return { success: true as const, entry };
  });

  app.delete('/api/kart-numbers/:id', { schema: { params: IdParams, response: { 200: SuccessResponse } }, config: { access: 'operator' } }, async (request) => {
    core.pool.delete(request.params.id);
    return { success: true as const };
  });

  app.post('/api/hostname/assign', { schema: { body: HostnameAssignRequest, response: { 200: HostnameAssignResponse } }, config: { access: 'operator' } }, async (request) => {
    const assignment = core.pool.assign(request.body);
    return { success: true as const, hostname: assignment.entry.hostname, entry: assignment.entry, reused: assignment.reused };
  });

  app.post('/api/hostname/release', { schema: { body: HostnameReleaseRequest, response: { 200: PoolEntryResponse } }, config: { access: 'operator' } }, async (request) => {
    const entry = core.pool.releaseHostname(request.body.hostname);
    return { success: true as const, entry };
  });
}
