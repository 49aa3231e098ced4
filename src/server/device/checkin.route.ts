// POST /api/checkin: a written system reports its first boot, once (src/contracts/checkin.ts). Every refusal is
// logged: a wrong or reused token may be a replayed request or a second card with the same image.
import { CheckinRequest, CheckinResponse } from '../../contracts/checkin.js';
import { isAppError } from '../../contracts/errors.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';

export function registerCheckinRoute(app: TypedApp, { core }: ServerDeps): void {
  app.post('/api/checkin', { schema: { body: CheckinRequest, response: { 200: CheckinResponse } } }, async (request) => {
    const { deployment_id, hostname, serial_number, mac_address } = request.body;
    try {
      const { deployment, checkin, newerDeployment } = core.checkins.checkIn(request.body, request.ip);
      if (checkin.hostname !== deployment.hostname) {
        request.log.warn({ deployment: deployment.id, reported: checkin.hostname }, `deployment ${deployment.id} checked in under the hostname ${checkin.hostname}, not ${deployment.hostname}`);
      }
      if (newerDeployment) {
        request.log.warn(
          { deployment: deployment.id, newer: newerDeployment.id, hostname: deployment.hostname },
          `a card of deployment ${deployment.id} checked in, but ${deployment.hostname} was deployed again since (deployment ${newerDeployment.id}): two units may carry this hostname`,
        );
      }
      return { received: true as const, deployment_id: deployment.id, hostname: deployment.hostname, booted_at: checkin.booted_at };
    } catch (error) {
      if (isAppError(error)) {
        request.log.warn({ deployment: deployment_id, hostname, serial: serial_number, mac: mac_address, ip: request.ip, code: error.code }, `check-in refused: ${error.message}`);
      }
      throw error;
    }
  });
}
