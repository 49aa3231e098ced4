-- Venues, the hostname pool, deployment batches, master images and deployments.
-- Rules the domain core enforces are repeated here as constraints, so no writer can break them.

CREATE TABLE venues (
  code          TEXT PRIMARY KEY CHECK (length(code) = 4 AND code = upper(code) AND code NOT GLOB '*[^A-Z0-9]*'),
  name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  location      TEXT,
  contact_email TEXT,
  created_at    TEXT NOT NULL
) STRICT;

-- One row per hostname a venue owns. KXP2 rows come from the kart-number pool; RXP2 rows are created on
-- assignment from the device's serial and have no kart number.
CREATE TABLE hostnames (
  id            INTEGER PRIMARY KEY,
  venue_code    TEXT NOT NULL REFERENCES venues(code) ON UPDATE RESTRICT ON DELETE RESTRICT,
  product_type  TEXT NOT NULL CHECK (product_type IN ('KXP2', 'RXP2')),
  kart_number   INTEGER CHECK (kart_number BETWEEN 1 AND 9999),
  hostname      TEXT NOT NULL UNIQUE,
  status        TEXT NOT NULL CHECK (status IN ('available', 'assigned', 'retired')),
  mac_address   TEXT,
  serial_number TEXT,
  batch_id      INTEGER REFERENCES batches(id) ON DELETE SET NULL,
  assigned_at   TEXT,
  created_at    TEXT NOT NULL,
  CHECK ((product_type = 'KXP2') = (kart_number IS NOT NULL)),
  CHECK ((status = 'assigned') = (assigned_at IS NOT NULL)),
  CHECK (status = 'assigned' OR (mac_address IS NULL AND serial_number IS NULL)),
  UNIQUE (venue_code, product_type, kart_number)
) STRICT;

-- The hot path: the lowest available kart number of a venue.
CREATE INDEX hostnames_available ON hostnames(venue_code, product_type, kart_number) WHERE status = 'available';
-- A device holds at most one hostname: these make "ask again" lookups exact and double assignment impossible.
CREATE UNIQUE INDEX hostnames_held_by_serial ON hostnames(serial_number) WHERE status = 'assigned' AND serial_number IS NOT NULL;
CREATE UNIQUE INDEX hostnames_held_by_mac ON hostnames(mac_address) WHERE status = 'assigned' AND serial_number IS NULL AND mac_address IS NOT NULL;

CREATE TABLE batches (
  id              INTEGER PRIMARY KEY,
  venue_code      TEXT NOT NULL REFERENCES venues(code) ON DELETE RESTRICT,
  product_type    TEXT NOT NULL CHECK (product_type IN ('KXP2', 'RXP2')),
  name            TEXT,
  notes           TEXT,
  total_count     INTEGER NOT NULL CHECK (total_count > 0),
  remaining_count INTEGER NOT NULL CHECK (remaining_count BETWEEN 0 AND total_count),
  priority        INTEGER NOT NULL DEFAULT 0,
  status          TEXT NOT NULL CHECK (status IN ('pending', 'active', 'paused', 'completed', 'cancelled')),
  created_at      TEXT NOT NULL,
  started_at      TEXT,
  completed_at    TEXT,
  CHECK (status <> 'completed' OR remaining_count = 0)
) STRICT;

CREATE INDEX batches_by_priority ON batches(status, priority DESC, created_at, id);
CREATE INDEX batches_by_venue ON batches(venue_code);

CREATE TABLE images (
  id           INTEGER PRIMARY KEY,
  product_type TEXT NOT NULL CHECK (product_type IN ('KXP2', 'RXP2')),
  version      TEXT NOT NULL,
  filename     TEXT NOT NULL UNIQUE CHECK (filename NOT LIKE '%/%' AND filename NOT LIKE '.%'),
  size_bytes   INTEGER NOT NULL CHECK (size_bytes >= 0),
  sha256       TEXT NOT NULL CHECK (length(sha256) = 64),
  description  TEXT,
  uploaded_at  TEXT NOT NULL,
  active       INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
  UNIQUE (product_type, version)
) STRICT;

-- At most one active image per product type.
CREATE UNIQUE INDEX images_one_active ON images(product_type) WHERE active = 1;

CREATE TABLE deployments (
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
  status         TEXT NOT NULL CHECK (status IN ('assigned', 'downloading', 'verifying', 'customizing', 'completed', 'failed')),
  progress       REAL NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
  bytes_done     INTEGER NOT NULL DEFAULT 0,
  bytes_total    INTEGER NOT NULL DEFAULT 0,
  rate_bps       INTEGER NOT NULL DEFAULT 0,
  message        TEXT,
  error_message  TEXT,
  started_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL,
  completed_at   TEXT,
  CHECK ((status IN ('completed', 'failed')) = (completed_at IS NOT NULL))
) STRICT;

CREATE INDEX deployments_open ON deployments(updated_at) WHERE status NOT IN ('completed', 'failed');
CREATE INDEX deployments_by_started ON deployments(started_at);
CREATE INDEX deployments_by_hostname ON deployments(hostname);
CREATE INDEX deployments_by_venue ON deployments(venue_code, started_at);
