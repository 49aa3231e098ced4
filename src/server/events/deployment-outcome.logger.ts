// One log line per deployment outcome, so the server log alone tells which board finished, which failed and why:
// request logs are at debug, and a failed verification used to leave no line at all.
import type { FastifyBaseLogger } from 'fastify';
import type { Deployment } from '../../contracts/domain.js';
import type { EventObserver } from './event-broadcaster.js';

/** Fields of a deployment an operator greps for. */
const fieldsOf = (d: Deployment) => ({
  deployment_id: d.id,
  hostname: d.hostname,
  serial: d.serial_number,
  mac: d.mac_address,
  batch_id: d.batch_id,
  image_version: d.image_version,
});

export function createDeploymentOutcomeLogger(log: FastifyBaseLogger): EventObserver {
  return (name, payload) => {
    if (name !== 'deployment_status') return;
    const { deployment } = payload as { deployment: Deployment };
    const who = `${deployment.hostname} (serial ${deployment.serial_number ?? 'unknown'}, MAC ${deployment.mac_address ?? 'unknown'})`;
    switch (deployment.status) {
      case 'completed':
        log.info(fieldsOf(deployment), `deployment ${deployment.id} completed: ${who} imaged with ${deployment.image_version ?? 'an image'}`);
        break;
      case 'failed':
        log.warn({ ...fieldsOf(deployment), reason: deployment.error_message }, `deployment ${deployment.id} failed: ${who}: ${deployment.error_message ?? 'no reason given'}`);
        break;
      case 'superseded':
        log.info(fieldsOf(deployment), `deployment ${deployment.id} superseded: ${who} asked for its configuration again and starts over`);
        break;
    }
  };
}
