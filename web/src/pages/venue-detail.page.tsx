// One venue: its details, its hostname pool by product, its provisioning profile, its batches and its latest deployments.
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { OPEN_BATCH_STATUSES, type PoolCounts } from '../../../src/contracts/domain.js';
import { api } from '../api/api.client.js';
import { useResource } from '../api/use-resource.js';
import { usePermissions } from '../auth/auth.context.js';
import { BatchProgress, describeBatch } from '../components/batch-progress.js';
import { formatAgo, formatDateTime } from '../../../src/contracts/format.js';
import { useConfirm } from '../components/modal.js';
import { useToast } from '../components/toast.provider.js';
import { EmptyState, ErrorAlert, Loading, PageHeader, ProgressBar, StatusBadge } from '../components/ui.js';
import { VenueFormModal } from '../components/venue-form.js';
import { ProvisioningProfileCard } from '../components/provisioning-profile.js';
import { useLiveReload } from '../live/live.hooks.js';

function PoolCard({ title, counts, unreserved, testId, children }: { title: string; counts: PoolCounts; unreserved?: number; testId: string; children?: React.ReactNode }) {
  const usable = counts.total - counts.retired;
  return (
    <div className="card h-100 shadow-sm border-0" data-testid={testId}>
      <div className="card-body">
        <h3 className="h6 text-body-secondary text-uppercase">{title}</h3>
        <div className="row text-center g-2 mb-3">
          <div className="col"><div className="fs-3 fw-bold text-success" data-testid={`${testId}-available`}>{counts.available}</div><div className="small text-body-secondary">available</div></div>
          <div className="col"><div className="fs-3 fw-bold text-primary" data-testid={`${testId}-assigned`}>{counts.assigned}</div><div className="small text-body-secondary">assigned</div></div>
          <div className="col"><div className="fs-3 fw-bold text-secondary" data-testid={`${testId}-retired`}>{counts.retired}</div><div className="small text-body-secondary">retired</div></div>
          <div className="col"><div className="fs-3 fw-bold" data-testid={`${testId}-total`}>{counts.total}</div><div className="small text-body-secondary">total</div></div>
        </div>
        {usable > 0 && <ProgressBar value={(counts.assigned / usable) * 100} label={`${title}: share assigned`} height={8} />}
        {unreserved !== undefined && (
          <div className="small text-body-secondary mt-2" data-testid={`${testId}-unreserved`}>
            {unreserved} available number{unreserved === 1 ? '' : 's'} not yet promised to an open batch.
          </div>
        )}
        {children}
      </div>
    </div>
  );
}

