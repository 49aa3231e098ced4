// Who changed what, newest first.
import { useState } from 'react';
import { formatDateTime } from '../../../../src/contracts/format.js';
import { api } from '../../api/api.client.js';
import { useResource } from '../../api/use-resource.js';
import { EmptyState, ErrorAlert, Loading, Pagination } from '../ui.js';

export function AuditTab() {
  const [page, setPage] = useState(1);
  const [limit, setLimit] = useState(50);
  const audit = useResource((signal) => api.audit({ page, limit }, signal), [page, limit]);
  return (
    <>
      <ErrorAlert error={audit.error} onRetry={audit.reload} />
      {audit.loading ? <Loading /> : (audit.data?.items.length ?? 0) === 0 ? <EmptyState title="Nothing recorded yet">Every change made through the API or the dashboard is written here.</EmptyState> : (
        <div className="card shadow-sm border-0">
          <div className="table-responsive">
            <table className="table table-sm align-middle mb-0" data-testid="audit-table">
              <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Target</th><th scope="col" className="d-none d-lg-table-cell">Details</th></tr></thead>
              <tbody>
                {audit.data?.items.map((a) => (
                  <tr key={a.id}>
                    <td className="small text-nowrap">{formatDateTime(a.at)}</td>
                    <td>{a.actor}</td>
                    <td><code>{a.action}</code></td>
                    <td className="small">{a.target ?? '—'}</td>
                    <td className="d-none d-lg-table-cell small text-break text-body-secondary" style={{ maxWidth: 420 }}>{a.details && a.details !== '{}' ? a.details : ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="card-body pt-0">{audit.data && <Pagination page={page} limit={limit} total={audit.data.total} onPage={setPage} onLimit={(l) => { setLimit(l); setPage(1); }} testId="audit-pagination" />}</div>
        </div>
      )}
    </>
  );
}
