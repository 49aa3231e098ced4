// Sends queued webhook deliveries in the background: a few at a time, each with a timeout, failures retried with
// exponential back-off up to a bound. Pending deliveries live in the database, so a restart picks them up again;
// a delivery cut short by shutdown is not counted as an attempt.
import type { FastifyBaseLogger } from 'fastify';
import { WEBHOOK_HEADERS } from '../../contracts/webhooks.js';
import type { WebhookService } from '../../core/webhook.service.js';
import { signWebhookBody } from '../../core/webhook-signature.js';
import type { DueDelivery } from '../../db/webhook.repository.js';
import { PITCREW_VERSION } from '../../version.js';

export interface WebhookDeliveryPolicy {
  /** Attempts before a delivery is given up as failed. */
  maxAttempts: number;
  /** Wait before the first retry; each further retry waits twice as long, up to maxRetryDelayMs. */
  firstRetryDelayMs: number;
  maxRetryDelayMs: number;
  /** A receiver that has not answered by then counts as a failed attempt. */
  timeoutMs: number;
  /** Deliveries in flight at once: a slow receiver must not hold up the others. */
  concurrency: number;
}

/** 8 attempts over about 21 minutes (10 s, 20 s … 10 min between them): a receiver restarting or a venue uplink down for a while still gets the news. */
export const DEFAULT_WEBHOOK_DELIVERY_POLICY: WebhookDeliveryPolicy = {
  maxAttempts: 8,
  firstRetryDelayMs: 10_000,
  maxRetryDelayMs: 10 * 60_000,
  timeoutMs: 10_000,
  concurrency: 4,
};

/** Enough of a receiver's error answer to tell what went wrong, without reading a huge page. */
const ERROR_TEXT_LIMIT = 200;
/** One slow or dead receiver may hold this many of the slots, never all of them. */
const MAX_IN_FLIGHT_PER_WEBHOOK = 2;
/** Even with nothing due, look again this often (a change by another program, the CLI, kicks the worker at once). */
const IDLE_CHECK_MS = 60_000;

export interface WebhookDeliveryWorker {
  start(): void;
  /** Looks for due deliveries now: another program (the CLI) may have queued some. */
  kick(): void;
  /** Stops sending and waits for deliveries in flight to end (those cut short stay pending). */
  stop(): Promise<void>;
}

async function answerText(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const { value } = (await reader.read()) as { value?: Uint8Array };
  await reader.cancel().catch(() => undefined);
  return value ? new TextDecoder().decode(value.subarray(0, ERROR_TEXT_LIMIT)).replace(/\s+/g, ' ').trim() : '';
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return `no answer within ${timeoutMs / 1000} s`;
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  const reason = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
  return `could not reach the receiver: ${reason}`;
}

