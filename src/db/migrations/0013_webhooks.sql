-- Notifications: webhooks an administrator registers, and one delivery per webhook and happening, kept as a log.
-- The rendered body is stored with its delivery, so a retry (also after a restart) sends the same bytes.
CREATE TABLE webhooks (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  url         TEXT NOT NULL CHECK (url LIKE 'http://%' OR url LIKE 'https://%'),
  format      TEXT NOT NULL CHECK (format IN ('json', 'ntfy', 'slack')),
  -- JSON array of the subscribed events (contracts/webhooks.ts WEBHOOK_EVENTS).
  events      TEXT NOT NULL,
  -- HMAC-SHA256 key of the signature header; never sent back through the API.
  secret      TEXT,
  enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
) STRICT;

CREATE TABLE webhook_deliveries (
  id               INTEGER PRIMARY KEY,
  webhook_id       INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  event            TEXT NOT NULL CHECK (event IN ('batch_finished', 'device_failed', 'device_not_booted', 'test')),
  -- What it is about ('batch:7', 'deployment:42'): the same happening announced twice is delivered once.
  subject          TEXT NOT NULL,
  summary          TEXT NOT NULL,
  content_type     TEXT NOT NULL,
  -- JSON object of the format's own headers (ntfy's Title, Tags, Priority).
  headers          TEXT NOT NULL,
  body             TEXT NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  TEXT,
  last_attempt_at  TEXT,
  last_status_code INTEGER,
  last_error       TEXT,
  created_at       TEXT NOT NULL,
  delivered_at     TEXT,
  UNIQUE (webhook_id, event, subject),
  CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL))
) STRICT;

CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries(webhook_id, id);
