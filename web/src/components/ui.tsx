// Small building blocks every page uses: headers, badges, progress, empty and error states, pagination.
import type { ReactNode } from 'react';
import { Link } from 'react-router-dom';
import type { ApiError } from '../api/api.client.js';
import type { BatchStatus, Deployment, DeploymentStatus, HostnameStatus } from '../../../src/contracts/domain.js';

export function PageHeader({ title, subtitle, actions }: { title: string; subtitle?: ReactNode; actions?: ReactNode }) {
  return (
    <div className="d-flex flex-wrap align-items-center justify-content-between gap-2 mb-3 pc-page-header">
      <div>
        <h1 className="h3 mb-0">{title}</h1>
        {subtitle && <div className="text-body-secondary small">{subtitle}</div>}
      </div>
      {actions && <div className="d-flex flex-wrap gap-2">{actions}</div>}
    </div>
  );
}

const BATCH_VARIANT: Record<BatchStatus, string> = {
  pending: 'secondary',
  active: 'primary',
  paused: 'warning',
  completed: 'success',
  cancelled: 'dark',
};
/** The Bootstrap colour of each deployment status, for badges and bars alike. */
export const DEPLOYMENT_VARIANT: Record<DeploymentStatus, string> = {
  assigned: 'secondary',
  downloading: 'primary',
  verifying: 'info',
  customizing: 'info',
  completed: 'success',
  failed: 'danger',
  // The device asked again and carries on under a newer record: neither a result nor a failure.
  superseded: 'light',
};
const POOL_VARIANT: Record<HostnameStatus, string> = { available: 'success', assigned: 'primary', retired: 'secondary' };

export function StatusBadge({ kind, status, testId }: { kind: 'batch' | 'deployment' | 'pool'; status: string; testId?: string }) {
  const variant =
    (kind === 'batch' ? BATCH_VARIANT[status as BatchStatus] : kind === 'deployment' ? DEPLOYMENT_VARIANT[status as DeploymentStatus] : POOL_VARIANT[status as HostnameStatus]) ??
    'secondary';
  return (
    <span className={`badge text-bg-${variant} text-capitalize`} data-testid={testId} data-status={status}>
      {status}
    </span>
  );
}

/** A bar's colour for a badge colour: a light bar would vanish into its light track. */
export const barVariantOf = (variant: string): string => (variant === 'light' ? 'secondary' : variant);

/** A history row's progress, in its status's colour; a completed record reads full whatever it last reported. */
export function DeploymentBar({ deployment: d }: { deployment: Pick<Deployment, 'status' | 'progress' | 'hostname'> }) {
  return <ProgressBar value={d.status === 'completed' ? 100 : d.progress} label={`${d.hostname} progress`} height={6} variant={barVariantOf(DEPLOYMENT_VARIANT[d.status])} />;
}

/**
 * `striped` draws stripes; only `moving` animates them. A moving stripe repaints every frame: with many bars on a
 * page it took most of the page's CPU, so it is kept for bars whose device is actually transferring right now.
 */
export function ProgressBar({ value, label, variant = 'primary', striped = false, moving = false, testId, height }: {
  value: number;
  label: string;
  variant?: string;
  striped?: boolean;
  moving?: boolean;
  testId?: string;
  height?: number;
}) {
  const clamped = Math.max(0, Math.min(100, Number.isFinite(value) ? value : 0));
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={label}
      aria-valuenow={Math.round(clamped)}
      aria-valuemin={0}
      aria-valuemax={100}
      data-testid={testId}
      data-value={Math.round(clamped)}
      style={height ? { height } : undefined}
    >
      <div className={`progress-bar bg-${variant}${striped || moving ? ' progress-bar-striped' : ''}${moving ? ' progress-bar-animated' : ''}`} style={{ width: `${clamped}%` }} />
    </div>
  );
}

