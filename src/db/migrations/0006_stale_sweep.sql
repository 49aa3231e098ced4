-- When the stale sweep closed a deployment as failed: its guess, which a late final report from the device
-- overrules (the record keeps this, so the history says the sweep was wrong).
ALTER TABLE deployments ADD COLUMN swept_at TEXT;
UPDATE deployments SET swept_at = completed_at WHERE status = 'failed' AND error_message LIKE 'No report from the device for %';
