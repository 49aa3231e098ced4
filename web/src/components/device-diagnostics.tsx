// Identify and diagnose, wherever a device is shown: its card's flags (much slower than the fleet, or holding less
// than it claims), an Identify that blinks the board's LED, what the card is and measured, and the installer's log.
import { useState, type ReactNode } from 'react';
import { cardFlagsOf, identifyStateOf, writeRateShare, type CardFlagKind } from '../../../src/contracts/card-health.js';
import type { Deployment } from '../../../src/contracts/domain.js';
import { api } from '../api/api.client.js';
import { useResource } from '../api/use-resource.js';
import { useAuth } from '../auth/auth.context.js';
import { formatBytes, formatDateTime, formatRate } from '../../../src/contracts/format.js';
import { useToast } from './toast.provider.js';
import { Busy } from './ui.js';

const FLAG_LABEL = { slow: 'slow card', capacity: 'fake card?' } as const;

/** A badge per flag, its sentence on hover and for screen readers; `except` leaves out one a badge nearby says already. */
export function CardFlagBadges({ deployment, className = '', except }: { deployment: Deployment; className?: string; except?: CardFlagKind }) {
  const flags = cardFlagsOf(deployment).filter((flag) => flag.kind !== except);
  if (flags.length === 0) return null;
  return (
    <>
      {flags.map((flag) => (
        <span key={flag.kind} className={`badge ${flag.kind === 'capacity' ? 'text-bg-danger' : 'text-bg-warning'} ${className}`} title={flag.sentence} aria-label={flag.sentence} data-testid={`card-flag-${flag.kind}`}>
          {FLAG_LABEL[flag.kind]}
        </span>
      ))}
    </>
  );
}

/** "identifying" while the board blinks, "identify sent" while the request waits for its next report. */
export function IdentifyBadge({ deployment, now, className = '' }: { deployment: Deployment; now: number; className?: string }) {
  const state = identifyStateOf(deployment, now);
  if (!state) return null;
  return (
    <span
      className={`badge ${state === 'blinking' ? 'text-bg-info pc-identifying' : 'text-bg-light border'} ${className}`}
      title={state === 'blinking' ? 'Its activity LED is blinking: look for the board that blinks steadily' : 'Sent with the board\'s next status answer'}
      data-testid="identify-state"
      data-state={state}
    >
      {state === 'blinking' ? 'identifying' : 'identify sent'}
    </span>
  );
}

/** Asks the board to blink its activity LED (operators and admins). */
export function IdentifyButton({ deployment: d, className = 'btn btn-sm btn-outline-info' }: { deployment: Deployment; className?: string }) {
  const { can } = useAuth();
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  if (!can.canWrite || d.status === 'completed' || d.status === 'superseded') return null;
  const identify = async () => {
    setBusy(true);
    try {
      await api.deployments.identify(d.id);
      toast.success(`${d.hostname} blinks its activity LED for 30 s from its next report.`);
    } catch (error) {
      toast.error(error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <button type="button" className={className} disabled={busy} onClick={() => void identify()} data-testid="identify-button" title="Blink the board's activity LED for 30 s, so you can find it">
      <Busy busy={busy}>Identify</Busy>
    </button>
  );
}

/** Rows for a device's detail: the card, its rates against the fleet, its capacity check. */
export function cardRows(d: Deployment): Array<[string, ReactNode]> {
  if (d.card_kind === null && d.card_write_bps === null) return [];
  const share = writeRateShare(d);
  const card = [d.card_manufacturer, d.card_name].filter(Boolean).join(' ') || '—';
  const rows: Array<[string, ReactNode]> = [
    ['Card', <span data-testid="card-identity">{card}{d.card_kind && <span className="text-body-secondary"> ({d.card_kind.toUpperCase()}{d.card_size_bytes !== null && `, ${formatBytes(d.card_size_bytes)}`})</span>}</span>],
    ['Card serial', <code>{d.card_serial ?? '—'}</code>],
    [
      'Card write rate',
      <span data-testid="card-write-rate">
        {d.card_write_bps !== null ? formatRate(d.card_write_bps) : '—'}
        {share !== null && <span className="text-body-secondary"> · {Math.round(share * 100)} % of the fleet's median ({formatRate(d.fleet_median_write_bps)})</span>}
      </span>,
    ],
    ['Card read-back rate', d.card_read_bps !== null ? formatRate(d.card_read_bps) : '—'],
  ];
  if (d.card_cid) rows.push(['Card CID', <code className="text-break small">{d.card_cid}</code>]);
  if (d.card_capacity_check && d.card_capacity_check !== 'skipped') {
    rows.push(['Capacity check', d.card_capacity_check === 'ok' ? 'passed' : d.card_capacity_check === 'wrapped' ? 'failed: the card wraps around (counterfeit)' : 'failed: writes near its end were lost (counterfeit)']);
  }
  return rows;
}

function LogText({ deploymentId }: { deploymentId: number }) {
  const log = useResource((signal) => api.deployments.log(deploymentId, signal), [deploymentId]);
  if (log.loading) return <div className="small text-body-secondary">Loading…</div>;
  if (log.error) return <div className="small text-body-secondary" data-testid="installer-log-missing">{log.error.message}</div>;
  const data = log.data!;
  return (
    <>
      <div className="small text-body-secondary mb-1 d-flex flex-wrap gap-2 align-items-center">
        <span>
          {data.kind === 'full' ? 'The whole log, sent when the installation failed' : 'The last lines, sent with the completed report'}
          {data.kind === 'full' && data.truncated && ' (its oldest lines dropped to stay within 256 KiB)'} · {formatDateTime(data.received_at)}
        </span>
        <a className="ms-auto" href={api.deployments.logDownloadUrl(deploymentId)} download data-testid="installer-log-download">Download</a>
      </div>
      <pre className="small bg-body-tertiary border rounded p-2 mb-0 pc-installer-log" style={{ maxHeight: '18rem', overflow: 'auto', whiteSpace: 'pre-wrap', wordBreak: 'break-all' }} data-testid="installer-log-text">
        {data.text}
      </pre>
    </>
  );
}

/** The installer's log behind a toggle: fetched only when someone opens it. */
export function InstallerLogView({ deploymentId }: { deploymentId: number }) {
  const [open, setOpen] = useState(false);
  return (
    <div className="mt-2" data-testid="installer-log">
      <button type="button" className="btn btn-link btn-sm px-0" aria-expanded={open} onClick={() => setOpen((o) => !o)} data-testid="installer-log-toggle">
        {open ? 'Hide installer log' : 'Installer log'}
      </button>
      {open && <LogText deploymentId={deploymentId} />}
    </div>
  );
}
