// POST /api/deployments/:id/log: an installer that failed sends its whole log (bounded), so the operator reads on
// the dashboard what the board's console said. Only the device the deployment was configured for may send it.
import { Type } from 'typebox';
import { LOG_UPLOAD_MAX_BYTES, LogUpload } from '../../contracts/card-health.js';
import { RowId } from '../../contracts/domain.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';

const LogReceipt = Type.Object({ received: Type.Boolean(), bytes: Type.Integer() });

export function registerDeploymentLogRoute(app: TypedApp, { core, config }: ServerDeps): void {
  app.post(
    '/api/deployments/:id/log',
    {
      schema: { params: Type.Object({ id: RowId() }), body: LogUpload, response: { 200: LogReceipt } },
      // JSON escapes may take up to six bytes a character; room for a whole bounded log, and no more.
      bodyLimit: LOG_UPLOAD_MAX_BYTES * 6 + 4096,
    },
    async (request) => {
      const log = core.deployments.saveLog(request.params.id, request.body, config.requireDeploymentToken);
      return { received: true, bytes: Buffer.byteLength(log.text) };
    },
  );
}
