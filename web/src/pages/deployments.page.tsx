// Deployment history: every device ever imaged, filtered and paged on the server, exported as CSV with the
// same filters. Rows on screen follow live reports.
import { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import type { Deployment, DeploymentStatus, ProductType } from '../../../src/contracts/domain.js';
import { DEPLOYMENT_STATUSES, PRODUCT_TYPES } from '../../../src/contracts/domain.js';
import { attentionReasonOf, describeFailure } from '../../../src/contracts/attention.js';
import { api, type DeploymentFilters } from '../api/api.client.js';
import { useResource } from '../api/use-resource.js';
import { formatBytes, formatDateTime, formatDuration, formatRate } from '../../../src/contracts/format.js';
import { Modal } from '../components/modal.js';
import { describeShare, formatShare, peerShareOf, PeerRoleBadge, PeerShareText } from '../components/peer-delivery.js';
import { CardFlagBadges, cardRows, IdentifyBadge, IdentifyButton, InstallerLogView } from '../components/device-diagnostics.js';
import { useNow } from '../components/use-now.js';
import { EmptyState, ErrorAlert, Loading, PageHeader, DeploymentBar, Pagination, StatusBadge, FilterSelect } from '../components/ui.js';
import { useDebounced } from '../components/use-debounced.js';
import { pageOf, pageSizeOf, useSearchState } from '../components/use-search-state.js';
import { useDeploymentUpdates, useLiveReload } from '../live/live.hooks.js';
import { BootBadge } from '../components/boot-state.js';
import { BOOT_STATES, type BootState } from '../../../src/contracts/checkin.js';

const KEYS = ['venue', 'status', 'boot', 'product', 'from', 'to', 'search', 'page', 'limit'] as const;
const BOOT_OPTIONS = [
  { value: 'booted', label: 'Booted' },
  { value: 'awaiting', label: 'Awaiting boot' },
  { value: 'not-booted', label: 'Not booted' },
  { value: 'no-checkin', label: 'No check-in' },
] as const satisfies ReadonlyArray<{ value: BootState; label: string }>;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

const durationOf = (d: Deployment) => (d.completed_at ? (Date.parse(d.completed_at) - Date.parse(d.started_at)) / 1000 : null);

/** Its part in one-to-many delivery and where its chunks came from; "—" where it took no part. */
function PeerDeliveryDetail({ deployment: d }: { deployment: Deployment }) {
  if (d.delivery_role === null) return <span title="It took no part: an older installer, the raw image, or one-to-many off for its batch">—</span>;
  const share = peerShareOf(d);
  return (
    <span data-testid="deployment-detail-peers">
      <PeerRoleBadge role={d.delivery_role} />
      {share && <> {formatShare(share.ratio)} from peers <span className="text-body-secondary">({describeShare(share)})</span></>}
    </span>
  );
}

/** Who took the device off the dashboard's "needs attention" lane, and how; whether it waits there now. */
function describeResolution(d: Deployment, now: number): string {
  if (attentionReasonOf(d, now) !== null) return 'waiting on the dashboard';
  if (d.attention_resolved_at === null) return '—';
  const when = formatDateTime(d.attention_resolved_at);
  if (d.attention_resolution === 'reimage') return `will re-image on next boot (asked by ${d.attention_resolved_by ?? 'someone'}, ${when})`;
  if (d.attention_resolution === 'reimaged') return `re-imaged: the device asked again (${when})`;
  return `acknowledged by ${d.attention_resolved_by ?? 'someone'}, ${when}`;
}

/** Written vs booted, and what the system reported from its first boot. */
function FirstBootRows({ deployment: d, now }: { deployment: Deployment; now: number }) {
  const facts = useResource((signal) => (d.booted_at ? api.deployments.checkin(d.id, signal) : Promise.resolve({ checkin: null })), [d.id, d.booted_at]);
  const c = facts.data?.checkin;
  const rows: Array<[string, React.ReactNode]> = [
    ['First boot', <span data-testid="deployment-detail-boot"><BootBadge deployment={d} now={now} /> {d.booted_at ? formatDateTime(d.booted_at) : d.checkin_due_at ? `check-in due ${formatDateTime(d.checkin_due_at)}` : ''}</span>],
    ...(c
      ? ([
          ['Booted as', <span data-testid="deployment-detail-checkin"><code>{c.hostname}</code>{c.hostname !== d.hostname && <span className="text-danger"> (not {d.hostname})</span>}</span>],
          ['Booted system', `${c.os_release ?? 'unknown OS'} · image ${c.image_version ?? 'unknown'}`],
          ['Booted addresses', c.ip_addresses.length ? c.ip_addresses.join(', ') : '—'],
          ['Checked in', `${formatDateTime(c.received_at)} from ${c.source_ip ?? 'an unknown address'}`],
        ] as Array<[string, React.ReactNode]>)
      : []),
  ];
  return (
    <>
      {rows.map(([k, v]) => (
        <div className="contents" key={k} style={{ display: 'contents' }}>
          <dt className="col-4">{k}</dt>
          <dd className="col-8">{v}</dd>
        </div>
      ))}
    </>
  );
}

function DeploymentDetail({ deployment: d, onClose }: { deployment: Deployment; onClose: () => void }) {
  const now = useNow();
  const rows: Array<[string, React.ReactNode]> = [
    [
      'Status',
      <span className="d-inline-flex flex-wrap gap-1 align-items-center">
        <StatusBadge kind="deployment" status={d.status} />
        <IdentifyBadge deployment={d} now={now} />
        <CardFlagBadges deployment={d} />
        <IdentifyButton deployment={d} className="btn btn-sm btn-outline-info py-0" />
      </span>,
    ],
    ['Progress', `${Math.round(d.progress)} % · ${formatBytes(d.bytes_done)} of ${formatBytes(d.bytes_total)}`],
    ['Last rate', formatRate(d.rate_bps)],
    ['One-to-many', <PeerDeliveryDetail deployment={d} />],
    ['Venue', <Link to={`/venues/${d.venue_code}`}>{d.venue_code}</Link>],
    ['Product', d.product_type],
    ['Batch', d.batch_id !== null ? <Link to={`/batches/${d.batch_id}`}>#{d.batch_id}</Link> : '—'],
    ['Serial', <code>{d.serial_number ?? '—'}</code>],
    ['MAC', <code>{d.mac_address ?? '—'}</code>],
    ['IP address', d.ip_address ?? '—'],
    ['Image', d.image_version ?? '—'],
    ['Image SHA-256', <code className="text-break small">{d.image_checksum ?? '—'}</code>],
    ['Started', formatDateTime(d.started_at)],
    ['Last report', formatDateTime(d.updated_at)],
    ['Finished', formatDateTime(d.completed_at)],
    ['Duration', formatDuration(durationOf(d))],
    ['Message', d.message ?? '—'],
    ['Attention', describeResolution(d, now)],
    ...cardRows(d),
  ];
  return (
    <Modal title={<span className="font-monospace">{d.hostname}</span>} onClose={onClose} testId="deployment-detail">
      {d.status === 'failed' && (
        <div className="alert alert-danger" data-testid="deployment-detail-error">
          <div className="fw-semibold" data-testid="deployment-detail-sentence">{describeFailure(d.error_message, d.error_code).sentence}</div>
          {d.error_message && (
            <details className="small mt-1">
              <summary>Technical detail</summary>
              {/* Hashes and device paths are long unbroken words: they wrap inside the dialog. */}
              <code className="d-block text-break text-body mt-1" style={{ whiteSpace: 'pre-wrap' }}>{d.error_message}</code>
            </details>
          )}
        </div>
      )}
      <dl className="row small mb-0">
        {rows.map(([k, v]) => (
          <div className="contents" key={k} style={{ display: 'contents' }}>
            <dt className="col-4">{k}</dt>
            <dd className="col-8">{v}</dd>
          </div>
        ))}
        <FirstBootRows deployment={d} now={now} />
      </dl>
      <InstallerLogView deploymentId={d.id} />
    </Modal>
  );
}

export function DeploymentsPage() {
  const [params, update] = useSearchState(KEYS);
  const page = pageOf(params.page);
  const limit = pageSizeOf(params.limit);
  const [searchText, setSearchText] = useState(params.search);
  const search = useDebounced(searchText, 300);
  const [selected, setSelected] = useState<Deployment | null>(null);
  useEffect(() => {
    if (search !== params.search) update({ search });
    // Only a newly typed (debounced) search goes to the address; the address changing by itself (back button)
    // must not be written back.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [search]);

  const venues = useResource((signal) => api.venues.list(signal), []);
  const dateError = (params.from && !DAY.test(params.from)) || (params.to && !DAY.test(params.to))
    ? 'Dates are YYYY-MM-DD.'
    : params.from && params.to && params.from > params.to
      ? 'The “from” date is after the “to” date.'
      : null;
  const filters: DeploymentFilters = {
    venue: params.venue || undefined,
    status: (params.status || undefined) as DeploymentStatus | undefined,
    boot: (BOOT_STATES as readonly string[]).includes(params.boot) ? (params.boot as BootState) : undefined,
    product: (params.product || undefined) as ProductType | undefined,
    from: dateError ? undefined : params.from || undefined,
    to: dateError ? undefined : params.to || undefined,
    search: params.search || undefined,
  };
  const list = useResource((signal) => api.deployments.list({ ...filters, page, limit }, signal), [params.venue, params.status, params.boot, params.product, params.from, params.to, params.search, page, limit, dateError]);

  const now = useNow(30_000);
  useDeploymentUpdates((deployment) => {
    list.setData((data) => {
      if (!data || !data.items.some((d) => d.id === deployment.id)) return data;
      return { ...data, items: data.items.map((d) => (d.id === deployment.id && d.updated_at <= deployment.updated_at ? deployment : d)) };
    });
    setSelected((s) => (s && s.id === deployment.id ? deployment : s));
  });
  // A new device appears at the top of page one; other pages keep still while being read.
  useLiveReload(['hostname_assigned'], list.reload, { when: () => page === 1, delayMs: 1000 });

  const hasFilters = KEYS.some((k) => k !== 'page' && k !== 'limit' && params[k]);
  const items = list.data?.items ?? [];

  return (
    <>
      <PageHeader
        title="Deployments"
        subtitle="Every device Pitcrew has imaged"
        actions={
          <a className="btn btn-outline-primary" href={api.deployments.csvUrl(filters)} download data-testid="deployments-csv">
            Export CSV
          </a>
        }
      />
      <div className="card shadow-sm border-0">
        <div className="card-body">
          <div className="row g-2 align-items-end" role="search">
            <div className="col-12 col-md-2">
              <label htmlFor="dep-search" className="form-label small mb-1">Search</label>
              <input id="dep-search" type="search" className="form-control form-control-sm" placeholder="Hostname, serial or MAC" value={searchText} onChange={(e) => setSearchText(e.target.value)} data-testid="dep-filter-search" />
            </div>
            <FilterSelect id="dep-venue" label="Venue" value={params.venue} onChange={(value) => update({ venue: value })} options={(venues.data?.venues ?? []).map((v) => ({ value: v.code, label: v.code }))} testId="dep-filter-venue" className="col-6 col-md-1" />
            <FilterSelect id="dep-status" label="Status" value={params.status} onChange={(value) => update({ status: value })} options={DEPLOYMENT_STATUSES} testId="dep-filter-status" className="col-6 col-md-2" />
            <FilterSelect id="dep-boot" label="First boot" value={params.boot} onChange={(value) => update({ boot: value })} options={BOOT_OPTIONS} testId="dep-filter-boot" className="col-6 col-md-2" />
            <FilterSelect id="dep-product" label="Product" value={params.product} onChange={(value) => update({ product: value })} options={PRODUCT_TYPES} testId="dep-filter-product" className="col-4 col-md-1" />
            <div className="col-4 col-md-2">
              <label htmlFor="dep-from" className="form-label small mb-1">From</label>
              <input id="dep-from" type="date" className={`form-control form-control-sm${dateError ? ' is-invalid' : ''}`} value={params.from} onChange={(e) => update({ from: e.target.value })} data-testid="dep-filter-from" />
            </div>
            <div className="col-4 col-md-2">
              <label htmlFor="dep-to" className="form-label small mb-1">To</label>
              <input id="dep-to" type="date" className={`form-control form-control-sm${dateError ? ' is-invalid' : ''}`} value={params.to} onChange={(e) => update({ to: e.target.value })} data-testid="dep-filter-to" />
            </div>
          </div>
          {dateError && <div className="text-danger small mt-1" role="alert">{dateError}</div>}
          {hasFilters && <button type="button" className="btn btn-sm btn-link px-0 mt-1" onClick={() => { setSearchText(''); update({ venue: '', status: '', boot: '', product: '', from: '', to: '', search: '' }); }}>Clear filters</button>}
        </div>
        <ErrorAlert error={list.error} onRetry={list.reload} />
        {list.loading ? (
          <Loading />
        ) : items.length === 0 ? (
          hasFilters ? <EmptyState title="No deployment matches these filters">Widen the dates or clear a filter.</EmptyState> : <EmptyState title="No deployments yet">Devices are listed here from the moment they ask for their configuration.</EmptyState>
        ) : (
          <div className={`table-responsive${list.reloading ? ' pc-reloading' : ''}`}>
            <table className="table table-hover table-sm align-middle mb-0" data-testid="deployments-table">
              <thead>
                <tr>
                  <th scope="col">Hostname</th>
                  <th scope="col" className="d-none d-md-table-cell">Venue</th>
                  <th scope="col" className="d-none d-md-table-cell">Product</th>
                  <th scope="col">Status</th>
                  <th scope="col" title="Written vs booted: whether the card's system checked in from its first boot">Booted</th>
                  <th scope="col" className="d-none d-lg-table-cell" style={{ minWidth: 120 }}>Progress</th>
                  <th scope="col" className="d-none d-xl-table-cell">Serial / MAC</th>
                  <th scope="col" className="d-none d-xl-table-cell">Image</th>
                  <th scope="col" className="d-none d-lg-table-cell text-end" title="Share of its chunk bytes received from other devices rather than from the server">From peers</th>
                  <th scope="col">Started</th>
                  <th scope="col" className="d-none d-md-table-cell">Took</th>
                </tr>
              </thead>
              <tbody>
                {items.map((d) => (
                  <tr key={d.id} data-testid={`deployment-row-${d.id}`} data-hostname={d.hostname} data-status={d.status} className="pc-clickable" onClick={() => setSelected(d)}>
                    <td className="font-monospace">
                      <button type="button" className="btn btn-link p-0 font-monospace text-decoration-none" onClick={(e) => { e.stopPropagation(); setSelected(d); }}>{d.hostname}</button>
                      {d.status === 'failed' && d.error_message && <div className="small text-danger text-truncate" style={{ maxWidth: 260 }} title={d.error_message}>{d.error_message}</div>}
                      {d.status === 'superseded' && d.message && <div className="small text-body-secondary text-truncate" style={{ maxWidth: 260 }} title={d.message}>asked again; carries on under a newer deployment</div>}
                    </td>
                    <td className="d-none d-md-table-cell">{d.venue_code}</td>
                    <td className="d-none d-md-table-cell">{d.product_type}</td>
                    <td><StatusBadge kind="deployment" status={d.status} /></td>
                    <td><BootBadge deployment={d} now={now} testId={`deployment-boot-${d.id}`} /></td>
                    <td className="d-none d-lg-table-cell"><DeploymentBar deployment={d} /></td>
                    <td className="d-none d-xl-table-cell small font-monospace">{d.serial_number ?? d.mac_address ?? '—'}</td>
                    <td className="d-none d-xl-table-cell small">{d.image_version ?? '—'}</td>
                    <td className="d-none d-lg-table-cell small text-end text-nowrap">
                      <PeerShareText deployment={d} suffix="" testId={`deployment-peers-${d.id}`} empty={<span className="text-body-secondary">—</span>} />
                    </td>
                    <td className="small text-nowrap">{formatDateTime(d.started_at)}</td>
                    <td className="d-none d-md-table-cell small">{formatDuration(durationOf(d))}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <div className="card-body pt-0">
          {list.data && list.data.total > 0 && <Pagination page={page} limit={limit} total={list.data.total} onPage={(p) => update({ page: p })} onLimit={(l) => update({ limit: l })} testId="dep-pagination" />}
        </div>
      </div>
      {selected && <DeploymentDetail deployment={selected} onClose={() => setSelected(null)} />}
    </>
  );
}
