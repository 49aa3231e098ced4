// One device being imaged: where it is in the flow, how far, how fast, and what went wrong if it failed.
import { memo } from 'react';
import { FINAL_DEPLOYMENT_STATUSES, type Deployment } from '../../../src/contracts/domain.js';
import { readWarnings } from '../../../src/contracts/deployment-message.js';
import { describeFailure } from '../../../src/contracts/attention.js';
import { etaOf } from './fleet.js';
import { formatAgo, formatBytes, formatDuration, formatRate } from '../../../src/contracts/format.js';
import { peerShareOf, PeerRoleBadge, PeerShareText } from './peer-delivery.js';
import { barVariantOf, DEPLOYMENT_VARIANT, ProgressBar, StatusBadge } from './ui.js';
import { CardFlagBadges, IdentifyBadge, IdentifyButton } from './device-diagnostics.js';

/** Re-renders only when its own deployment changes, or the clock ticks. */
export const DeploymentCard = memo(function DeploymentCard({ deployment: d, now }: { deployment: Deployment; now: number }) {
  const isFinal = FINAL_DEPLOYMENT_STATUSES.includes(d.status);
  const progress = d.status === 'completed' ? 100 : d.progress;
  const eta = etaOf(d);
  // What the installer says the operator must know even of a success (the hostname only in /etc/hostname, …).
  const warnings = isFinal ? readWarnings(d.message) : [];
  const elapsed = ((d.completed_at ? new Date(d.completed_at).getTime() : now) - new Date(d.started_at).getTime()) / 1000;
  // Installed, but still powered and passing chunks on: shown apart from plain completed so nobody unplugs it.
  const isServing = d.delivery_role === 'serving';
  const showBytes = d.bytes_total > 0 && (d.status === 'downloading' || d.bytes_done > 0);
  const hasShare = peerShareOf(d) !== null;

  return (
    <div
      className={`card h-100 shadow-sm pc-deployment-card${isFinal ? ` pc-final pc-final-${d.status}` : ''}${isServing ? ' pc-serving' : ''}`}
      data-testid={`deployment-card-${d.id}`}
      data-hostname={d.hostname}
      data-status={d.status}
      data-role={d.delivery_role ?? undefined}
      data-progress={Math.round(progress)}
    >
      <div className="card-body">
        <div className="d-flex justify-content-between align-items-start gap-2 mb-2">
          <div className="min-w-0">
            <div className="fw-semibold font-monospace text-break" data-testid="deployment-card-hostname">{d.hostname}</div>
            <div className="small text-body-secondary">
              {d.venue_code} · {d.product_type}
              {d.batch_id !== null && <> · <span title={`Batch ${d.batch_id}`}>batch&nbsp;#{d.batch_id}</span></>}
            </div>
          </div>
          <div className="d-flex flex-column align-items-end gap-1">
            <StatusBadge kind="deployment" status={d.status} testId="deployment-card-status" />
            <PeerRoleBadge role={d.delivery_role} testId="deployment-card-role" />
            <IdentifyBadge deployment={d} now={now} />
            <CardFlagBadges deployment={d} />
          </div>
        </div>
        <ProgressBar
          value={progress}
          label={`${d.hostname} progress`}
          variant={isServing ? 'info' : barVariantOf(DEPLOYMENT_VARIANT[d.status])}
          striped={!isFinal || isServing}
          moving={d.status === 'downloading' && d.rate_bps > 0}
          testId={`deployment-progress-${d.id}`}
          height={10}
        />
        <div className="d-flex justify-content-between small mt-1">
          <span className="fw-semibold" data-testid="deployment-card-percent">{Math.round(progress)} %</span>
          <span className="text-body-secondary" data-testid="deployment-card-rate">{d.status === 'downloading' ? formatRate(d.rate_bps) : ''}</span>
        </div>
        {(showBytes || hasShare) && (
          <div className="small text-body-secondary mt-1 d-flex flex-wrap justify-content-between column-gap-2">
            {showBytes && (
              <span>
                {formatBytes(d.bytes_done)} of {formatBytes(d.bytes_total)}
                {eta !== null && <> · <span data-testid="deployment-card-eta">{formatDuration(eta)} left</span></>}
              </span>
            )}
            <PeerShareText deployment={d} className="ms-auto text-nowrap" testId="deployment-card-peers" />
          </div>
        )}
        {d.status === 'failed' && (
          <div className="small text-danger mt-1" data-testid="deployment-card-failure">{describeFailure(d.error_message, d.error_code).sentence}</div>
        )}
        {d.status === 'failed' && d.error_message && (
          <div className="small text-body-secondary mt-1 text-break pc-clamp-2" title={d.error_message} data-testid="deployment-card-error">{d.error_message}</div>
        )}
        {d.status === 'superseded' && d.message && (
          <div className="small text-body-secondary mt-1 text-break" data-testid="deployment-card-superseded">{d.message}</div>
        )}
        {!isFinal && d.message && <div className="small mt-1 text-truncate" title={d.message}>{d.message}</div>}
        {warnings.map((warning) => (
          <div key={warning} className="small text-warning-emphasis mt-1 text-break" data-testid="deployment-card-warning">⚠ {warning}</div>
        ))}
      </div>
      <div className="card-footer bg-transparent small text-body-secondary d-flex justify-content-between flex-wrap gap-1">
        <span className="font-monospace">{d.serial_number ?? d.mac_address ?? '—'}</span>
        {!isFinal && <IdentifyButton deployment={d} className="btn btn-link btn-sm p-0 link-info" />}
        <span>{isFinal ? `took ${formatDuration(elapsed)}` : `started ${formatAgo(d.started_at, now)}`}</span>
      </div>
    </div>
  );
});
