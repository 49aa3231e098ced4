-- First-boot check-in: the installed system reports once from its first boot. Per deployment: by when it must
-- (set when an installer that added the check-in completes), when it booted, and when the sweep found it past its
-- deadline without a word (once, so "not booted" is announced once). The check-in's one-time secret is kept as a
-- SHA-256 beside the status token, with when it was used (a second use is refused); what the system reported is
-- kept in its own table.
ALTER TABLE deployments ADD COLUMN checkin_due_at TEXT;
ALTER TABLE deployments ADD COLUMN booted_at TEXT;
ALTER TABLE deployments ADD COLUMN not_booted_at TEXT;
ALTER TABLE deployment_tokens ADD COLUMN checkin_token_sha256 TEXT CHECK (checkin_token_sha256 IS NULL OR length(checkin_token_sha256) = 64);
ALTER TABLE deployment_tokens ADD COLUMN checkin_used_at TEXT;
CREATE TABLE deployment_checkins (
  deployment_id  INTEGER PRIMARY KEY REFERENCES deployments(id) ON DELETE CASCADE,
  received_at    TEXT NOT NULL,
  booted_at      TEXT NOT NULL,
  source_ip      TEXT,
  hostname       TEXT NOT NULL,
  serial_number  TEXT,
  mac_address    TEXT,
  ip_addresses   TEXT NOT NULL,
  os_release     TEXT,
  image_version  TEXT,
  boot_time_unit TEXT
) STRICT;
-- The sweep's and the lane's query: written cards still waiting for their check-in.
CREATE INDEX deployments_awaiting_checkin ON deployments (checkin_due_at) WHERE status = 'completed' AND booted_at IS NULL AND checkin_due_at IS NOT NULL;
