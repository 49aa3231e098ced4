// What a notification says, and how each webhook format carries it. Rendered once when a delivery is queued, so
// every retry sends the same bytes under a fresh signature.
import type { Batch, Deployment } from '../contracts/domain.js';
import type { DeploymentBootEvent } from '../contracts/events.js';
import { describeFailure } from '../contracts/attention.js';
import type { WebhookDeliveryEvent, WebhookEnvelope, WebhookFormat } from '../contracts/webhooks.js';
import type { DeliveryContent } from '../db/webhook.repository.js';

const batchName = (batch: Batch) => `batch ${batch.id}${batch.name ? ` "${batch.name}"` : ''} (${batch.product_type} at ${batch.venue_code})`;
const deviceName = (d: Deployment) => `${d.hostname} (serial ${d.serial_number ?? 'unknown'}, MAC ${d.mac_address ?? 'unknown'})`;

export function batchFinishedEnvelope(batch: Batch): WebhookEnvelope {
  const failed = batch.failed_count > 0 ? `, ${batch.failed_count} failed` : '';
  return {
    event: 'batch_finished',
    occurred_at: batch.completed_at ?? new Date().toISOString(),
    title: `Batch finished: ${batch.name ?? `batch ${batch.id}`} at ${batch.venue_code}`,
    message: `${batchName(batch)} is finished: ${batch.succeeded_count} of ${batch.total_count} devices imaged${failed}.`,
    data: { batch },
  };
}

export function deviceFailedEnvelope(deployment: Deployment): WebhookEnvelope {
  const reason = deployment.error_message ?? 'no reason given';
  return {
    event: 'device_failed',
    occurred_at: deployment.completed_at ?? deployment.updated_at,
    title: `Device failed: ${deployment.hostname}`,
    message: `${deviceName(deployment)} at ${deployment.venue_code} failed: ${describeFailure(deployment.error_message, deployment.error_code).sentence}\nDetail: ${reason}`,
    data: { deployment },
  };
}

export function deviceNotBootedEnvelope({ deployment }: DeploymentBootEvent, at: Date): WebhookEnvelope {
  // How long the server waited for the check-in since the card was written.
  const waited_s = Math.max(0, Math.round((at.getTime() - Date.parse(deployment.completed_at ?? deployment.updated_at)) / 1000));
  const minutes = Math.max(1, Math.round(waited_s / 60));
  return {
    event: 'device_not_booted',
    occurred_at: at.toISOString(),
    title: `Device not booted: ${deployment.hostname}`,
    message: `${deviceName(deployment)} at ${deployment.venue_code} was imaged but has not checked in from its new system after ${minutes} min: check its power, card and network.`,
    data: { deployment, waited_s },
  };
}

export function testEnvelope(webhookName: string, at: Date): WebhookEnvelope {
  return {
    event: 'test',
    occurred_at: at.toISOString(),
    title: 'Pitcrew test notification',
    message: `A test of the webhook "${webhookName}": if you read this, notifications from Pitcrew arrive here.`,
    data: {},
  };
}

/** ntfy's tags become emoji in its apps; priority 4 ("high") for what needs someone on the floor. */
const NTFY_LOOK: Record<WebhookDeliveryEvent, { tags: string; priority: string }> = {
  batch_finished: { tags: 'white_check_mark', priority: '3' },
  device_failed: { tags: 'warning', priority: '4' },
  device_not_booted: { tags: 'warning', priority: '4' },
  test: { tags: 'test_tube', priority: '2' },
};

/** HTTP header values must be Latin-1 without line breaks: titles carry hostnames and venue names from operators. */
const headerSafe = (text: string) => text.replace(/[^\x20-\x7e]/g, '?');

export function renderDelivery(format: WebhookFormat, envelope: WebhookEnvelope): Pick<DeliveryContent, 'content_type' | 'headers' | 'body'> {
  switch (format) {
    case 'json':
      return { content_type: 'application/json', headers: {}, body: JSON.stringify(envelope) };
    case 'ntfy':
      return {
        content_type: 'text/plain; charset=utf-8',
        headers: { title: headerSafe(envelope.title), tags: NTFY_LOOK[envelope.event].tags, priority: NTFY_LOOK[envelope.event].priority },
        body: envelope.message,
      };
    case 'slack':
      return { content_type: 'application/json', headers: {}, body: JSON.stringify({ text: `*${envelope.title}*\n${envelope.message}` }) };
  }
}
