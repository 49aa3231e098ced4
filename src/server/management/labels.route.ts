// GET /api/labels?batch=ID | ?venue=CODE: what the label sheet of a batch or a venue lists.
import { LabelQuery, LabelSheet } from '../../contracts/labels.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';

export function registerLabelRoutes(app: TypedApp, { core }: ServerDeps): void {
  app.get('/api/labels', { schema: { querystring: LabelQuery, response: { 200: LabelSheet } }, config: { access: 'viewer' } }, async (request) => core.labels.sheet(request.query));
}
