// Venues: list, create, read, edit, delete (only when unused), and pool statistics.
import { Type } from 'typebox';
import { SuccessResponse, VenueCreate, VenueList, VenueResponse, VenueStatsResponse, VenueUpdate } from '../../contracts/api.js';
import { Venue, VenueCode } from '../../contracts/domain.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';

const CodeParams = Type.Object({ code: VenueCode });

export function registerVenueRoutes(app: TypedApp, { core }: ServerDeps): void {
  app.get('/api/venues', { schema: { response: { 200: VenueList } }, config: { access: 'viewer' } }, async () => ({ venues: core.venues.list() }));

  app.post('/api/venues', { schema: { body: VenueCreate, response: { 201: VenueResponse } }, config: { access: 'operator' } }, async (request, reply) => {
    const venue = core.venues.create(request.body);
    return reply.code(201).send({ success: true as const, venue, venue_code: venue.code });
  });

  app.get('/api/venues/:code', { schema: { params: CodeParams, response: { 200: Venue } }, config: { access: 'viewer' } }, async (request) => core.venues.get(request.params.code));

  app.put('/api/venues/:code', { schema: { params: CodeParams, body: VenueUpdate, response: { 200: VenueResponse } }, config: { access: 'operator' } }, async (request) => {
    const venue = core.venues.update(request.params.code, request.body);
    return { success: true as const, venue, venue_code: venue.code };
  });

  app.delete('/api/venues/:code', { schema: { params: CodeParams, response: { 200: SuccessResponse } }, config: { access: 'operator' } }, async (request) => {
    core.venues.delete(request.params.code);
    return { success: true as const };
  });

  app.get('/api/venues/:code/stats', { schema: { params: CodeParams, response: { 200: VenueStatsResponse } }, config: { access: 'viewer' } }, async (request) =>
    core.venues.stats(request.params.code),
  );
}