export function createWebhookDeliveryWorker(webhooks: WebhookService, options: { now: () => Date; log: FastifyBaseLogger; policy?: Partial<WebhookDeliveryPolicy> }): WebhookDeliveryWorker {
  const policy = { ...DEFAULT_WEBHOOK_DELIVERY_POLICY, ...options.policy };
  const { now, log } = options;
  const inFlight = new Map<number, { webhookId: number; done: Promise<void> }>();
  const stopping = new AbortController();
  let started = false;
  let timer: NodeJS.Timeout | null = null;

  const retryDelayMs = (attemptsMade: number) => Math.min(policy.maxRetryDelayMs, policy.firstRetryDelayMs * 2 ** (attemptsMade - 1));

  async function attempt(delivery: DueDelivery): Promise<void> {
    const timestamp = Math.floor(now().getTime() / 1000);
    const headers: Record<string, string> = {
      ...delivery.headers,
      'content-type': delivery.content_type,
      'user-agent': `Pitcrew/${PITCREW_VERSION}`,
      [WEBHOOK_HEADERS.event]: delivery.event,
      [WEBHOOK_HEADERS.delivery]: String(delivery.id),
      [WEBHOOK_HEADERS.timestamp]: String(timestamp),
    };
    if (delivery.secret !== null) headers[WEBHOOK_HEADERS.signature] = signWebhookBody(delivery.secret, timestamp, delivery.body);
    let statusCode: number | null = null;
    let error: string | null = null;
    // Not AbortSignal.any([AbortSignal.timeout(…), …]): Node 20 may collect that pair mid-request, and the timeout
    // then never fires, leaving a receiver that never answers holding its slot for good. This timer holds its signal.
    const abort = new AbortController();
    const timeout = setTimeout(() => abort.abort(new DOMException('no answer', 'TimeoutError')), policy.timeoutMs);
    const onStop = () => abort.abort(stopping.signal.reason);
    stopping.signal.addEventListener('abort', onStop, { once: true });
    try {
      const response = await fetch(delivery.url, {
        method: 'POST',
        headers,
        body: delivery.body,
        // A redirect would resend the body somewhere nobody configured: it counts as a failed attempt instead.
        redirect: 'manual',
        signal: abort.signal,
      });
      statusCode = response.status;
      if (response.status < 200 || response.status > 299) {
        const text = await answerText(response);
        error = `the receiver answered HTTP ${response.status}${text ? `: ${text}` : ''}`;
      } else {
        await response.body?.cancel().catch(() => undefined);
      }
    } catch (cause) {
      if (stopping.signal.aborted) return;
      error = describeNetworkError(cause, policy.timeoutMs);
    } finally {
      clearTimeout(timeout);
      stopping.signal.removeEventListener('abort', onStop);
    }
    const attemptsMade = delivery.attempts + 1;
    const at = now();
    if (error === null) {
      webhooks.recordAttempt(delivery.id, { status: 'delivered', at: at.toISOString(), statusCode, error: null, nextAttemptAt: null });
      return;
    }
    const givesUp = attemptsMade >= policy.maxAttempts;
    const nextAttemptAt = givesUp ? null : new Date(at.getTime() + retryDelayMs(attemptsMade)).toISOString();
    webhooks.recordAttempt(delivery.id, { status: givesUp ? 'failed' : 'pending', at: at.toISOString(), statusCode, error, nextAttemptAt });
    const context = { delivery_id: delivery.id, webhook_id: delivery.webhook_id, event: delivery.event, attempts: attemptsMade, reason: error };
    if (givesUp) log.warn(context, `webhook delivery ${delivery.id} (${delivery.event}) failed for good after ${attemptsMade} attempts: ${error}`);
    else log.info({ ...context, next_attempt_at: nextAttemptAt }, `webhook delivery ${delivery.id} (${delivery.event}) attempt ${attemptsMade} failed, retried at ${nextAttemptAt}: ${error}`);
  }

  function schedule(): void {
    if (timer) clearTimeout(timer);
    timer = null;
    if (stopping.signal.aborted) return;
    const next = webhooks.nextDueAt();
    const waitMs = next === null ? IDLE_CHECK_MS : Math.min(IDLE_CHECK_MS, Math.max(0, Date.parse(next) - now().getTime()));
    // Due now yet not started: it waits for a slot (or its webhook's share), and each delivery in flight pumps again
    // as it ends. A timer now would only spin.
    if (waitMs === 0 && inFlight.size > 0) return;
    timer = setTimeout(pump, waitMs);
    timer.unref();
  }

  const inFlightFor = (webhookId: number) => [...inFlight.values()].filter((sending) => sending.webhookId === webhookId).length;

  function pump(): void {
    if (stopping.signal.aborted || !started) return;
    try {
      // Deliveries in flight are still pending in the database, and a webhook at its share is passed over: look
      // further down the queue than the free slots.
      for (const delivery of webhooks.due(policy.concurrency * 8)) {
        if (inFlight.size >= policy.concurrency) break;
        if (inFlight.has(delivery.id) || inFlightFor(delivery.webhook_id) >= MAX_IN_FLIGHT_PER_WEBHOOK) continue;
        const done = attempt(delivery)
          .catch((error: unknown) => log.error({ err: error, delivery_id: delivery.id }, 'could not record a webhook delivery attempt'))
          .finally(() => {
            inFlight.delete(delivery.id);
            pump();
          });
        inFlight.set(delivery.id, { webhookId: delivery.webhook_id, done });
      }
    } catch (error) {
      log.error({ err: error }, 'could not read the webhook delivery queue');
    }
    // A finishing delivery pumps again; meanwhile wake for the next one due (or a minute from now).
    schedule();
  }

  const kick = () => void setImmediate(pump);
  webhooks.onQueued(kick);

  return {
    start() {
      started = true;
      pump();
    },
    kick,
    async stop() {
      stopping.abort();
      if (timer) clearTimeout(timer);
      await Promise.all([...inFlight.values()].map((sending) => sending.done));
    },
  };
}
