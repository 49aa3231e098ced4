// Deployment history (filtered, paged, or streamed as CSV) and the reports built from it.
import { Readable } from 'node:stream';
import { Type, type Static } from 'typebox';
import { AttentionResolve, DeploymentList, DeploymentQuery, DeploymentResponse, Report, ReportQuery } from '../../contracts/api.js';
import { Deployment, RowId } from '../../contracts/domain.js';
import { deploymentCsvLines } from '../../core/deployment-csv.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';

const IdParams = Type.Object({ id: RowId() });

export function registerDeploymentRoutes(app: TypedApp, { core }: ServerDeps): void {
  app.get('/api/deployments', { schema: { querystring: Type.Evaluate(DeploymentQuery), response: { 200: DeploymentList } }, config: { access: 'viewer' } }, async (request, reply) => {
    if (request.query.format !== 'csv') return core.deployments.list(request.query);
    // Rows are read from SQLite one at a time as the client takes them, so an export of any size stays small.
    const rows = core.deployments.iterate(request.query);
    const stamp = new Date().toISOString().slice(0, 10);
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="pitcrew-deployments-${stamp}.csv"`)
      // A stream skips the JSON serializer; the cast only tells the typed reply so.
      .send(Readable.from(deploymentCsvLines(rows), { objectMode: false }) as unknown as Static<typeof DeploymentList>);
  });

  app.get('/api/deployments/:id', { schema: { params: IdParams, response: { 200: Deployment } }, config: { access: 'viewer' } }, async (request) =>
    core.deployments.get(request.params.id),
  );

  // Acknowledge, or mark for a re-image: the device leaves the "needs attention" lane on every dashboard.
  app.post(
    '/api/deployments/:id/attention',
    { schema: { params: IdParams, body: AttentionResolve, response: { 200: DeploymentResponse } }, config: { access: 'operator' } },
    async (request) => {
      const deployment = core.deployments.resolveAttention(request.params.id, request.body.resolution);
      return { success: true as const, deployment };
    },
  );

  app.get('/api/reports', { schema: { querystring: ReportQuery, response: { 200: Report } }, config: { access: 'viewer' } }, async (request) => core.deployments.summarize(request.query));
}
