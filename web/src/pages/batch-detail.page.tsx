// One batch: where it stands, what it may do next, and the devices it has served.
import { useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { api } from '../api/api.client.js';
import { useResource } from '../api/use-resource.js';
import { BatchActions } from '../components/batch-actions.js';
import { BatchPeerDelivery } from '../components/batch-peer-delivery.js';
import { BatchActivityBadge, BatchProgress, describeBatch, withProgress } from '../components/batch-progress.js';
import { formatAgo, formatDateTime, formatDuration } from '../../../src/contracts/format.js';
import { PeerShareText } from '../components/peer-delivery.js';
import { EmptyState, ErrorAlert, Loading, PageHeader, DeploymentBar, Pagination, StatusBadge } from '../components/ui.js';
import { useDeploymentUpdates, useLiveEvent, useLiveReload } from '../live/live.hooks.js';
import { BootBadge } from '../components/boot-state.js';
import { useNow } from '../components/use-now.js';

export function BatchDetailPage() {
  const rawId = useParams().id ?? '';
  const id = Number(rawId);
  const [page, setPage] = useState(1);
  const batch = useResource((signal) => api.batches.get(id, signal), [id]);
  const deployments = useResource((signal) => api.deployments.list({ batch: id, page, limit: 25 }, signal), [id, page]);
  // Which batch serves depends on every other batch too: the server says, and any batch's change may move it.
  const serving = useResource((signal) => api.batches.active(signal), []);
  useLiveReload(['batch_created', 'batch_started', 'batch_paused', 'batch_completed', 'batch_cancelled', 'batch_updated'], serving.reload);

  const isThis = (_n: string, p: unknown) => (p as { batch_id?: number }).batch_id === id;
  useLiveReload(['batch_started', 'batch_paused', 'batch_completed', 'batch_cancelled', 'batch_updated'], batch.reload, { when: isThis });
  useLiveEvent('batch_progress', (event) => {
    if (event.batch_id === id) batch.setData((data) => data && { ...data, batch: withProgress(data.batch, event) });
    // The serving batch handed out its last name: the next one serves now.
    if (event.remaining_count === 0 && serving.data?.batch?.id === event.batch_id) serving.reload();
  });
  const now = useNow(5000);
  useDeploymentUpdates((deployment) => {
    if (deployment.batch_id !== id) return;
    deployments.setData((data) => {
      if (!data) return data;
      const known = data.items.some((d) => d.id === deployment.id);
      return known ? { ...data, items: data.items.map((d) => (d.id === deployment.id ? deployment : d)) } : data;
    });
  });
  useLiveReload(['hostname_assigned'], deployments.reload, { when: isThis, delayMs: 800 });

  if (batch.loading) return <Loading />;
  if (batch.error?.status === 404 || !Number.isInteger(id)) {
    return <EmptyState title={`There is no batch #${rawId}`} action={<Link to="/batches" className="btn btn-primary">All batches</Link>} />;
  }
  const b = batch.data?.batch;
  return (
    <>
      <nav aria-label="breadcrumb"><ol className="breadcrumb small mb-1"><li className="breadcrumb-item"><Link to="/batches">Batches</Link></li><li className="breadcrumb-item active" aria-current="page">#{id}</li></ol></nav>
      <ErrorAlert error={batch.error} onRetry={batch.reload} />
      {b && (
        <>
          <PageHeader
            title={describeBatch(b)}
            subtitle={<>{b.product_type} at <Link to={`/venues/${b.venue_code}`}>{b.venue_code}</Link> · <StatusBadge kind="batch" status={b.status} testId="batch-detail-status" /> <BatchActivityBadge batch={b} servingId={serving.data?.batch?.id ?? null} /></>}
            actions={<>
              <Link to={`/labels?batch=${b.id}`} className="btn btn-outline-secondary" data-testid="batch-labels">Print labels</Link>
              <BatchActions batch={b} onChanged={(updated) => batch.setData({ success: true, batch: updated })} size="md" />
            </>}
          />
          <div className="row g-3 mb-4">
            <div className="col-12 col-lg-6">
              <div className="card shadow-sm border-0 h-100"><div className="card-body">
                <h2 className="h6 text-body-secondary text-uppercase">Progress</h2>
                <BatchProgress batch={b} />
              </div></div>
            </div>
            <div className="col-12 col-lg-6">
              <div className="card shadow-sm border-0 h-100"><div className="card-body">
                <dl className="row small mb-0">
                  <dt className="col-4">Priority</dt><dd className="col-8">{b.priority}</dd>
                  <dt className="col-4">Delivery</dt><dd className="col-8"><BatchPeerDelivery batch={b} onChanged={(updated) => batch.setData({ success: true, batch: updated })} className="" /></dd>
                  <dt className="col-4">Created</dt><dd className="col-8">{formatDateTime(b.created_at)}</dd>
                  <dt className="col-4">Started</dt><dd className="col-8">{formatDateTime(b.started_at)}</dd>
                  <dt className="col-4">Ended</dt><dd className="col-8">{formatDateTime(b.completed_at)}</dd>
                  {b.notes && <><dt className="col-4">Notes</dt><dd className="col-8 text-break">{b.notes}</dd></>}
                </dl>
              </div></div>
            </div>
          </div>
        </>
      )}
      <div className="card shadow-sm border-0" data-testid="batch-deployments">
        <div className="card-header bg-transparent"><h2 className="h6 mb-0">Devices served by this batch</h2></div>
        <ErrorAlert error={deployments.error} onRetry={deployments.reload} />
        {(deployments.data?.items.length ?? 0) === 0 ? (
          <div className="card-body text-body-secondary small">No device has been served by this batch yet.</div>
        ) : (
          <div className="table-responsive">
            <table className="table table-sm align-middle mb-0">
              <thead><tr><th scope="col">Hostname</th><th scope="col">Status</th><th scope="col" title="Whether the written card's system checked in from its first boot">Booted</th><th scope="col" style={{ minWidth: 140 }}>Progress</th><th scope="col" className="d-none d-md-table-cell">Serial / MAC</th><th scope="col" className="d-none d-lg-table-cell text-end" title="Share of its chunk bytes received from other devices rather than from the server">From peers</th><th scope="col">Started</th><th scope="col" className="d-none d-md-table-cell">Took</th></tr></thead>
              <tbody>
                {deployments.data?.items.map((d) => (
                  <tr key={d.id}>
                    <td className="font-monospace">{d.hostname}</td>
                    <td><StatusBadge kind="deployment" status={d.status} /></td>
                    <td><BootBadge deployment={d} now={now} testId={`batch-boot-${d.id}`} /></td>
                    <td><DeploymentBar deployment={d} /></td>
                    <td className="d-none d-md-table-cell small font-monospace">{d.serial_number ?? d.mac_address ?? '—'}</td>
                    <td className="d-none d-lg-table-cell small text-end text-nowrap"><PeerShareText deployment={d} suffix="" empty={<span className="text-body-secondary">—</span>} /></td>
                    <td className="small">{formatAgo(d.started_at)}</td>
                    <td className="d-none d-md-table-cell small">{d.completed_at ? formatDuration((Date.parse(d.completed_at) - Date.parse(d.started_at)) / 1000) : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {deployments.data && deployments.data.total > 25 && <div className="card-body pt-0"><Pagination page={page} limit={25} total={deployments.data.total} onPage={setPage} /></div>}
      </div>
    </>
  );
}
