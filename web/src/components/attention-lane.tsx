// "Needs attention": the devices on the floor that wait for a person — failed, silent while unfinished, written but
// never checked in from their first boot, or written on a card the capacity check proved counterfeit — at the top of
// the dashboard, each with what happened in plain words, the installer's own words behind a toggle, and what
// can be done about it. A device stays until someone acts (or it asks for its configuration again).
import { memo, useState } from 'react';
import { attentionSentences, type AttentionReason, type OperatorResolution } from '../../../src/contracts/attention.js';
import { NOT_BOOTED_CAUSES } from '../../../src/contracts/checkin.js';
import type { Deployment } from '../../../src/contracts/domain.js';
import { api } from '../api/api.client.js';
import { useAuth } from '../auth/auth.context.js';
import { formatAgo, formatDateTime } from '../../../src/contracts/format.js';
import { useConfirm } from './modal.js';
import { useToast } from './toast.provider.js';
import { Busy, StatusBadge } from './ui.js';
import { CardFlagBadges, cardRows, IdentifyBadge, IdentifyButton, InstallerLogView } from './device-diagnostics.js';

/** A long failure list pushes the live view off the screen: the rest is one click away. */
const SHOWN_AT_FIRST = 4;

export interface AttentionItem {
  deployment: Deployment;
  reason: AttentionReason;
}

type Action = OperatorResolution | 'release' | 'retire';

function Detail({ deployment: d, reason }: { deployment: Deployment; reason: AttentionReason }) {
  const rows: Array<[string, React.ReactNode]> = [
    ...(reason === 'not-booted' ? ([['Written', formatDateTime(d.completed_at)], ['Check-in due', formatDateTime(d.checkin_due_at)]] as Array<[string, string]>) : []),
    ...(reason === 'counterfeit-card' ? ([['Written', formatDateTime(d.completed_at)]] as Array<[string, string]>) : []),
    ['Installer said', d.error_message],
    ['Last step', d.message],
    ['Last status', `${d.status} at ${Math.round(d.progress)} %`],
    ['Last report', formatDateTime(d.updated_at)],
    ['Serial', d.serial_number],
    ['MAC', d.mac_address],
    ['IP address', d.ip_address],
    ['Image', d.image_version && `${d.image_version} · ${d.image_checksum ?? ''}`],
  ];
  return (
    <div className="mt-2" data-testid="attention-detail">
      {reason === 'not-booted' && (
        <div className="small mb-2" data-testid="attention-causes">
          <div className="fw-semibold">Likely causes</div>
          <ul className="mb-1 ps-3">{NOT_BOOTED_CAUSES.map((cause) => <li key={cause}>{cause}</li>)}</ul>
        </div>
      )}
      <dl className="row g-0 small mb-0 pc-attention-detail">
        {[...rows.filter(([, value]) => Boolean(value)).map(([label, value]): [string, React.ReactNode] => [label, <code className="text-body">{value}</code>]), ...cardRows(d)].map(([label, value]) => (
          <div key={label} style={{ display: 'contents' }}>
            <dt className="col-4 col-sm-3 fw-normal text-body-secondary pe-2">{label}</dt>
            <dd className="col-8 col-sm-9 mb-1">{value}</dd>
          </div>
        ))}
      </dl>
      <InstallerLogView deploymentId={d.id} />
    </div>
  );
}

/** Why it is on the lane, where its status does not say it: a failure's status does. */
const REASON_BADGE: Record<Exclude<AttentionReason, 'failed'>, { label: string; variant: string }> = {
  stalled: { label: 'stalled', variant: 'warning' },
  'not-booted': { label: 'not booted', variant: 'danger' },
  'counterfeit-card': { label: 'counterfeit card', variant: 'danger' },
};

function ReasonBadge({ deployment, reason }: { deployment: Deployment; reason: AttentionReason }) {
  if (reason === 'failed') return <StatusBadge kind="deployment" status={deployment.status} testId="attention-reason" />;
  const { label, variant } = REASON_BADGE[reason];
  return <span className={`badge text-bg-${variant}`} data-testid="attention-reason">{label}</span>;
}

