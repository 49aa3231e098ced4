// The compact live view: one line per device, for a floor of two hundred boards on a screen across the room or a
// phone in the hand. Rows are memoised on their deployment record, so a report re-renders one row, not the table;
// bars never animate (a moving stripe on every row costs more than all the rest of the page).
import { memo, useMemo } from 'react';
import type { Deployment } from '../../../src/contracts/domain.js';
import { formatDuration, formatRate } from '../../../src/contracts/format.js';
import { compareRows, FLOOR_STATES, floorStateOf, etaOf, progressOf, SORT_KEYS, type FleetRow, type FloorState, type SortKey } from './fleet.js';
import { PeerRoleBadge, PeerShareText } from './peer-delivery.js';
import { barVariantOf, DEPLOYMENT_VARIANT, FilterSelect, ProgressBar } from './ui.js';
import { CardFlagBadges, IdentifyBadge } from './device-diagnostics.js';

export interface FleetFilters {
  state: string;
  venue: string;
  batch: string;
  search: string;
  sort: string;
  dir: string;
}

const STATE_VARIANT: Record<FloorState, string> = {
  imaging: 'primary',
  stalled: 'warning',
  serving: 'info',
  completed: DEPLOYMENT_VARIANT.completed,
  failed: DEPLOYMENT_VARIANT.failed,
  superseded: DEPLOYMENT_VARIANT.superseded,
};
/** The step inside "imaging", in the installer's words. */
const STEP: Partial<Record<Deployment['status'], string>> = { assigned: 'starting', downloading: 'downloading', verifying: 'verifying', customizing: 'customising' };

const COLUMNS: ReadonlyArray<{ key: SortKey | null; label: string; className?: string }> = [
  { key: 'hostname', label: 'Hostname' },
  { key: 'state', label: 'State' },
  { key: 'progress', label: 'Progress', className: 'pc-fleet-progress' },
  { key: 'rate', label: 'Rate', className: 'd-none d-md-table-cell text-end' },
  { key: null, label: 'Source', className: 'd-none d-lg-table-cell' },
  { key: 'eta', label: 'ETA', className: 'text-end' },
  { key: null, label: 'Venue · batch', className: 'd-none d-xl-table-cell' },
];

