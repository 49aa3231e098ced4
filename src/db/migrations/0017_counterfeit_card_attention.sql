-- A board written on a card the capacity check proved counterfeit now waits on the "needs attention" lane
-- (contracts/attention.ts). Records from before are settled as migration 0009 settled old failures, so the lane starts
-- with what happened lately: a card whose hostname has been deployed again since was re-imaged; one older than a day
-- at the upgrade is taken as dealt with.
UPDATE deployments SET attention_resolved_at = (SELECT min(later.started_at) FROM deployments later WHERE later.hostname = deployments.hostname AND later.id > deployments.id),
                       attention_resolution = 'reimaged', attention_resolved_by = 'server'
 WHERE status = 'completed' AND card_capacity_check IN ('wrapped', 'lost')
   AND (attention_resolved_at IS NULL OR (attention_resolution <> 'reimaged' AND attention_resolved_at < completed_at))
   AND EXISTS (SELECT 1 FROM deployments later WHERE later.hostname = deployments.hostname AND later.id > deployments.id);
UPDATE deployments SET attention_resolved_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), attention_resolution = 'acknowledged', attention_resolved_by = 'upgrade'
 WHERE status = 'completed' AND card_capacity_check IN ('wrapped', 'lost')
   AND (attention_resolved_at IS NULL OR (attention_resolution <> 'reimaged' AND attention_resolved_at < completed_at))
   AND completed_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day');
