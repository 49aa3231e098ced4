-- A deployment closed because its device asked for its configuration again before finishing is `superseded`, not
-- `failed`: the device is still at work under a newer record, so it counts as neither a failure nor a result.
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt (same columns, same order).

CREATE TABLE deployments_new (
  id             INTEGER PRIMARY KEY,
  hostname       TEXT NOT NULL,
  mac_address    TEXT,
  serial_number  TEXT,
  ip_address     TEXT,
  product_type   TEXT NOT NULL CHECK (product_type IN ('KXP2', 'RXP2')),
  venue_code     TEXT NOT NULL REFERENCES venues(code) ON DELETE RESTRICT,
  batch_id       INTEGER REFERENCES batches(id) ON DELETE SET NULL,
  image_id       INTEGER REFERENCES images(id) ON DELETE SET NULL,
  image_version  TEXT,
  image_checksum TEXT,
  status         TEXT NOT NULL CHECK (status IN ('assigned', 'downloading', 'verifying', 'customizing', 'completed', 'failed', 'superseded')),
  progress       REAL NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
  bytes_done     INTEGER NOT NULL DEFAULT 0,
  bytes_total    INTEGER NOT NULL DEFAULT 0,
  rate_bps       INTEGER NOT NULL DEFAULT 0,
  message        TEXT,
  error_message  TEXT,
  started_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL,
  completed_at   TEXT,
  eta_s          INTEGER CHECK (eta_s >= 0),
  CHECK ((status IN ('completed', 'failed', 'superseded')) = (completed_at IS NOT NULL))
) STRICT;

-- Records closed as superseded before this state existed were written as failed with this reason.
INSERT INTO deployments_new
  SELECT id, hostname, mac_address, serial_number, ip_address, product_type, venue_code, batch_id, image_id, image_version,
         image_checksum,
         CASE WHEN status = 'failed' AND error_message LIKE 'Superseded:%' THEN 'superseded' ELSE status END,
         progress, bytes_done, bytes_total, rate_bps,
         CASE WHEN status = 'failed' AND error_message LIKE 'Superseded:%' THEN error_message ELSE message END,
         CASE WHEN status = 'failed' AND error_message LIKE 'Superseded:%' THEN NULL ELSE error_message END,
         started_at, updated_at, completed_at, eta_s
    FROM deployments;

DROP TABLE deployments;
ALTER TABLE deployments_new RENAME TO deployments;

CREATE INDEX deployments_open ON deployments(updated_at) WHERE status NOT IN ('completed', 'failed', 'superseded');
CREATE INDEX deployments_by_started ON deployments(started_at);
CREATE INDEX deployments_by_hostname ON deployments(hostname);
CREATE INDEX deployments_by_venue ON deployments(venue_code, started_at);
CREATE INDEX deployments_by_completed ON deployments(completed_at) WHERE completed_at IS NOT NULL;
