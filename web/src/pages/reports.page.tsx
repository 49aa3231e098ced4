// How deployments went over a period: completion rate, average time, and the same per venue and per day.
import { useMemo, useState } from 'react';
import { ArcElement, BarElement, CategoryScale, Chart as ChartJS, Legend, LinearScale, Tooltip, type ChartOptions } from 'chart.js';
import { Bar, Doughnut } from 'react-chartjs-2';
import { OUTCOME_DEPLOYMENT_STATUSES, PRODUCT_TYPES, type DeploymentStatus, type ProductType } from '../../../src/contracts/domain.js';
import { api } from '../api/api.client.js';
import { useResource } from '../api/use-resource.js';
import { formatCount, formatDuration, formatIsoDay, formatPercent } from '../../../src/contracts/format.js';
import { EmptyState, ErrorAlert, Loading, PageHeader, StatCard, FilterSelect } from '../components/ui.js';
import { useLiveReload } from '../live/live.hooks.js';

ChartJS.register(ArcElement, BarElement, CategoryScale, LinearScale, Tooltip, Legend);

const GREEN = '#198754';
const RED = '#dc3545';
const BLUE = '#0d6efd';
const PRESETS = [
  { label: 'Today', days: 0 },
  { label: '7 days', days: 6 },
  { label: '30 days', days: 29 },
  { label: '90 days', days: 89 },
] as const;

const daysAgo = (n: number) => {
  const d = new Date();
  d.setDate(d.getDate() - n);
  return formatIsoDay(d);
};

const stackedBar: ChartOptions<'bar'> = {
  responsive: true,
  maintainAspectRatio: false,
  animation: false,
  plugins: { legend: { position: 'bottom' } },
  scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
};

