// Webhooks: which ones exist, and turning domain events into queued deliveries. Sending is the delivery worker's
// (src/server/webhooks): queuing is one INSERT after the change committed, so no request waits on a receiver.
import { randomUUID } from 'node:crypto';
import type { ServerEventName, ServerEvents } from '../contracts/events.js';
import { AppError } from '../contracts/errors.js';
import { WEBHOOK_EVENTS, WEBHOOK_FORMATS, type Webhook, type WebhookCreate, type WebhookDelivery, type WebhookEnvelope, type WebhookEvent, type WebhookUpdate } from '../contracts/webhooks.js';
import { inWriteTransaction } from '../db/database.js';
import { createWebhookRepository, type DueDelivery, type StoredWebhook } from '../db/webhook.repository.js';
import { isoOf, type CoreContext } from './context.js';
import { batchFinishedEnvelope, deviceFailedEnvelope, deviceNotBootedEnvelope, renderDelivery, testEnvelope } from './webhook.formats.js';

const publicOf = ({ secret: _secret, ...webhook }: StoredWebhook): Webhook => webhook;

/** The schema checks the shape; this also refuses what only a URL parser sees (`http://` with no host, a bad port). */
function checkedUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AppError('VALIDATION', `The webhook URL ${url} is not a valid URL.`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new AppError('VALIDATION', `A webhook URL must start with http:// or https://, not ${parsed.protocol}.`);
  if (!parsed.hostname) throw new AppError('VALIDATION', `The webhook URL ${url} has no host.`);
  return parsed.href;
}

/** The API's schema checks these too; the core checks them again for callers without it (the CLI, scripts). */
function checkedFields(fields: Pick<Webhook, 'name' | 'format' | 'events'> & { secret: string | null }) {
  const name = fields.name.trim();
  if (name.length < 1 || name.length > 100) throw new AppError('VALIDATION', 'A webhook needs a name of 1 to 100 characters.');
  if (!WEBHOOK_FORMATS.includes(fields.format)) throw new AppError('VALIDATION', `Unknown webhook format ${fields.format}: use ${WEBHOOK_FORMATS.join(', ')}.`);
  const unknown = fields.events.filter((event) => !WEBHOOK_EVENTS.includes(event));
  if (unknown.length) throw new AppError('VALIDATION', `Unknown webhook event ${unknown.join(', ')}: use ${WEBHOOK_EVENTS.join(', ')}.`);
  if (fields.events.length === 0) throw new AppError('VALIDATION', 'A webhook needs at least one event.');
  if (fields.secret !== null && (fields.secret.length < 16 || fields.secret.length > 256)) throw new AppError('VALIDATION', 'A webhook secret has 16 to 256 characters.');
  return { name, format: fields.format, events: WEBHOOK_EVENTS.filter((event) => fields.events.includes(event)), secret: fields.secret };
}

/** A domain event that is a notification: which one, about what (one delivery per subject), and what it says. */
export function notificationOf<K extends ServerEventName>(name: K, payload: ServerEvents[K], at: Date): { event: WebhookEvent; subject: string; envelope: WebhookEnvelope } | null {
  switch (name) {
    case 'batch_completed': {
      const { batch } = payload as ServerEvents['batch_completed'];
      return { event: 'batch_finished', subject: `batch:${batch.id}`, envelope: batchFinishedEnvelope(batch) };
    }
    case 'deployment_status': {
      // Acknowledging a failure re-announces the record, still failed: the subject keeps that to one delivery.
      const { deployment } = payload as ServerEvents['deployment_status'];
      return deployment.status === 'failed' ? { event: 'device_failed', subject: `deployment:${deployment.id}`, envelope: deviceFailedEnvelope(deployment) } : null;
    }
    case 'deployment_not_booted': {
      const event = payload as ServerEvents['deployment_not_booted'];
      return { event: 'device_not_booted', subject: `deployment:${event.deployment_id}`, envelope: deviceNotBootedEnvelope(event, at) };
    }
    default:
      return null;
  }
}

