// POST /api/status: a device reports its progress; final states stay final. The answer carries an operator's
// pending Identify.
import { StatusRequest, StatusResponse } from '../../contracts/device-api.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';

export function registerStatusRoute(app: TypedApp, { core, config }: ServerDeps): void {
  app.post('/api/status', { schema: { body: StatusRequest, response: { 200: StatusResponse } } }, async (request) => {
    const { deployment, identify } = core.deployments.answerReport(request.body, request.ip, { requireToken: config.requireDeploymentToken, bootDeadlineS: config.bootDeadlineSeconds });
    return { received: true, hostname: deployment.hostname, deployment_id: deployment.id, status: deployment.status, ...(identify ? { identify } : {}) };
  });
}
