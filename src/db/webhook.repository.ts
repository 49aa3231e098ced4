// Webhooks and their delivery log (migration 0013).
import type { Webhook, WebhookDelivery, WebhookDeliveryEvent, WebhookEvent, WebhookFormat } from '../contracts/webhooks.js';
import type { Db } from './database.js';

interface WebhookRow {
  id: number;
  name: string;
  url: string;
  format: WebhookFormat;
  events: string;
  secret: string | null;
  enabled: 0 | 1;
  created_at: string;
  updated_at: string;
}

/** A webhook with its secret, for signing: never leaves the server. */
export type StoredWebhook = Webhook & { secret: string | null };

const toWebhook = (row: WebhookRow): StoredWebhook => ({
  id: row.id,
  name: row.name,
  url: row.url,
  format: row.format,
  events: JSON.parse(row.events) as WebhookEvent[],
  has_secret: row.secret !== null,
  secret: row.secret,
  enabled: row.enabled === 1,
  created_at: row.created_at,
  updated_at: row.updated_at,
});

export interface NewWebhook {
  name: string;
  url: string;
  format: WebhookFormat;
  events: WebhookEvent[];
  secret: string | null;
  enabled: boolean;
  at: string;
}

/** What a delivery sends: rendered once, when it is queued. */
export interface DeliveryContent {
  event: WebhookDeliveryEvent;
  subject: string;
  summary: string;
  content_type: string;
  headers: Record<string, string>;
  body: string;
}

/** A pending delivery with what the worker needs to send it. */
export interface DueDelivery {
  id: number;
  webhook_id: number;
  event: WebhookDeliveryEvent;
  attempts: number;
  url: string;
  secret: string | null;
  content_type: string;
  headers: Record<string, string>;
  body: string;
}

const DELIVERY_COLUMNS = `d.id, d.webhook_id, w.name AS webhook_name, d.event, d.summary, d.status, d.attempts, d.next_attempt_at,
  d.last_attempt_at, d.last_status_code, d.last_error, d.created_at, d.delivered_at`;

/** Finished deliveries kept per webhook in the log; older ones are removed as new ones arrive. */
const KEPT_PER_WEBHOOK = 500;

export function createWebhookRepository(db: Db) {
  const byId = db.prepare<[number], WebhookRow>('SELECT * FROM webhooks WHERE id = ?');
  const all = db.prepare<[], WebhookRow>('SELECT * FROM webhooks ORDER BY id');
  const insert = db.prepare<Record<string, unknown>, { id: number }>(`
    INSERT INTO webhooks (name, url, format, events, secret, enabled, created_at, updated_at)
    VALUES (@name, @url, @format, @events, @secret, @enabled, @at, @at) RETURNING id`);
  const update = db.prepare<Record<string, unknown>>(`
    UPDATE webhooks SET name = @name, url = @url, format = @format, events = @events, secret = @secret, enabled = @enabled, updated_at = @at
     WHERE id = @id`);
  const remove = db.prepare<[number]>('DELETE FROM webhooks WHERE id = ?');

  const insertDelivery = db.prepare<Record<string, unknown>, { id: number }>(`
    INSERT INTO webhook_deliveries (webhook_id, event, subject, summary, content_type, headers, body, status, next_attempt_at, created_at)
    VALUES (@webhook_id, @event, @subject, @summary, @content_type, @headers, @body, 'pending', @at, @at)
    ON CONFLICT (webhook_id, event, subject) DO NOTHING RETURNING id`);
  const deliveryById = db.prepare<[number], WebhookDelivery>(`SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = ?`);
  const recent = db.prepare<[number], WebhookDelivery>(`SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id ORDER BY d.id DESC LIMIT ?`);
  const recentOf = db.prepare<[number, number], WebhookDelivery>(
    `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.webhook_id = ? ORDER BY d.id DESC LIMIT ?`,
  );
  // A disabled webhook keeps its pending deliveries until it is enabled again.
  const due = db.prepare<[string, number], Omit<DueDelivery, 'headers'> & { headers: string }>(`
    SELECT d.id, d.webhook_id, d.event, d.attempts, w.url, w.secret, d.content_type, d.headers, d.body
      FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
     WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND w.enabled = 1
     ORDER BY d.next_attempt_at, d.id LIMIT ?`);
  const nextDue = db.prepare<[], { at: string | null }>(`
    SELECT min(d.next_attempt_at) AS at FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.status = 'pending' AND w.enabled = 1`);
  const recordAttempt = db.prepare<Record<string, unknown>>(`
    UPDATE webhook_deliveries SET status = @status, attempts = attempts + 1, last_attempt_at = @at, last_status_code = @status_code,
           last_error = coalesce(@error, last_error), next_attempt_at = @next_attempt_at, delivered_at = CASE WHEN @status = 'delivered' THEN @at ELSE delivered_at END
     WHERE id = @id AND status = 'pending'`);
  const prune = db.prepare<{ webhook_id: number; keep: number }>(`
    DELETE FROM webhook_deliveries WHERE webhook_id = @webhook_id AND status <> 'pending'
       AND id < (SELECT min(id) FROM (SELECT id FROM webhook_deliveries WHERE webhook_id = @webhook_id ORDER BY id DESC LIMIT @keep))`);

  const find = (id: number): StoredWebhook | undefined => {
    const row = byId.get(id);
    return row ? toWebhook(row) : undefined;
  };
  const columnsOf = (hook: Omit<NewWebhook, 'at'>) => ({ ...hook, events: JSON.stringify(hook.events), enabled: hook.enabled ? 1 : 0 });

  return {
    find,
    list: (): StoredWebhook[] => all.all().map(toWebhook),
    insert: (hook: NewWebhook): StoredWebhook => find(insert.get(columnsOf(hook))!.id)!,
    update: (id: number, hook: Omit<NewWebhook, 'at'>, at: string): StoredWebhook => {
      update.run({ ...columnsOf(hook), id, at });
      return find(id)!;
    },
    delete: (id: number): boolean => remove.run(id).changes > 0,

    /** Queues a delivery; the same webhook, event and subject again is ignored (undefined). */
    enqueue(webhookId: number, content: DeliveryContent, at: string): WebhookDelivery | undefined {
      const inserted = insertDelivery.get({ webhook_id: webhookId, ...content, headers: JSON.stringify(content.headers), at });
      if (!inserted) return undefined;
      prune.run({ webhook_id: webhookId, keep: KEPT_PER_WEBHOOK });
      return deliveryById.get(inserted.id);
    },
    findDelivery: (id: number): WebhookDelivery | undefined => deliveryById.get(id),
    listDeliveries: (limit: number, webhookId?: number): WebhookDelivery[] => (webhookId === undefined ? recent.all(limit) : recentOf.all(webhookId, limit)),
    due: (at: string, limit: number): DueDelivery[] => due.all(at, limit).map((row) => ({ ...row, headers: JSON.parse(row.headers) as Record<string, string> })),
    /** When the next pending delivery is due, or null when none is. */
    nextDueAt: (): string | null => nextDue.get()!.at,
    recordAttempt(id: number, outcome: { status: 'pending' | 'delivered' | 'failed'; at: string; statusCode: number | null; error: string | null; nextAttemptAt: string | null }): void {
      recordAttempt.run({ id, status: outcome.status, at: outcome.at, status_code: outcome.statusCode, error: outcome.error, next_attempt_at: outcome.nextAttemptAt });
    },
  };
}
export type WebhookRepository = ReturnType<typeof createWebhookRepository>;
