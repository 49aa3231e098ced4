// The whole floor in one bar: how far the devices on the board are together, how fast they pull, and when the last
// of them should be done. Big enough to read across the room.
import type { FleetSummary } from './fleet.js';
import { formatDuration, formatRate } from '../../../src/contracts/format.js';
import { ProgressBar } from './ui.js';

export function FleetProgress({ summary }: { summary: FleetSummary }) {
  const { devices, imaging, completed, failed, percent, rateBps, etaS, withoutEta } = summary;
  return (
    <div className="card shadow-sm border-0 mb-3" data-testid="fleet-progress" data-percent={Math.round(percent)}>
      <div className="card-body py-2">
        <div className="d-flex flex-wrap align-items-baseline justify-content-between column-gap-3 mb-1">
          <div className="fs-5 fw-semibold pc-num">
            Fleet <span data-testid="fleet-percent-total">{Math.round(percent)} %</span>
          </div>
          <div className="small text-body-secondary d-flex flex-wrap column-gap-3">
            <span><span className="pc-num fw-semibold text-body">{imaging}</span> imaging</span>
            <span><span className="pc-num fw-semibold text-body">{completed}</span> done</span>
            {failed > 0 && <span className="text-danger"><span className="pc-num fw-semibold">{failed}</span> failed</span>}
            {rateBps > 0 && <span className="pc-num">{formatRate(rateBps)} in all</span>}
            <span data-testid="fleet-eta-total">
              {imaging === 0 ? (devices > 0 ? 'all done' : 'nothing imaging') : etaS !== null ? <>last done in about <span className="pc-num fw-semibold text-body">{formatDuration(etaS)}</span>{withoutEta > 0 ? ` (${withoutEta} not yet estimated)` : ''}</> : 'estimating…'}
            </span>
          </div>
        </div>
        <ProgressBar value={percent} label="Fleet progress" variant={imaging > 0 ? 'primary' : 'success'} height={14} testId="fleet-bar" />
      </div>
    </div>
  );
}