const AttentionCard = memo(function AttentionCard({ deployment: d, reason, now }: { deployment: Deployment; reason: AttentionReason; now: number }) {
  const { can } = useAuth();
  const toast = useToast();
  const confirm = useConfirm();
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState<Action | null>(null);
  const [sentence, ...cardSentences] = attentionSentences(d, reason, now);

  const act = async (action: Action) => {
    if (action === 'release' || action === 'retire') {
      const ok = await confirm({
        title: action === 'release' ? `Release ${d.hostname}?` : `Retire ${d.hostname}?`,
        body:
          action === 'release'
            ? 'The name goes back to its venue\'s pool and the next device may receive it. This board gets a new name if it asks again.'
            : 'The name is never handed out again. This board gets a new name if it asks again.',
        confirmLabel: action === 'release' ? 'Release' : 'Retire',
        variant: action === 'release' ? 'warning' : 'danger',
      });
      if (!ok) return;
    }
    setBusy(action);
    try {
      if (action === 'release') await api.pool.releaseHostname(d.hostname);
      if (action === 'retire') await api.pool.retireHostname(d.hostname);
      // Whatever was done about it, the device no longer waits for a person.
      await api.deployments.resolveAttention(d.id, action === 'reimage' ? 'reimage' : 'acknowledged');
      toast.success(
        action === 'reimage'
          ? `${d.hostname} will re-image on its next boot, keeping its name: power-cycle it on the deployment network.`
          : action === 'release'
            ? `${d.hostname} is free for the next device.`
            : action === 'retire'
              ? `${d.hostname} is retired.`
              : `${d.hostname} acknowledged.`,
      );
    } catch (error) {
      toast.error(error);
      setBusy(null);
    }
  };

  return (
    <div className={`card h-100 border-0 border-start border-4 shadow-sm ${reason === 'stalled' ? 'border-warning' : 'border-danger'}`} data-testid={`attention-item-${d.id}`} data-hostname={d.hostname} data-reason={reason}>
      <div className="card-body py-2">
        <div className="d-flex flex-wrap align-items-center justify-content-between gap-1">
          <span className="font-monospace fw-semibold fs-6 text-break">{d.hostname}</span>
          <span className="d-flex align-items-center gap-1">
            <IdentifyBadge deployment={d} now={now} />
            {/* The reason's badge says it of a counterfeit card, without the flag's doubt ("fake card?"). */}
            <CardFlagBadges deployment={d} except={reason === 'counterfeit-card' ? 'capacity' : undefined} />
            <ReasonBadge deployment={d} reason={reason} />
            <span className="small text-body-secondary text-nowrap">{formatAgo(reason === 'not-booted' || reason === 'counterfeit-card' ? (d.completed_at ?? d.updated_at) : d.updated_at, now)}</span>
          </span>
        </div>
        <div className="small text-body-secondary">
          {d.venue_code} · {d.product_type}{d.batch_id !== null && <> · batch #{d.batch_id}</>}
        </div>
        <p className="mb-1 mt-1 lh-sm" data-testid="attention-sentence">{sentence}</p>
        {cardSentences.map((text) => (
          <p key={text} className="mb-1 lh-sm small text-danger-emphasis" data-testid="attention-card-sentence">{text}</p>
        ))}
        {/* The two everyday actions as buttons; what gives the name up is quieter, and asks first. */}
        <div className="d-flex flex-wrap align-items-center column-gap-2 row-gap-1">
          {can.canWrite && (
            <>
              <button type="button" className="btn btn-sm btn-primary" disabled={busy !== null} onClick={() => void act('reimage')} data-testid="attention-reimage" title="It keeps its hostname and starts over when it next boots on the deployment network">
                <Busy busy={busy === 'reimage'}>Re-image</Busy>
              </button>
              <button type="button" className="btn btn-sm btn-outline-secondary" disabled={busy !== null} onClick={() => void act('acknowledged')} data-testid="attention-acknowledge">
                <Busy busy={busy === 'acknowledged'}>Acknowledge</Busy>
              </button>
              <IdentifyButton deployment={d} />
              <button type="button" className="btn btn-link btn-sm px-0 link-warning" disabled={busy !== null} onClick={() => void act('release')} data-testid="attention-release">
                <Busy busy={busy === 'release'}>Release name</Busy>
              </button>
              <button type="button" className="btn btn-link btn-sm px-0 link-danger" disabled={busy !== null} onClick={() => void act('retire')} data-testid="attention-retire">
                <Busy busy={busy === 'retire'}>Retire name</Busy>
              </button>
            </>
          )}
          <button type="button" className="btn btn-link btn-sm px-0 ms-auto" aria-expanded={open} onClick={() => setOpen((o) => !o)} data-testid="attention-details-toggle">
            {open ? 'Hide detail' : 'Detail'}
          </button>
        </div>
        {open && <Detail deployment={d} reason={reason} />}
      </div>
    </div>
  );
});

export function AttentionLane({ items, now }: { items: readonly AttentionItem[]; now: number }) {
  const [showAll, setShowAll] = useState(false);
  if (items.length === 0) {
    return (
      <div className="small text-success-emphasis mb-3 d-flex align-items-center gap-2" data-testid="attention-none">
        <span aria-hidden="true">✓</span> No device needs attention.
      </div>
    );
  }
  const shown = showAll ? items : items.slice(0, SHOWN_AT_FIRST);
  return (
    <section aria-labelledby="attention-heading" className="mb-4" data-testid="attention-lane" id="attention">
      <h2 className="h5 d-flex align-items-center gap-2" id="attention-heading">
        Needs attention <span className="badge text-bg-danger" data-testid="attention-count">{items.length}</span>
      </h2>
      <div className="row g-2">
        {shown.map((item) => (
          <div className="col-12 col-lg-6 col-xxl-4 pc-col-wide-3" key={item.deployment.id}>
            <AttentionCard deployment={item.deployment} reason={item.reason} now={now} />
          </div>
        ))}
      </div>
      {items.length > SHOWN_AT_FIRST && (
        <button type="button" className="btn btn-link btn-sm px-0 mt-1" onClick={() => setShowAll((all) => !all)} data-testid="attention-show-all">
          {showAll ? 'Show fewer' : `Show all ${items.length}`}
        </button>
      )}
    </section>
  );
}
