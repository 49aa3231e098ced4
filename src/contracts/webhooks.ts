// Notifications: webhooks that tell people off the floor when a batch finished, a device failed or a finished
// device never came up. Shapes shared by the server (validation), the System page and the tests.
import { Type, type Static } from 'typebox';
import { RowId } from './domain.js';

const Strict = { additionalProperties: false } as const;

/** What a webhook can subscribe to. */
export const WEBHOOK_EVENTS = ['batch_finished', 'device_failed', 'device_not_booted'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
/** A delivery is one of those, or a test an administrator asked for. */
export type WebhookDeliveryEvent = WebhookEvent | 'test';

export const WEBHOOK_EVENT_LABELS: Record<WebhookDeliveryEvent, string> = {
  batch_finished: 'Batch finished',
  device_failed: 'Device failed',
  device_not_booted: 'Device not booted',
  test: 'Test',
};

/**
 * `json`: Pitcrew's own envelope ({@link WebhookEnvelope}), for scripts. `ntfy`: the message as plain text with
 * ntfy's Title, Tags and Priority headers — the URL is the topic's (https://ntfy.example/pitcrew). `slack`:
 * `{"text": …}`, which Slack incoming webhooks and the Slack-compatible endpoints of Mattermost, Rocket.Chat and
 * Discord (`…/slack`) accept.
 */
export const WEBHOOK_FORMATS = ['json', 'ntfy', 'slack'] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/**
 * Headers of every delivery. With a secret, the signature is `sha256=` and the hex HMAC-SHA256 of
 * `<timestamp>.<raw body>` keyed with the secret; the timestamp (Unix seconds, new on each attempt) is signed too,
 * so a receiver that refuses timestamps older than a few minutes cannot be fed a recorded delivery again.
 * src/core/webhook-signature.ts signs and checks.
 */
export const WEBHOOK_HEADERS = {
  event: 'x-pitcrew-event',
  delivery: 'x-pitcrew-delivery',
  timestamp: 'x-pitcrew-timestamp',
  signature: 'x-pitcrew-signature',
} as const;

const WebhookEventSchema = Type.Enum(WEBHOOK_EVENTS);
const WebhookFormatSchema = Type.Enum(WEBHOOK_FORMATS);
const WebhookName = Type.String({ minLength: 1, maxLength: 100 });
/** http or https only: a webhook is a POST to a web server, never a file or another scheme. */
const WebhookUrl = Type.String({ minLength: 8, maxLength: 2000, pattern: '^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#]+[^\\s]*$' });
const WebhookEvents = Type.Array(WebhookEventSchema, { minItems: 1, maxItems: WEBHOOK_EVENTS.length, uniqueItems: true });
/** Long enough not to be guessed. */
const WebhookSecret = Type.String({ minLength: 16, maxLength: 256 });

export const WebhookCreate = Type.Object(
  {
    name: WebhookName,
    url: WebhookUrl,
    events: WebhookEvents,
    format: Type.Optional(WebhookFormatSchema),
    secret: Type.Optional(Type.Union([WebhookSecret, Type.Null()])),
    enabled: Type.Optional(Type.Boolean()),
  },
  Strict,
);
export type WebhookCreate = Static<typeof WebhookCreate>;

/** Fields left out stay as they are; `secret: null` removes the secret. */
export const WebhookUpdate = Type.Object(
  {
    name: Type.Optional(WebhookName),
    url: Type.Optional(WebhookUrl),
    events: Type.Optional(WebhookEvents),
    format: Type.Optional(WebhookFormatSchema),
    secret: Type.Optional(Type.Union([WebhookSecret, Type.Null()])),
    enabled: Type.Optional(Type.Boolean()),
  },
  Strict,
);
export type WebhookUpdate = Static<typeof WebhookUpdate>;

/** A webhook as the API shows it: the secret is write-only, only whether there is one is told. */
export const Webhook = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  url: Type.String(),
  format: WebhookFormatSchema,
  events: Type.Array(WebhookEventSchema),
  has_secret: Type.Boolean(),
  enabled: Type.Boolean(),
  created_at: Type.String(),
  updated_at: Type.String(),
});
export type Webhook = Static<typeof Webhook>;

export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

export const WebhookDelivery = Type.Object({
  id: Type.Integer(),
  webhook_id: Type.Integer(),
  webhook_name: Type.String(),
  event: Type.Enum([...WEBHOOK_EVENTS, 'test'] as const),
  summary: Type.String(),
  status: Type.Enum(WEBHOOK_DELIVERY_STATUSES),
  attempts: Type.Integer(),
  next_attempt_at: Type.Union([Type.String(), Type.Null()]),
  last_attempt_at: Type.Union([Type.String(), Type.Null()]),
  last_status_code: Type.Union([Type.Integer(), Type.Null()]),
  /** The latest failed attempt's reason; kept after a later attempt succeeds, so the log shows what was retried. */
  last_error: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
  delivered_at: Type.Union([Type.String(), Type.Null()]),
});
export type WebhookDelivery = Static<typeof WebhookDelivery>;

export const WebhookList = Type.Object({ webhooks: Type.Array(Webhook) });
export const WebhookResponse = Type.Object({ success: Type.Literal(true), webhook: Webhook });
export const WebhookDeliveryResponse = Type.Object({ success: Type.Literal(true), delivery: WebhookDelivery });
export const WebhookDeliveryQuery = Type.Object({
  webhook: Type.Optional(RowId()),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
});
export type WebhookDeliveryQuery = Static<typeof WebhookDeliveryQuery>;
export const WebhookDeliveryList = Type.Object({ deliveries: Type.Array(WebhookDelivery) });

/** The body of a `json` delivery. `data` holds the batch or the deployment as the management API shows it. */
export interface WebhookEnvelope {
  event: WebhookDeliveryEvent;
  /** When it happened, ISO 8601 UTC. */
  occurred_at: string;
  /** One line for a person. */
  title: string;
  /** A few lines for a person. */
  message: string;
  data: Record<string, unknown>;
}
