-- A batch's device counts take each hostname's newest deployment in the batch (batch.repository.ts): with this index
-- that is a walk of the index alone, not a scan of every deployment and a temporary B-tree, on every batch list and
-- every status report that moves a batch's counts.
CREATE INDEX deployments_by_batch_hostname ON deployments (batch_id, hostname, id) WHERE batch_id IS NOT NULL;
