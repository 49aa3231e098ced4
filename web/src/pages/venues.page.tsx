// The venues Pitcrew deploys to, with each one's hostname pool at a glance.
import { useEffect, useMemo, useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import type { PoolCounts, Venue } from '../../../src/contracts/domain.js';
import { api } from '../api/api.client.js';
import { useResource } from '../api/use-resource.js';
import { usePermissions } from '../auth/auth.context.js';
import { formatDateTime } from '../../../src/contracts/format.js';
import { useConfirm } from '../components/modal.js';
import { useToast } from '../components/toast.provider.js';
import { EmptyState, ErrorAlert, Loading, PageHeader } from '../components/ui.js';
import { VenueFormModal } from '../components/venue-form.js';
import { useLiveEvent, useLiveReload } from '../live/live.hooks.js';

export function VenuesPage() {
  const can = usePermissions();
  const toast = useToast();
  const confirm = useConfirm();
  const navigate = useNavigate();
  const venues = useResource((signal) => api.venues.list(signal), []);
  const [counts, setCounts] = useState<Record<string, PoolCounts>>({});
  const [editing, setEditing] = useState<Venue | 'new' | null>(null);
  const [filter, setFilter] = useState('');

  useLiveReload(['venue_changed'], venues.reload);
  useLiveEvent('pool_changed', (event) => setCounts((c) => ({ ...c, [event.venue_code]: event.counts })));

  // Pool counts per venue: one small request each, in parallel, refreshed with the list.
  const codes = (venues.data?.venues ?? []).map((v) => v.code).join(',');
  useEffect(() => {
    if (!codes) return;
    const controller = new AbortController();
    for (const code of codes.split(',')) {
      api.venues
        .stats(code, controller.signal)
        .then((stats) => setCounts((c) => ({ ...c, [code]: stats })))
        .catch(() => undefined);
    }
    return () => controller.abort();
  }, [codes, venues.data]);

  const list = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    const all = venues.data?.venues ?? [];
    return needle ? all.filter((v) => [v.code, v.name, v.location ?? '', v.contact_email ?? ''].some((s) => s.toLowerCase().includes(needle))) : all;
  }, [venues.data, filter]);

  const remove = async (venue: Venue) => {
    const ok = await confirm({
      title: `Delete venue ${venue.code}?`,
      body: <>This removes <strong>{venue.name}</strong> and its unused kart numbers. A venue with assigned hostnames, open batches or deployment history cannot be deleted.</>,
      confirmLabel: 'Delete venue',
    });
    if (!ok) return;
    try {
      await api.venues.remove(venue.code);
      toast.success(`Venue ${venue.code} deleted.`);
      venues.reload();
    } catch (error) {
      toast.error(error, `Venue ${venue.code} was not deleted`);
    }
  };

  return (
    <>
      <PageHeader
        title="Venues"
        subtitle="Tracks and sites whose devices Pitcrew names and images"
        actions={can.canWrite && <button type="button" className="btn btn-primary" onClick={() => setEditing('new')} data-testid="venue-create">New venue</button>}
      />
      <ErrorAlert error={venues.error} onRetry={venues.reload} />
      {venues.loading ? (
        <Loading />
      ) : (venues.data?.venues.length ?? 0) === 0 ? (
        <EmptyState
          title="No venues yet"
          action={can.canWrite && <button type="button" className="btn btn-primary" onClick={() => setEditing('new')}>Create the first venue</button>}
        >
          A venue's 4-character code goes into every hostname it receives (KXP2-CORO-007). Create one, import its kart numbers, then start a batch.
        </EmptyState>
      ) : (
        <div className="card shadow-sm border-0">
          <div className="card-body pb-0">
            <label className="visually-hidden" htmlFor="venue-filter">Filter venues</label>
            <input id="venue-filter" className="form-control" placeholder="Filter by code, name, location…" value={filter} onChange={(e) => setFilter(e.target.value)} data-testid="venue-filter" />
          </div>
          <div className="table-responsive">
            <table className="table table-hover align-middle mb-0 mt-2" data-testid="venues-table">
              <thead>
                <tr>
                  <th scope="col">Code</th>
                  <th scope="col">Name</th>
                  <th scope="col" className="d-none d-md-table-cell">Location</th>
                  <th scope="col">Kart numbers</th>
                  <th scope="col" className="d-none d-lg-table-cell">Created</th>
                  <th scope="col"><span className="visually-hidden">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {list.map((v) => {
                  const c = counts[v.code];
                  return (
                    <tr key={v.code} data-testid={`venue-row-${v.code}`}>
                      <td><Link to={`/venues/${v.code}`} className="font-monospace fw-semibold">{v.code}</Link></td>
                      <td>{v.name}</td>
                      <td className="d-none d-md-table-cell">{v.location ?? <span className="text-body-secondary">—</span>}</td>
                      <td data-testid={`venue-pool-${v.code}`}>
                        {c ? (
                          <span className="small">
                            <span className="text-success fw-semibold">{c.available}</span> free · {c.assigned} assigned
                            {c.retired > 0 && <> · {c.retired} retired</>}
                          </span>
                        ) : (
                          <span className="text-body-secondary">…</span>
                        )}
                      </td>
                      <td className="d-none d-lg-table-cell small">{formatDateTime(v.created_at)}</td>
                      <td className="text-end text-nowrap">
                        <button type="button" className="btn btn-sm btn-outline-secondary me-1" onClick={() => void navigate(`/venues/${v.code}`)}>Open</button>
                        {can.canWrite && (
                          <>
                            <button type="button" className="btn btn-sm btn-outline-primary me-1" onClick={() => setEditing(v)} data-testid={`venue-edit-${v.code}`}>Edit</button>
                            {c && c.assigned === 0 && (
                              <button type="button" className="btn btn-sm btn-outline-danger" onClick={() => void remove(v)} data-testid={`venue-delete-${v.code}`}>Delete</button>
                            )}
                          </>
                        )}
                      </td>
                    </tr>
                  );
                })}
                {list.length === 0 && (
                  <tr><td colSpan={6} className="text-center text-body-secondary py-4">No venue matches “{filter}”.</td></tr>
                )}
              </tbody>
            </table>
          </div>
        </div>
      )}
      {editing && (
        <VenueFormModal
          venue={editing === 'new' ? undefined : editing}
          onClose={() => setEditing(null)}
          onSaved={(venue) => {
            setEditing(null);
            venues.reload();
            if (editing === 'new') void navigate(`/venues/${venue.code}`);
          }}
        />
      )}
    </>
  );
}