export function ReportsPage() {
  const [from, setFrom] = useState(daysAgo(29));
  const [to, setTo] = useState(daysAgo(0));
  const [venue, setVenue] = useState('');
  const [product, setProduct] = useState<ProductType | ''>('');
  const venues = useResource((signal) => api.venues.list(signal), []);
  const invalid = from > to ? 'The start date is after the end date.' : null;
  const report = useResource(
    (signal) => (invalid ? Promise.resolve(undefined) : api.reports({ from, to, venue: venue || undefined, product: product || undefined }, signal)),
    [from, to, venue, product, invalid],
  );
  useLiveReload(['deployment_status'], report.reload, { delayMs: 5000, when: (_n, p) => (OUTCOME_DEPLOYMENT_STATUSES as readonly DeploymentStatus[]).includes((p as { status: DeploymentStatus }).status) });

  const r = report.data;
  const perDay = useMemo(() => r && outcomeChart(r.per_day.map((d) => d.day), r.per_day), [r]);
  const perVenue = useMemo(() => r && outcomeChart(r.per_venue.map((v) => v.venue_code), r.per_venue), [r]);
  const venueTime = useMemo(() => r && {
    labels: r.per_venue.map((v) => v.venue_code),
    datasets: [{ label: 'Average minutes per device', data: r.per_venue.map((v) => (v.average_duration_s === null ? 0 : +(v.average_duration_s / 60).toFixed(1))), backgroundColor: BLUE }],
  }, [r]);

  return (
    <>
      <PageHeader title="Reports" subtitle="Completion and timing of deployments over a period" />
      <div className="card shadow-sm border-0 mb-3">
        <div className="card-body d-flex flex-wrap align-items-end gap-3">
          <div>
            <label htmlFor="report-from" className="form-label small mb-1">From</label>
            <input id="report-from" type="date" className={`form-control form-control-sm${invalid ? ' is-invalid' : ''}`} value={from} max={to} onChange={(e) => setFrom(e.target.value)} data-testid="report-from" />
          </div>
          <div>
            <label htmlFor="report-to" className="form-label small mb-1">To</label>
            <input id="report-to" type="date" className={`form-control form-control-sm${invalid ? ' is-invalid' : ''}`} value={to} min={from} onChange={(e) => setTo(e.target.value)} data-testid="report-to" />
          </div>
          <FilterSelect id="report-venue" label="Venue" value={venue} onChange={setVenue} options={(venues.data?.venues ?? []).map((v) => ({ value: v.code, label: `${v.code} — ${v.name}` }))} allLabel="All venues" testId="report-venue" />
          <FilterSelect id="report-product" label="Product" value={product} onChange={(value) => setProduct(value as ProductType | '')} options={PRODUCT_TYPES} testId="report-product" />
          <div className="btn-group btn-group-sm" role="group" aria-label="Quick ranges">
            {PRESETS.map((p) => (
              <button key={p.label} type="button" className={`btn btn-outline-secondary${from === daysAgo(p.days) && to === daysAgo(0) ? ' active' : ''}`} onClick={() => { setFrom(daysAgo(p.days)); setTo(daysAgo(0)); }}>{p.label}</button>
            ))}
          </div>
          {invalid && <div className="text-danger small w-100" role="alert">{invalid}</div>}
        </div>
      </div>
      <ErrorAlert error={report.error} onRetry={report.reload} />
      {report.loading ? (
        <Loading />
      ) : !r ? null : r.total === 0 ? (
        <EmptyState title="No deployments in this period" testId="report-empty">Pick a wider range, or come back once devices have been imaged.</EmptyState>
      ) : (
        <div data-testid="report">
          <div className="row g-3 mb-3">
            <div className="col-6 col-lg-3"><StatCard label="Deployments" value={formatCount(r.total)} testId="report-total" variant="secondary" /></div>
            <div className="col-6 col-lg-3"><StatCard label="Completion rate" value={formatPercent(r.completion_rate)} hint={`${r.completed} completed, ${r.failed} failed`} testId="report-rate" variant="success" /></div>
            <div className="col-6 col-lg-3"><StatCard label="Average time" value={formatDuration(r.average_duration_s)} hint="from config request to completion" testId="report-average" variant="primary" /></div>
            <div className="col-6 col-lg-3"><StatCard label="Venues" value={r.per_venue.length} testId="report-venues" variant="info" /></div>
          </div>
          <div className="row g-3">
            <div className="col-12 col-xl-8">
              <div className="card shadow-sm border-0 h-100"><div className="card-body">
                <h2 className="h6">Per day</h2>
                <div className="pc-chart" data-testid="chart-per-day">{perDay && <Bar data={perDay} options={stackedBar} aria-label="Completed and failed deployments per day" role="img" />}</div>
              </div></div>
            </div>
            <div className="col-12 col-md-6 col-xl-4">
              <div className="card shadow-sm border-0 h-100"><div className="card-body">
                <h2 className="h6">Outcome</h2>
                <div className="pc-chart" data-testid="chart-outcome">
                  <Doughnut
                    data={{ labels: ['Completed', 'Failed'], datasets: [{ data: [r.completed, r.failed], backgroundColor: [GREEN, RED] }] }}
                    options={{ responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { position: 'bottom' } } }}
                    aria-label={`Completion rate ${formatPercent(r.completion_rate)}`}
                    role="img"
                  />
                </div>
              </div></div>
            </div>
            <div className="col-12 col-md-6">
              <div className="card shadow-sm border-0 h-100"><div className="card-body">
                <h2 className="h6">Per venue</h2>
                <div className="pc-chart" data-testid="chart-per-venue">{perVenue && <Bar data={perVenue} options={stackedBar} aria-label="Deployments per venue" role="img" />}</div>
              </div></div>
            </div>
            <div className="col-12 col-md-6">
              <div className="card shadow-sm border-0 h-100"><div className="card-body">
                <h2 className="h6">Average deployment time per venue</h2>
                <div className="pc-chart" data-testid="chart-venue-time">{venueTime && <Bar data={venueTime} options={{ responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, title: { display: true, text: 'minutes' } } } }} aria-label="Average deployment time per venue" role="img" />}</div>
              </div></div>
            </div>
            <div className="col-12">
              <div className="card shadow-sm border-0">
                <div className="table-responsive">
                  <table className="table table-sm mb-0" data-testid="report-venue-table">
                    <caption className="px-3">Figures per venue for {r.from} to {r.to}</caption>
                    <thead><tr><th scope="col">Venue</th><th scope="col" className="text-end">Completed</th><th scope="col" className="text-end">Failed</th><th scope="col" className="text-end">Completion</th><th scope="col" className="text-end">Average time</th></tr></thead>
                    <tbody>
                      {r.per_venue.map((v) => (
                        <tr key={v.venue_code}>
                          <td>{v.venue_code}</td>
                          <td className="text-end">{v.completed}</td>
                          <td className="text-end">{v.failed}</td>
                          <td className="text-end">{formatPercent(v.completed + v.failed > 0 ? v.completed / (v.completed + v.failed) : null)}</td>
                          <td className="text-end">{formatDuration(v.average_duration_s)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </div>
            </div>
          </div>
        </div>
      )}
    </>
  );
}

/** Completed and failed side by side (stacked bars) for each label. */
function outcomeChart(labels: string[], rows: ReadonlyArray<{ completed: number; failed: number }>) {
  return {
    labels,
    datasets: [
      { label: 'Completed', data: rows.map((row) => row.completed), backgroundColor: GREEN },
      { label: 'Failed', data: rows.map((row) => row.failed), backgroundColor: RED },
    ],
  };
}
