// A printable label sheet for a batch (?batch=ID) or a venue (?venue=CODE): per unit its hostname, kart number,
// serial and a QR code that opens the unit's record in this dashboard. Shown outside the app's frame so that what
// prints is the sheets alone; the toolbar above them is hidden in print.
import { Link } from 'react-router-dom';
import type { LabelUnit } from '../../../src/contracts/labels.js';
import { labelQrPayload } from '../../../src/contracts/labels.js';
import { api } from '../api/api.client.js';
import { useResource } from '../api/use-resource.js';
import { LABEL_LAYOUTS, labelLayoutById, labelsPerSheet, type LabelLayout } from '../components/label-layouts.js';
import { QrCode } from '../components/qr-code.js';
import { EmptyState, ErrorAlert, Loading } from '../components/ui.js';
import { useSearchState } from '../components/use-search-state.js';
import { parseWholeNumber } from '../../../src/contracts/numbers.js';

const KEYS = ['batch', 'venue', 'layout', 'skip'] as const;

/** Inner white margin of a label, so nothing prints on the die-cut edge when the printer is a little off. */
const LABEL_PADDING_MM = 2;

function Label({ unit, layout }: { unit: LabelUnit | null; layout: LabelLayout }) {
  const style = { width: `${layout.labelWidthMm}mm`, height: `${layout.labelHeightMm}mm`, padding: `${LABEL_PADDING_MM}mm` };
  if (!unit) return <div className="pc-label" style={style} aria-hidden="true" />;
  const qrMm = layout.labelHeightMm - 2 * LABEL_PADDING_MM;
  return (
    <div className="pc-label" style={style} data-testid="label" data-hostname={unit.hostname}>
      <QrCode payload={labelQrPayload(window.location.origin, unit.hostname)} sizeMm={qrMm} testId="label-qr" />
      <div className="pc-label-text">
        <div className="pc-label-hostname" data-testid="label-hostname">{unit.hostname}</div>
        {unit.kart_number !== null && <div className="pc-label-kart" data-testid="label-kart">Kart {unit.kart_number}</div>}
        <div className="pc-label-serial" data-testid="label-serial">S/N {unit.serial_number ?? '—'}</div>
      </div>
    </div>
  );
}

function Sheet({ cells, layout, index }: { cells: Array<LabelUnit | null>; layout: LabelLayout; index: number }) {
  return (
    <section
      className="pc-label-sheet"
      data-testid="label-sheet"
      aria-label={`Sheet ${index + 1}`}
      style={{
        width: `${layout.pageWidthMm}mm`,
        height: `${layout.pageHeightMm}mm`,
        paddingTop: `${layout.marginTopMm}mm`,
        paddingLeft: `${layout.marginLeftMm}mm`,
        gridTemplateColumns: `repeat(${layout.columns}, ${layout.labelWidthMm}mm)`,
        gridAutoRows: `${layout.labelHeightMm}mm`,
        columnGap: `${layout.columnGapMm}mm`,
        rowGap: `${layout.rowGapMm}mm`,
      }}
    >
      {cells.map((unit, i) => <Label key={unit?.hostname ?? `blank-${i}`} unit={unit} layout={layout} />)}
    </section>
  );
}

export function LabelsPage() {
  const [params, update] = useSearchState(KEYS);
  const layout = labelLayoutById(params.layout);
  const perSheet = labelsPerSheet(layout);
  // Labels already peeled off a partly used first sheet.
  const skip = Math.min(perSheet - 1, parseWholeNumber(params.skip, { min: 0 }) ?? 0);
  const batch = params.batch ? Number(params.batch) : undefined;
  const venue = params.venue || undefined;
  const sheet = useResource((signal) => api.labels({ batch, venue }, signal), [params.batch, params.venue]);

  const cells: Array<LabelUnit | null> = [...Array<null>(skip).fill(null), ...(sheet.data?.units ?? [])];
  const sheets: Array<Array<LabelUnit | null>> = [];
  for (let i = 0; i < cells.length; i += perSheet) sheets.push(cells.slice(i, i + perSheet));
  const back = batch !== undefined ? `/batches/${batch}` : venue ? `/venues/${venue}` : '/';

  return (
    <div className="pc-labels-page">
      <style>{`@page { size: ${layout.pageSize}; margin: 0; }`}</style>
      <div className="pc-no-print container-fluid py-3 border-bottom bg-body" data-testid="labels-toolbar">
        <div className="d-flex flex-wrap align-items-end gap-3">
          <div className="me-auto">
            <Link to={back} className="small">← Back</Link>
            <h1 className="h4 mb-0">Labels{sheet.data ? `: ${sheet.data.title}` : ''}</h1>
            {sheet.data && (
              <div className="text-body-secondary small" data-testid="labels-summary">
                {sheet.data.units.length} {sheet.data.units.length === 1 ? 'unit' : 'units'} on {sheets.length} {sheets.length === 1 ? 'sheet' : 'sheets'}. Print at 100 % (actual size), no margins.
              </div>
            )}
          </div>
          <div>
            <label htmlFor="labels-layout" className="form-label small mb-1">Label sheet</label>
            <select id="labels-layout" className="form-select form-select-sm" value={layout.id} onChange={(e) => update({ layout: e.target.value })} data-testid="labels-layout">
              {LABEL_LAYOUTS.map((l) => <option key={l.id} value={l.id}>{l.name}</option>)}
            </select>
          </div>
          <div>
            <label htmlFor="labels-skip" className="form-label small mb-1">Used labels to skip</label>
            <input id="labels-skip" type="number" min={0} max={perSheet - 1} className="form-control form-control-sm" style={{ width: '7rem' }} value={skip} onChange={(e) => update({ skip: e.target.value === '0' ? null : e.target.value })} data-testid="labels-skip" />
          </div>
          <button type="button" className="btn btn-primary btn-sm" onClick={() => window.print()} disabled={!sheet.data?.units.length} data-testid="labels-print">Print</button>
        </div>
        <ErrorAlert error={sheet.error} onRetry={sheet.reload} />
      </div>
      {sheet.loading && <Loading />}
      {sheet.data && sheet.data.units.length === 0 && (
        <div className="container py-4">
          <EmptyState title="No units to label yet" testId="labels-empty">A label is printed for each device that holds a hostname; none of this {batch !== undefined ? 'batch' : 'venue'}'s devices has one yet.</EmptyState>
        </div>
      )}
      <div className="pc-label-sheets">{sheets.map((cellsOfSheet, i) => <Sheet key={i} cells={cellsOfSheet} layout={layout} index={i} />)}</div>
    </div>
  );
}