const FleetTableRow = memo(function FleetTableRow({ deployment: d, state }: { deployment: Deployment; state: FloorState }) {
  const progress = progressOf(d);
  const eta = etaOf(d);
  return (
    <tr data-testid={`fleet-row-${d.id}`} data-hostname={d.hostname} data-status={d.status} data-state={state} data-progress={Math.round(progress)} className={`pc-fleet-${state}`}>
      <td className="font-monospace text-nowrap fw-semibold" data-testid="fleet-hostname">{d.hostname}</td>
      <td className="text-nowrap">
        <span className={`badge text-bg-${STATE_VARIANT[state]}`} data-testid="fleet-state">{state}</span>
        {state === 'imaging' && STEP[d.status] && <span className="small text-body-secondary ms-1 d-none d-sm-inline">{STEP[d.status]}</span>}
        {d.delivery_role === 'receiving' && <span className="ms-1 d-none d-lg-inline"><PeerRoleBadge role={d.delivery_role} /></span>}
        {d.attention_resolution === 'reimage' && <span className="badge text-bg-light border ms-1" title="An operator asked for a re-image: it starts over when it next boots">will re-image on next boot</span>}
        {/* The row renders again with each report: the clock of that moment is fine for a 30 s blink. */}
        <IdentifyBadge deployment={d} now={Date.now()} className="ms-1" />
        <CardFlagBadges deployment={d} className="ms-1" />
      </td>
      <td>
        <div className="d-flex align-items-center gap-2">
          <div className="flex-grow-1 d-none d-sm-block">
            <ProgressBar value={progress} label={`${d.hostname} progress`} variant={barVariantOf(STATE_VARIANT[state])} height={8} />
          </div>
          <span className="pc-num text-end" data-testid="fleet-percent">{Math.round(progress)} %</span>
        </div>
      </td>
      <td className="d-none d-md-table-cell text-end text-nowrap pc-num">{d.status === 'downloading' && d.rate_bps > 0 ? formatRate(d.rate_bps) : ''}</td>
      <td className="d-none d-lg-table-cell text-nowrap small">
        <PeerShareText deployment={d} suffix=" peers" empty={d.bytes_done > 0 || d.status === 'downloading' ? <span className="text-body-secondary">server</span> : null} />
      </td>
      <td className="text-end text-nowrap pc-num" data-testid="fleet-eta">{eta !== null ? formatDuration(eta) : ''}</td>
      <td className="d-none d-xl-table-cell text-nowrap small text-body-secondary">
        {d.venue_code}{d.batch_id !== null && <> · #{d.batch_id}</>}
      </td>
    </tr>
  );
});

const isSortKey = (text: string): text is SortKey => (SORT_KEYS as readonly string[]).includes(text);

export function FleetTable({ deployments, now, filters, onFilters }: {
  deployments: readonly Deployment[];
  now: number;
  filters: FleetFilters;
  onFilters: (patch: Partial<FleetFilters>) => void;
}) {
  const sortKey: SortKey = isSortKey(filters.sort) ? filters.sort : 'state';
  const descending = filters.dir === 'desc';

  // Choices come from the devices on the board, so the lists hold nothing that would show an empty table.
  const venues = useMemo(() => [...new Set(deployments.map((d) => d.venue_code))].sort(), [deployments]);
  const batches = useMemo(() => [...new Set(deployments.flatMap((d) => (d.batch_id === null ? [] : [d.batch_id])))].sort((a, b) => a - b), [deployments]);

  const rows = useMemo(() => {
    const search = filters.search.trim().toUpperCase();
    const list: FleetRow[] = [];
    for (const deployment of deployments) {
      const state = floorStateOf(deployment, now);
      if (state === 'superseded') continue;
      if (filters.state && state !== filters.state) continue;
      if (filters.venue && deployment.venue_code !== filters.venue) continue;
      if (filters.batch && String(deployment.batch_id) !== filters.batch) continue;
      if (search && ![deployment.hostname, deployment.serial_number ?? '', deployment.mac_address ?? ''].some((text) => text.toUpperCase().includes(search))) continue;
      list.push({ deployment, state });
    }
    return list.sort(compareRows(sortKey, descending));
  }, [deployments, now, filters.state, filters.venue, filters.batch, filters.search, sortKey, descending]);

  const sortBy = (key: SortKey) => onFilters({ sort: key, dir: key === sortKey && !descending ? 'desc' : '' });

  return (
    <div className="card shadow-sm border-0" data-testid="fleet-table">
      <div className="card-body py-2 d-flex flex-wrap align-items-end gap-2">
        <FilterSelect id="fleet-state" label="State" value={filters.state} onChange={(state) => onFilters({ state })} options={FLOOR_STATES} testId="fleet-filter-state" />
        <FilterSelect id="fleet-venue" label="Venue" value={filters.venue} onChange={(venue) => onFilters({ venue })} options={venues} testId="fleet-filter-venue" />
        <FilterSelect id="fleet-batch" label="Batch" value={filters.batch} onChange={(batch) => onFilters({ batch })} options={batches.map((id) => ({ value: String(id), label: `#${id}` }))} testId="fleet-filter-batch" />
        <div className="flex-grow-1" style={{ minWidth: '10rem', maxWidth: '22rem' }}>
          <label htmlFor="fleet-search" className="form-label small mb-1">Search</label>
          <input id="fleet-search" type="search" className="form-control form-control-sm" placeholder="Hostname, serial or MAC" value={filters.search} onChange={(e) => onFilters({ search: e.target.value })} data-testid="fleet-search" />
        </div>
        <div className="small text-body-secondary ms-auto pb-1" data-testid="fleet-shown">{rows.length} of {deployments.length} shown</div>
      </div>
      <div className="table-responsive">
        <table className="table table-sm table-hover align-middle mb-0 pc-fleet-table">
          <thead>
            <tr>
              {COLUMNS.map((column) => (
                <th
                  key={column.label}
                  scope="col"
                  className={`text-nowrap ${column.className ?? ''}`}
                  aria-sort={column.key === sortKey ? (descending ? 'descending' : 'ascending') : undefined}
                >
                  {column.key ? (
                    <button type="button" className="btn btn-link btn-sm p-0 text-reset text-decoration-none fw-semibold" onClick={() => sortBy(column.key!)} data-testid={`fleet-sort-${column.key}`}>
                      {column.label}
                      <span className="ms-1 text-body-secondary" aria-hidden="true">{column.key === sortKey ? (descending ? '▼' : '▲') : ''}</span>
                    </button>
                  ) : (
                    <span className="small fw-semibold">{column.label}</span>
                  )}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map(({ deployment, state }) => (
              <FleetTableRow key={deployment.id} deployment={deployment} state={state} />
            ))}
          </tbody>
        </table>
        {rows.length === 0 && <div className="text-center text-body-secondary small py-3" data-testid="fleet-none">No device matches these filters.</div>}
      </div>
    </div>
  );
}
