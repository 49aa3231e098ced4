// Bulk import of kart numbers with range syntax, previewed as it is typed, and the RXP2 explanation: RXP2 boards
// are named from their serial numbers, so they need no pool at all.
import { useMemo, useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { KART_NUMBER_MAX, KART_NUMBER_MIN, type ProductType, type Venue } from '../../../src/contracts/domain.js';
import { parseWholeNumber } from '../../../src/contracts/numbers.js';
import { api, describeError } from '../api/api.client.js';
import { previewKartNumbers, summariseNumbers } from './kart-numbers.parse.js';
import { Modal } from './modal.js';
import { useToast } from './toast.provider.js';
import { Busy } from './ui.js';

export function KartImportModal({ venues, initialVenue, onClose, onImported }: {
  venues: Venue[];
  initialVenue?: string;
  onClose: () => void;
  onImported: (venueCode: string) => void;
}) {
  const toast = useToast();
  const [venue, setVenue] = useState(initialVenue && venues.some((v) => v.code === initialVenue) ? initialVenue : (venues[0]?.code ?? ''));
  const [product, setProduct] = useState<ProductType>('KXP2');
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [serverError, setServerError] = useState<string | null>(null);
  const preview = useMemo(() => previewKartNumbers(text), [text]);
  const canSubmit = product === 'KXP2' && venue !== '' && preview.numbers.length > 0 && preview.invalid.length === 0 && !busy;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!canSubmit) return;
    setBusy(true);
    setServerError(null);
    try {
      const result = await api.pool.import({ venue_code: venue, numbers: text });
      toast.success(
        `Added ${result.added} kart number${result.added === 1 ? '' : 's'} to ${venue}${result.duplicates ? `; ${result.duplicates} already existed and were skipped` : ''}.`,
        'Import finished',
      );
      onImported(venue);
    } catch (error) {
      setServerError(describeError(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      title="Import kart numbers"
      size="lg"
      onClose={onClose}
      testId="kart-import"
      footer={
        <>
          <button type="button" className="btn btn-outline-secondary" onClick={onClose}>Close</button>
          {product === 'KXP2' && (
            <button type="submit" form="kart-import-form" className="btn btn-primary" disabled={!canSubmit} data-testid="kart-import-submit">
              <Busy busy={busy}>{preview.numbers.length > 0 ? `Import ${preview.numbers.length} number${preview.numbers.length === 1 ? '' : 's'}` : 'Import'}</Busy>
            </button>
          )}
        </>
      }
    >
      <div className="row g-4">
        <form id="kart-import-form" className="col-12 col-lg-7" onSubmit={(event) => void submit(event)} noValidate>
          {serverError && <div className="alert alert-danger" role="alert" data-testid="kart-import-error">{serverError}</div>}
          <div className="mb-3">
            <label htmlFor="import-venue" className="form-label">Venue</label>
            <select id="import-venue" className="form-select" value={venue} onChange={(e) => setVenue(e.target.value)} data-testid="kart-import-venue">
              {venues.map((v) => <option key={v.code} value={v.code}>{v.code} — {v.name}</option>)}
            </select>
          </div>
          <fieldset className="mb-3">
            <legend className="form-label fs-6">Product</legend>
            {(['KXP2', 'RXP2'] as const).map((p) => (
              <div className="form-check form-check-inline" key={p}>
                <input className="form-check-input" type="radio" name="import-product" id={`import-product-${p}`} checked={product === p} onChange={() => setProduct(p)} data-testid={`kart-import-product-${p}`} />
                <label className="form-check-label" htmlFor={`import-product-${p}`}>{p === 'KXP2' ? 'KXP2 (KartXPro)' : 'RXP2 (RaceXPro)'}</label>
              </div>
            ))}
          </fieldset>
          {product === 'RXP2' ? (
            <div className="alert alert-info" data-testid="rxp2-explanation">
              <h3 className="h6">RXP2 needs no kart numbers</h3>
              <p className="mb-2">
                RaceXPro boards are named from their own serial number: <code>RXP2-{venue || 'VENU'}-ABC12345</code> (the last 8 characters of
                the serial). There is nothing to import.
              </p>
              <p className="mb-0">Create an RXP2 batch with the number of devices to image, start it, and power the boards on.</p>
              <Link to={`/batches/new?venue=${venue}&product=RXP2`} className="btn btn-sm btn-primary mt-2">Create an RXP2 batch</Link>
            </div>
          ) : (
            <div className="mb-2">
              <label htmlFor="import-numbers" className="form-label">Kart numbers</label>
              <textarea
                id="import-numbers"
                className={`form-control font-monospace${preview.invalid.length ? ' is-invalid' : ''}`}
                rows={6}
                placeholder={'1-20, 25, 30-32\nor one number per line'}
                value={text}
                onChange={(e) => setText(e.target.value)}
                aria-describedby="import-numbers-help import-numbers-preview"
                data-testid="kart-import-numbers"
                autoFocus
              />
              <div id="import-numbers-help" className="form-text">Ranges (<code>1-20</code>), lists (<code>25, 30</code>) or one per line; numbers 1 to 9999. Numbers already in the pool are skipped.</div>
              <div id="import-numbers-preview" aria-live="polite" className="mt-2" data-testid="kart-import-preview">
                {preview.invalid.length > 0 ? (
                  <div className="text-danger small">Not valid: {preview.invalid.slice(0, 12).map((t) => <code key={t} className="me-1 text-danger">{t}</code>)}{preview.invalid.length > 12 && `and ${preview.invalid.length - 12} more`}. Fix these; nothing is imported while any token is invalid.</div>
                ) : preview.numbers.length > 0 ? (
                  <div className="small">
                    <strong>{preview.numbers.length}</strong> number{preview.numbers.length === 1 ? '' : 's'}: {summariseNumbers(preview.numbers)}
                    {preview.numbers.length > 0 && venue && <> → <code>KXP2-{venue}-{String(preview.numbers[0]).padStart(3, '0')}</code>{preview.numbers.length > 1 && <> … <code>KXP2-{venue}-{String(preview.numbers[preview.numbers.length - 1]).padStart(3, '0')}</code></>}</>}
                    {preview.repeated > 0 && <span className="text-body-secondary"> ({preview.repeated} repeated in the text)</span>}
                  </div>
                ) : null}
              </div>
            </div>
          )}
        </form>
        <aside className="col-12 col-lg-5">
          <div className="bg-body-tertiary rounded p-3 small" data-testid="workflow-help">
            <h3 className="h6">How devices get their names</h3>
            <p className="fw-semibold mb-1">KXP2 — KartXPro</p>
            <ol className="ps-3">
              <li>Import the venue's kart numbers here.</li>
              <li>Create a KXP2 batch for as many devices as you will image.</li>
              <li>Start it. Each board gets the lowest free number: <code>KXP2-CORO-001</code>, <code>-002</code>…</li>
            </ol>
            <p className="fw-semibold mb-1">RXP2 — RaceXPro</p>
            <ol className="ps-3 mb-0">
              <li>Skip the import: names come from serial numbers.</li>
              <li>Create an RXP2 batch with the number of devices and start it.</li>
            </ol>
          </div>
        </aside>
      </div>
    </Modal>
  );
}

export function KartAddModal({ venues, initialVenue, onClose, onAdded }: { venues: Venue[]; initialVenue?: string; onClose: () => void; onAdded: (venueCode: string) => void }) {
  const toast = useToast();
  const [venue, setVenue] = useState(initialVenue && venues.some((v) => v.code === initialVenue) ? initialVenue : (venues[0]?.code ?? ''));
  const [number, setNumber] = useState('');
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [serverError, setServerError] = useState<string | null>(null);
  const n = parseWholeNumber(number, { min: KART_NUMBER_MIN, max: KART_NUMBER_MAX });
  const error = !number ? 'Enter a kart number.' : n === null ? `A kart number is a whole number from ${KART_NUMBER_MIN} to ${KART_NUMBER_MAX}.` : undefined;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setTouched(true);
    if (error || n === null || !venue) return;
    setBusy(true);
    setServerError(null);
    try {
      const result = await api.pool.import({ venue_code: venue, numbers: [n] });
      if (result.added === 0) {
        setServerError(`Kart number ${n} already exists at ${venue}.`);
        return;
      }
      toast.success(`Added KXP2-${venue}-${String(n).padStart(3, '0')}.`);
      onAdded(venue);
    } catch (caught) {
      setServerError(describeError(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      title="Add a kart number"
      size="sm"
      onClose={onClose}
      testId="kart-add"
      footer={
        <>
          <button type="button" className="btn btn-outline-secondary" onClick={onClose}>Cancel</button>
          <button type="submit" form="kart-add-form" className="btn btn-primary" disabled={busy || (touched && Boolean(error))} data-testid="kart-add-submit"><Busy busy={busy}>Add</Busy></button>
        </>
      }
    >
      <form id="kart-add-form" onSubmit={(event) => void submit(event)} noValidate>
        {serverError && <div className="alert alert-danger" role="alert" data-testid="kart-add-error">{serverError}</div>}
        <div className="mb-3">
          <label htmlFor="add-venue" className="form-label">Venue</label>
          <select id="add-venue" className="form-select" value={venue} onChange={(e) => setVenue(e.target.value)}>
            {venues.map((v) => <option key={v.code} value={v.code}>{v.code} — {v.name}</option>)}
          </select>
        </div>
        <label htmlFor="add-number" className="form-label">Kart number</label>
        <input
          id="add-number"
          type="number"
          min={KART_NUMBER_MIN}
          max={KART_NUMBER_MAX}
          className={`form-control${touched && error ? ' is-invalid' : ''}`}
          value={number}
          onChange={(e) => { setNumber(e.target.value); setTouched(true); }}
          aria-describedby="add-number-feedback"
          autoFocus
          data-testid="kart-add-number"
        />
        <div id="add-number-feedback" className={touched && error ? 'invalid-feedback d-block' : 'form-text'}>
          {touched && error ? error : !error && venue ? <>Hostname: <code>KXP2-{venue}-{String(n).padStart(3, '0')}</code></> : '1 to 9999'}
        </div>
      </form>
    </Modal>
  );
}
