// Every hostname a venue owns: KXP2 kart numbers from the pool and RXP2 names derived from serials. Filtered and
// paged on the server, so a venue with thousands of numbers stays quick.
import { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import type { HostnameStatus, PoolEntry, ProductType } from '../../../src/contracts/domain.js';
import { HOSTNAME_STATUSES, PRODUCT_TYPES } from '../../../src/contracts/domain.js';
import { api } from '../api/api.client.js';
import { useResource } from '../api/use-resource.js';
import { usePermissions } from '../auth/auth.context.js';
import { formatAgo, formatDateTime } from '../../../src/contracts/format.js';
import { KartAddModal, KartImportModal } from '../components/kart-import.js';
import { useConfirm } from '../components/modal.js';
import { useToast } from '../components/toast.provider.js';
import { EmptyState, ErrorAlert, Loading, PageHeader, Pagination, StatusBadge, FilterSelect } from '../components/ui.js';
import { useDebounced } from '../components/use-debounced.js';
import { pageOf, pageSizeOf, useSearchState } from '../components/use-search-state.js';
import { useLiveReload } from '../live/live.hooks.js';

const KEYS = ['venue', 'product', 'status', 'search', 'page', 'limit', 'import'] as const;

export function KartNumbersPage() {
  const can = usePermissions();
  const toast = useToast();
  const confirm = useConfirm();
  const [params, update] = useSearchState(KEYS);
  const page = pageOf(params.page);
  const limit = pageSizeOf(params.limit);
  const [searchText, setSearchText] = useState(params.search);
  const search = useDebounced(searchText, 300);
  const [adding, setAdding] = useState(false);
  const [busyId, setBusyId] = useState<number | null>(null);

  useEffect(() => {
    if (search !== params.search) update({ search });
    // Only a newly typed (debounced) search goes to the address; the address changing by itself (back button)
    // must not be written back.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [search]);

  const venues = useResource((signal) => api.venues.list(signal), []);
  const query = {
    venue: params.venue || undefined,
    product: (params.product || undefined) as ProductType | undefined,
    status: (params.status || undefined) as HostnameStatus | undefined,
    search: params.search || undefined,
    page,
    limit,
  };
  const pool = useResource((signal) => api.pool.list(query, signal), [params.venue, params.product, params.status, params.search, page, limit]);
  useLiveReload(['pool_changed', 'hostname_assigned'], pool.reload, { delayMs: 600 });
  useLiveReload(['venue_changed'], venues.reload);

  const act = async (entry: PoolEntry, action: 'release' | 'retire' | 'remove') => {
    const words = {
      release: { title: `Release ${entry.hostname}?`, body: 'The device keeps its name until it is re-imaged, but the number goes back to the pool and can be handed to another device.', label: 'Release' },
      retire: { title: `Retire ${entry.hostname}?`, body: 'A retired number is never handed out again (a damaged kart, a number the venue stopped using).', label: 'Retire' },
      remove: { title: `Delete ${entry.hostname}?`, body: 'The number is removed from the pool. Only numbers that are available can be deleted.', label: 'Delete' },
    }[action];
    if (!(await confirm({ title: words.title, body: words.body, confirmLabel: words.label, variant: action === 'release' ? 'warning' : 'danger' }))) return;
    setBusyId(entry.id);
    try {
      if (action === 'release') await api.pool.release(entry.id);
      else if (action === 'retire') await api.pool.retire(entry.id);
      else await api.pool.remove(entry.id);
      toast.success(`${entry.hostname} ${action === 'remove' ? 'deleted' : action === 'release' ? 'released' : 'retired'}.`);
      pool.reload();
    } catch (error) {
      toast.error(error, `${entry.hostname} was not changed`);
    } finally {
      setBusyId(null);
    }
  };

  const venueList = venues.data?.venues ?? [];
  const hasFilters = Boolean(params.venue || params.product || params.status || params.search);
  const items = pool.data?.items ?? [];
  const noVenues = !venues.loading && venueList.length === 0;

  return (
    <>
      <PageHeader
        title="Kart numbers"
        subtitle="The hostname pool of every venue"
        actions={
          can.canWrite && !noVenues && (
            <>
              <button type="button" className="btn btn-primary" onClick={() => update({ import: '1' })} data-testid="kart-import-open">Bulk import</button>
              <button type="button" className="btn btn-outline-primary" onClick={() => setAdding(true)} data-testid="kart-add-open">Add number</button>
            </>
          )
        }
      />
      {noVenues ? (
        <EmptyState title="Create a venue first" action={<Link to="/venues" className="btn btn-primary">Go to venues</Link>}>Kart numbers belong to a venue.</EmptyState>
      ) : (
        <div className="card shadow-sm border-0">
          <div className="card-body">
            <div className="row g-2 align-items-end" role="search">
              <FilterSelect id="pool-venue" label="Venue" value={params.venue} onChange={(value) => update({ venue: value })} options={venueList.map((v) => ({ value: v.code, label: `${v.code} — ${v.name}` }))} allLabel="All venues" testId="pool-filter-venue" className="col-6 col-md-3" />
              <FilterSelect id="pool-product" label="Product" value={params.product} onChange={(value) => update({ product: value })} options={PRODUCT_TYPES} testId="pool-filter-product" className="col-6 col-md-2" />
              <FilterSelect id="pool-status" label="Status" value={params.status} onChange={(value) => update({ status: value })} options={HOSTNAME_STATUSES} testId="pool-filter-status" className="col-6 col-md-2" />
              <div className="col-6 col-md-3">
                <label htmlFor="pool-search" className="form-label small mb-1">Search</label>
                <input id="pool-search" type="search" className="form-control form-control-sm" placeholder="Hostname, serial, MAC" value={searchText} onChange={(e) => setSearchText(e.target.value)} data-testid="pool-filter-search" />
              </div>
              <div className="col-12 col-md-2 text-md-end">
                {hasFilters && <button type="button" className="btn btn-sm btn-link" onClick={() => { setSearchText(''); update({ venue: '', product: '', status: '', search: '' }); }}>Clear filters</button>}
              </div>
            </div>
          </div>
          <ErrorAlert error={pool.error} onRetry={pool.reload} />
          {pool.loading ? (
            <Loading />
          ) : items.length === 0 ? (
            hasFilters ? (
              <EmptyState title="Nothing matches these filters">Change or clear the filters above.</EmptyState>
            ) : (
              <EmptyState title="The pool is empty" action={can.canWrite && <button type="button" className="btn btn-primary" onClick={() => update({ import: '1' })}>Import kart numbers</button>}>
                KXP2 devices are named from a venue's kart numbers. Import them with ranges such as <code>1-20, 25</code>. RXP2 names appear here
                as boards are assigned.
              </EmptyState>
            )
          ) : (
            <div className={`table-responsive${pool.reloading ? ' pc-reloading' : ''}`}>
              <table className="table table-hover table-sm align-middle mb-0" data-testid="pool-table">
                <thead>
                  <tr>
                    <th scope="col">Hostname</th>
                    <th scope="col" className="text-end d-none d-sm-table-cell">Kart #</th>
                    <th scope="col" className="d-none d-md-table-cell">Venue</th>
                    <th scope="col">Status</th>
                    <th scope="col" className="d-none d-lg-table-cell">Device</th>
                    <th scope="col" className="d-none d-md-table-cell">Assigned</th>
                    {can.canWrite && <th scope="col"><span className="visually-hidden">Actions</span></th>}
                  </tr>
                </thead>
                <tbody>
                  {items.map((e) => (
                    <tr key={e.id} data-testid={`pool-row-${e.hostname}`} data-status={e.status}>
                      <td className="font-monospace text-nowrap">{e.hostname}</td>
                      <td className="text-end d-none d-sm-table-cell">{e.kart_number ?? '—'}</td>
                      <td className="d-none d-md-table-cell"><Link to={`/venues/${e.venue_code}`}>{e.venue_code}</Link></td>
                      <td><StatusBadge kind="pool" status={e.status} /></td>
                      <td className="d-none d-lg-table-cell small font-monospace">{e.serial_number ?? e.mac_address ?? <span className="text-body-secondary">—</span>}</td>
                      <td className="d-none d-md-table-cell small" title={formatDateTime(e.assigned_at)}>{e.assigned_at ? formatAgo(e.assigned_at) : '—'}</td>
                      {can.canWrite && (
                        <td className="text-end text-nowrap">
                          {e.status === 'assigned' && <button type="button" className="btn btn-sm btn-outline-warning me-1" disabled={busyId === e.id} onClick={() => void act(e, 'release')} data-testid={`pool-release-${e.hostname}`}>Release</button>}
                          {e.status !== 'retired' && e.product_type === 'KXP2' && <button type="button" className="btn btn-sm btn-outline-secondary me-1" disabled={busyId === e.id} onClick={() => void act(e, 'retire')} data-testid={`pool-retire-${e.hostname}`}>Retire</button>}
                          {e.status === 'available' && <button type="button" className="btn btn-sm btn-outline-danger" disabled={busyId === e.id} onClick={() => void act(e, 'remove')} data-testid={`pool-delete-${e.hostname}`}>Delete</button>}
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <div className="card-body pt-0">
            {pool.data && pool.data.total > 0 && (
              <Pagination page={page} limit={limit} total={pool.data.total} onPage={(p) => update({ page: p })} onLimit={(l) => update({ limit: l })} testId="pool-pagination" />
            )}
          </div>
        </div>
      )}
      {params.import === '1' && can.canWrite && venueList.length > 0 && (
        <KartImportModal
          venues={venueList}
          initialVenue={params.venue}
          onClose={() => update({ import: '' })}
          onImported={(venue) => {
            update({ import: '', venue, status: '', search: '' });
            setSearchText('');
            pool.reload();
          }}
        />
      )}
      {adding && (
        <KartAddModal
          venues={venueList}
          initialVenue={params.venue}
          onClose={() => setAdding(false)}
          onAdded={(venue) => {
            setAdding(false);
            update({ venue });
            pool.reload();
          }}
        />
      )}
    </>
  );
}