export function VenueDetailPage() {
  const { code = '' } = useParams();
  const can = usePermissions();
  const toast = useToast();
  const confirm = useConfirm();
  const navigate = useNavigate();
  const [editing, setEditing] = useState(false);

  const venue = useResource((signal) => api.venues.get(code, signal), [code]);
  const stats = useResource((signal) => api.venues.stats(code, signal), [code]);
  const batches = useResource((signal) => api.batches.list({ venue: code }, signal), [code]);
  const deployments = useResource((signal) => api.deployments.list({ venue: code, page: 1, limit: 10 }, signal), [code]);

  const forThisVenue = (_name: string, payload: unknown) => {
    const p = payload as { venue_code?: string; batch?: { venue_code: string }; deployment?: { venue_code: string } };
    return (p.venue_code ?? p.batch?.venue_code ?? p.deployment?.venue_code) === code;
  };
  useLiveReload(['venue_changed'], venue.reload, { when: forThisVenue });
  useLiveReload(['pool_changed', 'hostname_assigned', 'batch_created', 'batch_cancelled', 'batch_completed'], stats.reload, { when: forThisVenue });
  useLiveReload(['batch_created', 'batch_started', 'batch_paused', 'batch_completed', 'batch_cancelled', 'batch_updated'], batches.reload, { when: forThisVenue });
  useLiveReload(['batch_progress'], batches.reload);
  useLiveReload(['deployment_status'], deployments.reload, { when: forThisVenue, delayMs: 1000 });

  const remove = async () => {
    const ok = await confirm({ title: `Delete venue ${code}?`, body: 'Only a venue with no assigned hostnames, open batches or deployment history can be deleted.', confirmLabel: 'Delete venue' });
    if (!ok) return;
    try {
      await api.venues.remove(code);
      toast.success(`Venue ${code} deleted.`);
      void navigate('/venues');
    } catch (error) {
      toast.error(error, `Venue ${code} was not deleted`);
    }
  };

  if (venue.loading) return <Loading />;
  if (venue.error?.status === 404) {
    return <EmptyState title={`There is no venue ${code}`} action={<Link to="/venues" className="btn btn-primary">All venues</Link>}>It may have been deleted.</EmptyState>;
  }
  const v = venue.data;
  const s = stats.data;
  const openBatches = (batches.data?.batches ?? []).filter((b) => OPEN_BATCH_STATUSES.includes(b.status));
  // Offer deletion only when the server would allow it: nothing assigned, nothing open, no history.
  const canDelete = Boolean(s && s.assigned === 0 && batches.data && openBatches.length === 0 && deployments.data && deployments.data.total === 0);

  return (
    <>
      <nav aria-label="breadcrumb"><ol className="breadcrumb small mb-1"><li className="breadcrumb-item"><Link to="/venues">Venues</Link></li><li className="breadcrumb-item active" aria-current="page">{code}</li></ol></nav>
      <PageHeader
        title={v ? `${v.name}` : code}
        subtitle={<span className="font-monospace" data-testid="venue-detail-code">{code}</span>}
        actions={
          v && (
            <>
              {can.canWrite && <>
                <Link to={`/kart-numbers?venue=${code}&import=1`} className="btn btn-primary" data-testid="venue-import">Import kart numbers</Link>
                <Link to={`/batches/new?venue=${code}`} className="btn btn-outline-primary">New batch</Link>
              </>}
              <Link to={`/labels?venue=${code}`} className="btn btn-outline-secondary" data-testid="venue-labels">Print labels</Link>
              {can.canWrite && <button type="button" className="btn btn-outline-secondary" onClick={() => setEditing(true)} data-testid="venue-detail-edit">Edit</button>}
              {can.canWrite && canDelete && <button type="button" className="btn btn-outline-danger" onClick={() => void remove()} data-testid="venue-detail-delete">Delete</button>}
            </>
          )
        }
      />
      <ErrorAlert error={venue.error} onRetry={venue.reload} />
      {v && (
        <div className="row g-3 mb-4">
          <div className="col-12 col-lg-4">
            <div className="card h-100 shadow-sm border-0" data-testid="venue-info">
              <div className="card-body">
                <h2 className="h6 text-body-secondary text-uppercase">Details</h2>
                <dl className="row mb-0 small">
                  <dt className="col-5">Code</dt><dd className="col-7 font-monospace">{v.code}</dd>
                  <dt className="col-5">Location</dt><dd className="col-7">{v.location ?? '—'}</dd>
                  <dt className="col-5">Contact</dt><dd className="col-7 text-break">{v.contact_email ? <a href={`mailto:${v.contact_email}`}>{v.contact_email}</a> : '—'}</dd>
                  <dt className="col-5">Created</dt><dd className="col-7">{formatDateTime(v.created_at)}</dd>
                  <dt className="col-5">Hostnames</dt><dd className="col-7 font-monospace">KXP2-{v.code}-NNN<br />RXP2-{v.code}-SERIAL</dd>
                </dl>
              </div>
            </div>
          </div>
          <div className="col-12 col-md-6 col-lg-4">
            {s ? (
              <PoolCard title="KXP2 kart numbers" counts={s.by_product.KXP2} unreserved={s.unreserved} testId="pool-kxp2">
                <Link to={`/kart-numbers?venue=${code}`} className="small d-block mt-2">Manage kart numbers</Link>
              </PoolCard>
            ) : <ErrorAlert error={stats.error} onRetry={stats.reload} />}
          </div>
          <div className="col-12 col-md-6 col-lg-4">
            {s && (
              <div className="card h-100 shadow-sm border-0" data-testid="pool-rxp2">
                <div className="card-body">
                  <h3 className="h6 text-body-secondary text-uppercase">RXP2 serial hostnames</h3>
                  <div className="fs-3 fw-bold text-primary" data-testid="pool-rxp2-assigned">{s.by_product.RXP2.assigned}</div>
                  <div className="small text-body-secondary mb-2">devices named <code>RXP2-{code}-…</code></div>
                  <div className="small text-body-secondary">RXP2 names come from each board's serial number (its last 8 characters), so there is no pool to import.</div>
                </div>
              </div>
            )}
          </div>
        </div>
      )}

      {v && (
        <div className="mb-4">
          <ProvisioningProfileCard code={v.code} canWrite={can.canWrite} />
        </div>
      )}

      <div className="row g-3">
        <div className="col-12 col-xl-6">
          <div className="card shadow-sm border-0 h-100" data-testid="venue-batches">
            <div className="card-header bg-transparent"><h2 className="h6 mb-0">Open batches</h2></div>
            <div className="card-body">
              {openBatches.length === 0 ? (
                <div className="text-body-secondary small">No open batch for this venue. {can.canWrite && <Link to={`/batches/new?venue=${code}`}>Create one</Link>}</div>
              ) : (
                <ul className="list-unstyled mb-0 d-grid gap-3">
                  {openBatches.map((b) => (
                    <li key={b.id}>
                      <div className="d-flex justify-content-between mb-1"><Link to={`/batches/${b.id}`}>{describeBatch(b)}</Link><StatusBadge kind="batch" status={b.status} /></div>
                      <BatchProgress batch={b} compact />
                    </li>
                  ))}
                </ul>
              )}
            </div>
          </div>
        </div>
        <div className="col-12 col-xl-6">
          <div className="card shadow-sm border-0 h-100" data-testid="venue-deployments">
            <div className="card-header bg-transparent d-flex justify-content-between"><h2 className="h6 mb-0">Latest deployments</h2><Link to={`/deployments?venue=${code}`} className="small">All</Link></div>
            {(deployments.data?.items.length ?? 0) === 0 ? (
              <div className="card-body text-body-secondary small">No device of this venue has been imaged yet.</div>
            ) : (
              <div className="table-responsive">
                <table className="table table-sm mb-0 align-middle">
                  <thead><tr><th scope="col">Hostname</th><th scope="col">Status</th><th scope="col">Started</th></tr></thead>
                  <tbody>
                    {deployments.data?.items.map((d) => (
                      <tr key={d.id}><td className="font-monospace">{d.hostname}</td><td><StatusBadge kind="deployment" status={d.status} /></td><td>{formatAgo(d.started_at)}</td></tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </div>
        </div>
      </div>
      {editing && v && <VenueFormModal venue={v} onClose={() => setEditing(false)} onSaved={() => { setEditing(false); venue.reload(); }} />}
    </>
  );
}
