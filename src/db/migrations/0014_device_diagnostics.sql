-- Identify and diagnose. Per deployment: the card the installer wrote (SD CID fields or NVMe model and serial, its
-- size), the card's measured write and read-back rates, its capacity check (a marker written at the card's end
-- and read back: a counterfeit card wraps around or drops it), the fleet's median write rate when the rates came
-- in (the "slow card" rule of src/contracts/card-health.ts compares against it), and an operator's request to
-- blink the board's activity LED: pending until the device's next status answer carries it.
ALTER TABLE deployments ADD COLUMN card_kind TEXT CHECK (card_kind IN ('sd', 'nvme', 'usb', 'other'));
ALTER TABLE deployments ADD COLUMN card_manufacturer TEXT;
ALTER TABLE deployments ADD COLUMN card_name TEXT;
ALTER TABLE deployments ADD COLUMN card_serial TEXT;
ALTER TABLE deployments ADD COLUMN card_cid TEXT;
ALTER TABLE deployments ADD COLUMN card_size_bytes INTEGER;
ALTER TABLE deployments ADD COLUMN card_capacity_check TEXT CHECK (card_capacity_check IN ('ok', 'wrapped', 'lost', 'skipped'));
ALTER TABLE deployments ADD COLUMN card_write_bps INTEGER;
ALTER TABLE deployments ADD COLUMN card_read_bps INTEGER;
ALTER TABLE deployments ADD COLUMN fleet_median_write_bps INTEGER;
ALTER TABLE deployments ADD COLUMN identify_requested_at TEXT;
ALTER TABLE deployments ADD COLUMN identify_seconds INTEGER;
ALTER TABLE deployments ADD COLUMN identify_delivered_at TEXT;
-- The median's sample: recent completed deployments that measured their card.
CREATE INDEX deployments_card_write_rates ON deployments (completed_at) WHERE status = 'completed' AND card_write_bps IS NOT NULL;
-- The installer's own log: the whole of it (bounded) when it failed, the last lines when it succeeded.
CREATE TABLE deployment_logs (
  deployment_id INTEGER PRIMARY KEY REFERENCES deployments(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('full', 'tail')),
  text TEXT NOT NULL,
  truncated INTEGER NOT NULL DEFAULT 0 CHECK (truncated IN (0, 1)),
  received_at TEXT NOT NULL
);
