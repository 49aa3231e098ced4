// The floor as numbers: each device's state as an operator names it, its time left, and the fleet's progress and
// time left as a whole. Pure functions, shared by the cards, the compact table and the fleet bar.
import { attentionReasonOf } from '../../../src/contracts/attention.js';
import { FINAL_DEPLOYMENT_STATUSES, type Deployment } from '../../../src/contracts/domain.js';

/** What the floor filter offers: the deployment statuses folded into what an operator looks for. */
export const FLOOR_STATES = ['imaging', 'stalled', 'serving', 'completed', 'failed'] as const;
export type FloorState = (typeof FLOOR_STATES)[number] | 'superseded';

export function floorStateOf(d: Deployment, nowMs: number): FloorState {
  if (d.status === 'failed') return 'failed';
  if (d.status === 'superseded') return 'superseded';
  if (d.status === 'completed') return d.delivery_role === 'serving' ? 'serving' : 'completed';
  return attentionReasonOf(d, nowMs) === 'stalled' ? 'stalled' : 'imaging';
}

/**
 * Seconds left for an unfinished device: its own estimate for its current phase where it sends one (installers with
 * image delivery v2), else the bytes left at the last rate; null when neither says.
 */
export function etaOf(d: Deployment): number | null {
  if (FINAL_DEPLOYMENT_STATUSES.includes(d.status)) return null;
  if (d.eta_s !== null) return d.eta_s;
  const remaining = Math.max(0, d.bytes_total - d.bytes_done);
  return d.rate_bps > 0 && d.bytes_total > 0 ? remaining / d.rate_bps : null;
}

export const progressOf = (d: Deployment): number => (d.status === 'completed' ? 100 : d.progress);

export interface FleetSummary {
  /** Devices on the board that count towards the fleet: imaging, serving or completed (not failed, not superseded). */
  devices: number;
  imaging: number;
  completed: number;
  failed: number;
  /** Mean progress of the counted devices, 0–100. */
  percent: number;
  /** Sum of the rates of those downloading, bytes per second. */
  rateBps: number;
  /** The slowest known estimate among the unfinished: when the last of them should be done. Null when none says. */
  etaS: number | null;
  /** Unfinished devices with no estimate yet (just assigned, or an installer that sends none). */
  withoutEta: number;
}

export function summarizeFleet(deployments: readonly Deployment[]): FleetSummary {
  const summary: FleetSummary = { devices: 0, imaging: 0, completed: 0, failed: 0, percent: 0, rateBps: 0, etaS: null, withoutEta: 0 };
  let progressSum = 0;
  for (const d of deployments) {
    if (d.status === 'failed') summary.failed++;
    if (d.status === 'failed' || d.status === 'superseded') continue;
    summary.devices++;
    progressSum += progressOf(d);
    if (d.status === 'completed') {
      summary.completed++;
      continue;
    }
    summary.imaging++;
    if (d.status === 'downloading') summary.rateBps += d.rate_bps;
    const eta = etaOf(d);
    if (eta === null) summary.withoutEta++;
    else summary.etaS = Math.max(summary.etaS ?? 0, eta);
  }
  summary.percent = summary.devices === 0 ? 0 : progressSum / summary.devices;
  return summary;
}

export const SORT_KEYS = ['hostname', 'state', 'progress', 'rate', 'eta', 'started'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

/** Failed and stalled first when sorting by state: the order of urgency, not of the alphabet. */
const STATE_ORDER: Record<FloorState, number> = { failed: 0, stalled: 1, imaging: 2, serving: 3, completed: 4, superseded: 5 };

export interface FleetRow {
  deployment: Deployment;
  state: FloorState;
}

/**
 * Hostnames in natural order (KXP2-CORO-9 before KXP2-CORO-10). One collator for all comparisons: localeCompare with
 * options builds one per call, and sorting 200 rows on every render spent most of the page's time doing that.
 */
const hostnameOrder = new Intl.Collator(undefined, { numeric: true }).compare;
const textOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Ascending comparators; a missing value (no rate, no estimate) sorts last either way round. */
export function compareRows(key: SortKey, descending: boolean): (a: FleetRow, b: FleetRow) => number {
  const sign = descending ? -1 : 1;
  const byNumber = (value: (row: FleetRow) => number | null) => (a: FleetRow, b: FleetRow) => {
    const x = value(a);
    const y = value(b);
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    return sign * (x - y);
  };
  const primary: (a: FleetRow, b: FleetRow) => number = {
    hostname: (a: FleetRow, b: FleetRow) => sign * hostnameOrder(a.deployment.hostname, b.deployment.hostname),
    state: (a: FleetRow, b: FleetRow) => sign * (STATE_ORDER[a.state] - STATE_ORDER[b.state]),
    progress: byNumber((row) => progressOf(row.deployment)),
    rate: byNumber((row) => (row.deployment.status === 'downloading' ? row.deployment.rate_bps : null)),
    eta: byNumber((row) => etaOf(row.deployment)),
    started: (a: FleetRow, b: FleetRow) => sign * textOrder(a.deployment.started_at, b.deployment.started_at),
  }[key];
  // Ties keep a stable order, so rows do not jump about between two reports.
  return (a, b) => primary(a, b) || hostnameOrder(a.deployment.hostname, b.deployment.hostname) || a.deployment.id - b.deployment.id;
}