export function EmptyState({ title, children, action, testId }: { title: string; children?: ReactNode; action?: ReactNode; testId?: string }) {
  return (
    <div className="text-center py-5 px-3 pc-empty" data-testid={testId ?? 'empty-state'}>
      <div className="pc-empty-icon" aria-hidden="true">○</div>
      <h2 className="h5">{title}</h2>
      {children && <p className="text-body-secondary mb-3 mx-auto" style={{ maxWidth: '36rem' }}>{children}</p>}
      {action}
    </div>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="d-flex align-items-center gap-2 text-body-secondary py-4 justify-content-center" role="status" data-testid="loading">
      <span className="spinner-border spinner-border-sm" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}

export function ErrorAlert({ error, onRetry, testId = 'error-alert' }: { error: ApiError | Error | string | null | undefined; onRetry?: () => void; testId?: string }) {
  if (!error) return null;
  const message = typeof error === 'string' ? error : error.message;
  return (
    <div className="alert alert-danger d-flex flex-wrap align-items-center justify-content-between gap-2" role="alert" data-testid={testId}>
      <span>{message}</span>
      {onRetry && (
        <button type="button" className="btn btn-sm btn-outline-danger" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Pagination({ page, limit, total, onPage, onLimit, testId = 'pagination' }: {
  page: number;
  limit: number;
  total: number;
  onPage: (page: number) => void;
  onLimit?: (limit: number) => void;
  testId?: string;
}) {
  const pages = Math.max(1, Math.ceil(total / limit));
  const first = total === 0 ? 0 : (page - 1) * limit + 1;
  const last = Math.min(total, page * limit);
  // A window of page numbers around the current one keeps the control short on big tables.
  const window: number[] = [];
  for (let p = Math.max(1, page - 2); p <= Math.min(pages, page + 2); p++) window.push(p);

  return (
    <nav className="d-flex flex-wrap align-items-center justify-content-between gap-2 mt-2" aria-label="Pages" data-testid={testId}>
      <div className="small text-body-secondary" data-testid={`${testId}-summary`}>
        {total === 0 ? 'No rows' : `${first.toLocaleString()}–${last.toLocaleString()} of ${total.toLocaleString()}`}
      </div>
      <div className="d-flex align-items-center gap-2">
        {onLimit && (
          <select className="form-select form-select-sm w-auto" aria-label="Rows per page" value={limit} onChange={(e) => onLimit(Number(e.target.value))} data-testid={`${testId}-limit`}>
            {[25, 50, 100, 200].map((n) => (
              <option key={n} value={n}>{n} per page</option>
            ))}
          </select>
        )}
        <ul className="pagination pagination-sm mb-0">
          <li className={`page-item${page <= 1 ? ' disabled' : ''}`}>
            <button type="button" className="page-link" onClick={() => onPage(page - 1)} disabled={page <= 1} aria-label="Previous page" data-testid={`${testId}-prev`}>‹</button>
          </li>
          {window[0] !== undefined && window[0] > 1 && (
            <li className="page-item"><button type="button" className="page-link" onClick={() => onPage(1)}>1</button></li>
          )}
          {window.map((p) => (
            <li key={p} className={`page-item${p === page ? ' active' : ''}`}>
              <button type="button" className="page-link" onClick={() => onPage(p)} aria-current={p === page ? 'page' : undefined}>{p}</button>
            </li>
          ))}
          {window[window.length - 1] !== undefined && window[window.length - 1]! < pages && (
            <li className="page-item"><button type="button" className="page-link" onClick={() => onPage(pages)}>{pages}</button></li>
          )}
          <li className={`page-item${page >= pages ? ' disabled' : ''}`}>
            <button type="button" className="page-link" onClick={() => onPage(page + 1)} disabled={page >= pages} aria-label="Next page" data-testid={`${testId}-next`}>›</button>
          </li>
        </ul>
      </div>
    </nav>
  );
}

/** A count; with `to`, the whole tile links to the list behind the number. */
export function StatCard({ label, value, hint, variant = 'primary', testId, to }: { label: string; value: ReactNode; hint?: ReactNode; variant?: string; testId?: string; to?: string }) {
  return (
    <div className={`card h-100 pc-stat border-0 shadow-sm border-start border-4 border-${variant}${to ? ' pc-stat-link' : ''}`} data-testid={testId}>
      <div className="card-body">
        <div className="text-body-secondary small text-uppercase fw-semibold">
          {to ? <Link to={to} className="stretched-link text-reset text-decoration-none" data-testid={testId ? `${testId}-link` : undefined}>{label}</Link> : label}
        </div>
        <div className="fs-2 fw-bold lh-sm" data-testid={testId ? `${testId}-value` : undefined}>{value}</div>
        {hint && <div className="small text-body-secondary">{hint}</div>}
      </div>
    </div>
  );
}

/** A spinner inside a button while its action runs. */
export function Busy({ busy, children }: { busy: boolean; children: ReactNode }) {
  return (
    <>
      {busy && <span className="spinner-border spinner-border-sm me-1" aria-hidden="true" />}
      {children}
    </>
  );
}

export type FilterOption = string | { value: string; label: string };

/** A labelled filter drop-down whose first choice ("All") clears the filter. */
export function FilterSelect({ id, label, value, onChange, options, allLabel = 'All', testId, className }: {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  options: readonly FilterOption[];
  allLabel?: string;
  testId?: string;
  className?: string;
}) {
  return (
    <div className={className}>
      <label htmlFor={id} className="form-label small mb-1">{label}</label>
      <select id={id} className="form-select form-select-sm" value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId}>
        <option value="">{allLabel}</option>
        {options.map((option) => {
          const { value: optionValue, label: optionLabel } = typeof option === 'string' ? { value: option, label: option } : option;
          return <option key={optionValue} value={optionValue}>{optionLabel}</option>;
        })}
      </select>
    </div>
  );
}
