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
    if (name === 'deployment_booted' || name === 'deployment_not_booted') return logBoot(log, name, (payload as { deployment: Deployment }).deployment);
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

/** First boot: the card's check-in (info), or its absence past the deadline (warn: someone should look at the unit). */
function logBoot(log: FastifyBaseLogger, name: 'deployment_booted' | 'deployment_not_booted', d: Deployment): void {
  const who = `${d.hostname} (serial ${d.serial_number ?? 'unknown'}, MAC ${d.mac_address ?? 'unknown'})`;
  if (name === 'deployment_booted') log.info({ ...fieldsOf(d), booted_at: d.booted_at }, `deployment ${d.id} booted: ${who} checked in from its first boot`);
  else log.warn({ ...fieldsOf(d), completed_at: d.completed_at, checkin_due_at: d.checkin_due_at }, `deployment ${d.id} not booted: ${who} was written at ${d.completed_at ?? '?'} and has not checked in from its first boot`);
}
