// Deployment history (filtered, paged, or streamed as CSV) and the reports built from it.
import { Readable } from 'node:stream';
import { Type, type Static } from 'typebox';
import { AttentionResolve, DeploymentList, DeploymentQuery, DeploymentResponse, Report, ReportQuery } from '../../contracts/api.js';
import { Deployment, RowId } from '../../contracts/domain.js';
import { DeploymentLog, IDENTIFY_DEFAULT_S, IdentifyRequest } from '../../contracts/card-health.js';
import { DeploymentCheckinAnswer } from '../../contracts/checkin.js';
import { deploymentCsvLines } from '../../core/deployment-csv.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';

const IdParams = Type.Object({ id: RowId() });
const LogQuery = Type.Object({ download: Type.Optional(Type.Boolean({ description: 'As a text file to save, named after the device' })) }, { additionalProperties: false });

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
  app.get('/api/deployments/:id/checkin', { schema: { params: IdParams, response: { 200: DeploymentCheckinAnswer } }, config: { access: 'viewer' } }, async (request) => ({
    checkin: core.checkins.checkinOf(request.params.id),
  }));

  app.post(
    '/api/deployments/:id/attention',
    { schema: { params: IdParams, body: AttentionResolve, response: { 200: DeploymentResponse } }, config: { access: 'operator' } },
    async (request) => {
      const deployment = core.deployments.resolveAttention(request.params.id, request.body.resolution);
      return { success: true as const, deployment };
    },
  );

  // Blink the board's activity LED, so a technician finds it on the bench: delivered with its next status answer.
  app.post(
    '/api/deployments/:id/identify',
    { schema: { params: IdParams, body: IdentifyRequest, response: { 200: DeploymentResponse } }, config: { access: 'operator' } },
    async (request) => {
      const deployment = core.deployments.requestIdentify(request.params.id, request.body.seconds ?? IDENTIFY_DEFAULT_S);
      return { success: true as const, deployment };
    },
  );

  // The installer's own log: JSON for the dashboard's viewer, or a text file to download.
  app.get(
    '/api/deployments/:id/log',
    { schema: { params: IdParams, querystring: LogQuery, response: { 200: DeploymentLog } }, config: { access: 'viewer' } },
    async (request, reply) => {
      const log = core.deployments.logOf(request.params.id);
      if (!request.query.download) return log;
      const { hostname } = core.deployments.get(request.params.id);
      return reply
        .type('text/plain; charset=utf-8')
        .header('content-disposition', `attachment; filename="pitcrew-${hostname}-deployment-${log.deployment_id}.log"`)
        // Plain text skips the JSON serializer; the cast only tells the typed reply so.
        .send(log.text as unknown as DeploymentLog);
    },
  );

  app.get('/api/reports', { schema: { querystring: ReportQuery, response: { 200: Report } }, config: { access: 'viewer' } }, async (request) => core.deployments.summarize(request.query));
}
