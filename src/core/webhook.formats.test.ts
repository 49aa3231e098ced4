// What each webhook format sends for each notification.
import { describe, expect, it } from 'vitest';
import type { Batch, Deployment } from '../contracts/domain.js';
import { batchFinishedEnvelope, deviceFailedEnvelope, deviceNotBootedEnvelope, renderDelivery, testEnvelope } from './webhook.formats.js';
import { notificationOf } from './webhook.service.js';

const batch = {
  id: 7, venue_code: 'CORO', product_type: 'KXP2', name: 'Saturday', notes: null, total_count: 20, remaining_count: 0, priority: 0, status: 'completed',
  created_at: '2026-05-01T08:00:00.000Z', started_at: '2026-05-01T08:01:00.000Z', completed_at: '2026-05-01T09:00:00.000Z', peer_delivery: true, peer_linger_s: 60,
  handed_out_count: 20, imaging_count: 0, succeeded_count: 18, failed_count: 2,
} as Batch;
const deployment = {
  id: 42, hostname: 'KXP2-CORO-007', serial_number: '10000000abcd0007', mac_address: 'dc:a6:32:00:00:07', venue_code: 'CORO', status: 'failed',
  error_message: 'the card is write-protected', updated_at: '2026-05-01T08:30:00.000Z', completed_at: '2026-05-01T08:30:00.000Z',
} as Deployment;

describe('webhook formats', () => {
  it('says what happened to a batch, its outcome counts included', () => {
    const envelope = batchFinishedEnvelope(batch);
    expect(envelope).toMatchObject({ event: 'batch_finished', occurred_at: batch.completed_at, title: 'Batch finished: Saturday at CORO', data: { batch } });
    expect(envelope.message).toBe('batch 7 "Saturday" (KXP2 at CORO) is finished: 18 of 20 devices imaged, 2 failed.');
    expect(batchFinishedEnvelope({ ...batch, name: null, failed_count: 0, succeeded_count: 20 }).message).toBe('batch 7 (KXP2 at CORO) is finished: 20 of 20 devices imaged.');
  });

  it('gives a failed device the plain sentence for its failure and the detail', () => {
    const { message } = deviceFailedEnvelope(deployment);
    expect(message).toContain('KXP2-CORO-007 (serial 10000000abcd0007, MAC dc:a6:32:00:00:07) at CORO failed: The card is write-protected');
    expect(message).toContain('Detail: the card is write-protected');
  });

  it('carries JSON as the envelope itself, Slack as one text field, ntfy as text with its headers', () => {
    const envelope = deviceNotBootedEnvelope({ deployment_id: 42, hostname: deployment.hostname, deployment }, new Date('2026-05-01T09:00:00Z'));
    expect(JSON.parse(renderDelivery('json', envelope).body)).toEqual(envelope);
    expect(JSON.parse(renderDelivery('slack', envelope).body)).toEqual({ text: `*Device not booted: KXP2-CORO-007*\n${envelope.message}` });
    expect(renderDelivery('ntfy', envelope)).toEqual({
      content_type: 'text/plain; charset=utf-8',
      headers: { title: 'Device not booted: KXP2-CORO-007', tags: 'warning', priority: '4' },
      body: envelope.message,
    });
  });

  it('keeps ntfy headers sendable whatever an operator typed in a name', () => {
    const envelope = batchFinishedEnvelope({ ...batch, name: 'Zürich\nnight' });
    const { headers, body } = renderDelivery('ntfy', envelope);
    expect(headers.title).toBe('Batch finished: Z?rich?night at CORO');
    expect(() => new Headers(headers)).not.toThrow();
    expect(body).toContain('Zürich');
    expect(renderDelivery('ntfy', testEnvelope('Phone', new Date())).headers.priority).toBe('2');
  });

  it('turns only finished batches, failed deployments and not-booted devices into notifications', () => {
    expect(notificationOf('batch_completed', { batch_id: 7, batch }, new Date())).toMatchObject({ event: 'batch_finished', subject: 'batch:7' });
    expect(notificationOf('deployment_status', { deployment_id: 42, status: 'failed', progress: 10, deployment }, new Date())).toMatchObject({ event: 'device_failed', subject: 'deployment:42' });
    expect(notificationOf('deployment_status', { deployment_id: 42, status: 'completed', progress: 100, deployment: { ...deployment, status: 'completed' } }, new Date())).toBeNull();
    expect(notificationOf('deployment_not_booted', { deployment_id: 42, hostname: deployment.hostname, deployment }, new Date())).toMatchObject({ event: 'device_not_booted', subject: 'deployment:42' });
    expect(notificationOf('batch_progress', { batch_id: 7, status: 'active', total_count: 1, remaining_count: 0, handed_out_count: 1, imaging_count: 1, succeeded_count: 0, failed_count: 0 }, new Date())).toBeNull();
  });
});
