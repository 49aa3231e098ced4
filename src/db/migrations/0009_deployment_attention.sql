-- The "needs attention" lane: a failed or stalled device stays there until an operator acknowledges it or asks for
-- a re-image, or the device asks for its configuration again. Who did it and when is kept with the record (and in
-- the audit log).
ALTER TABLE deployments ADD COLUMN attention_resolved_at TEXT;
ALTER TABLE deployments ADD COLUMN attention_resolution TEXT CHECK (attention_resolution IN ('acknowledged', 'reimage', 'reimaged'));
ALTER TABLE deployments ADD COLUMN attention_resolved_by TEXT;
-- A failed device that has asked again since was re-imaged: its old failure needs nobody.
UPDATE deployments SET attention_resolved_at = (SELECT min(later.started_at) FROM deployments later WHERE later.hostname = deployments.hostname AND later.id > deployments.id),
                       attention_resolution = 'reimaged', attention_resolved_by = 'server'
 WHERE status = 'failed' AND EXISTS (SELECT 1 FROM deployments later WHERE later.hostname = deployments.hostname AND later.id > deployments.id);
-- Failures older than a day at the upgrade are taken as dealt with: the lane starts with what happened lately, not
-- with all of history.
UPDATE deployments SET attention_resolved_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), attention_resolution = 'acknowledged', attention_resolved_by = 'upgrade'
 WHERE status = 'failed' AND attention_resolved_at IS NULL AND completed_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day');
-- The lane's query: unresolved failures, and open records (few) checked for silence.
CREATE INDEX deployments_unresolved_failures ON deployments (id) WHERE status = 'failed' AND attention_resolved_at IS NULL;