export function createWebhookService(ctx: CoreContext) {
  const repo = createWebhookRepository(ctx.db);
  const queuedListeners: Array<() => void> = [];
  const write = <T>(work: () => T): T => inWriteTransaction(ctx.db, work);
  const announceQueued = () => queuedListeners.forEach((listener) => listener());

  const get = (id: number): StoredWebhook => {
    const webhook = repo.find(id);
    if (!webhook) throw new AppError('NOT_FOUND', `There is no webhook ${id}.`);
    return webhook;
  };

  function enqueue(webhook: StoredWebhook, subject: string, envelope: WebhookEnvelope): WebhookDelivery | undefined {
    const content = { event: envelope.event, subject, summary: envelope.title, ...renderDelivery(webhook.format, envelope) };
    return repo.enqueue(webhook.id, content, isoOf(ctx.now()));
  }

  return {
    list: (): Webhook[] => repo.list().map(publicOf),
    get: (id: number): Webhook => publicOf(get(id)),

    create(input: WebhookCreate): Webhook {
      const at = isoOf(ctx.now());
      const fields = checkedFields({ name: input.name, format: input.format ?? 'json', events: input.events, secret: input.secret ?? null });
      return publicOf(write(() => {
        const webhook = repo.insert({ ...fields, url: checkedUrl(input.url), enabled: input.enabled ?? true, at });
        ctx.audit({ action: 'webhook.create', target: `${webhook.id} (${webhook.name})`, details: { ...input, url: webhook.url } });
        return webhook;
      }));
    },

    update(id: number, input: WebhookUpdate): Webhook {
      return publicOf(write(() => {
        const current = get(id);
        const fields = checkedFields({
          name: input.name ?? current.name,
          format: input.format ?? current.format,
          events: input.events ?? current.events,
          secret: input.secret === undefined ? current.secret : input.secret,
        });
        const updated = repo.update(id, { ...fields, url: input.url === undefined ? current.url : checkedUrl(input.url), enabled: input.enabled ?? current.enabled }, isoOf(ctx.now()));
        ctx.audit({ action: 'webhook.update', target: `${id} (${fields.name})`, details: input });
        return updated;
      }));
    },

    remove(id: number): void {
      write(() => {
        const webhook = get(id);
        repo.delete(id);
        ctx.audit({ action: 'webhook.delete', target: `${id} (${webhook.name})` });
      });
    },

    /** Queues a test delivery to one webhook, whatever it subscribes to and even while it is disabled. */
    sendTest(id: number): WebhookDelivery {
      const delivery = write(() => {
        const webhook = get(id);
        ctx.audit({ action: 'webhook.test', target: `${id} (${webhook.name})` });
        return enqueue(webhook, `test:${randomUUID()}`, testEnvelope(webhook.name, ctx.now()))!;
      });
      announceQueued();
      return delivery;
    },

    /**
     * Queues a delivery to every enabled webhook subscribed to the notification this domain event is, if it is one.
     * Call after the change committed (an event observer). Answers how many were queued.
     */
    notify<K extends ServerEventName>(name: K, payload: ServerEvents[K]): number {
      const notification = notificationOf(name, payload, ctx.now());
      if (!notification) return 0;
      const queued = write(() =>
        repo.list().filter((webhook) => webhook.enabled && webhook.events.includes(notification.event))
          .filter((webhook) => enqueue(webhook, notification.subject, notification.envelope) !== undefined).length);
      if (queued > 0) announceQueued();
      return queued;
    },

    deliveries: (limit: number, webhookId?: number): WebhookDelivery[] => {
      if (webhookId !== undefined) get(webhookId);
      return repo.listDeliveries(limit, webhookId);
    },
    findDelivery: (id: number): WebhookDelivery | undefined => repo.findDelivery(id),

    // ── For the delivery worker ──
    /** Someone queued a delivery: the worker looks for due ones now instead of at its next timer. */
    onQueued: (listener: () => void): void => void queuedListeners.push(listener),
    due: (limit: number): DueDelivery[] => repo.due(isoOf(ctx.now()), limit),
    nextDueAt: (): string | null => repo.nextDueAt(),
    recordAttempt: (id: number, outcome: Parameters<typeof repo.recordAttempt>[1]): void => write(() => repo.recordAttempt(id, outcome)),
  };
}
export type WebhookService = ReturnType<typeof createWebhookService>;
