// GET /api/audit: who changed what and when, newest first (admins only).
import { AuditList, Page } from '../../contracts/api.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';

export function registerAuditRoute(app: TypedApp, { accounts }: ServerDeps): void {
  app.get('/api/audit', { schema: { querystring: Page, response: { 200: AuditList } }, config: { access: 'admin' } }, async (request) =>
    accounts.listAudit(request.query.page ?? 1, request.query.limit ?? 50),
  );
}
