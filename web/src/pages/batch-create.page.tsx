// A new batch, with a live check of the venue's pool: a KXP2 batch cannot promise more kart numbers than are
// free (available and not already promised to the venue's other open batches).
import { useCallback, useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import type { ProductType } from '../../../src/contracts/domain.js';
import { PRODUCT_TYPES } from '../../../src/contracts/domain.js';
import { FIELD_LIMITS } from '../../../src/contracts/limits.js';
import { parseWholeNumber } from '../../../src/contracts/numbers.js';
import { api, describeError } from '../api/api.client.js';
import { useResource } from '../api/use-resource.js';
import { DEFAULT_PEER_LINGER_MINUTES, MAX_PEER_LINGER_S, parseLingerMinutes } from '../components/batch-peer-delivery.js';
import { Field, useForm, type Errors } from '../components/form.js';
import { useToast } from '../components/toast.provider.js';
import { Busy, EmptyState, Loading, PageHeader, ProgressBar } from '../components/ui.js';
import { useLiveReload } from '../live/live.hooks.js';

type Values = {
  venue_code: string;
  product_type: ProductType;
  total_count: string;
  priority: string;
  name: string;
  notes: string;
  start_now: boolean;
  peer_delivery: boolean;
  /** How long a finished device serves others, in minutes as typed (the API takes seconds). */
  peer_linger_min: string;
};

export function BatchCreatePage() {
  const toast = useToast();
  const navigate = useNavigate();
  const [search] = useSearchParams();
  const venues = useResource((signal) => api.venues.list(signal), []);
  const initialProduct = search.get('product') === 'RXP2' ? 'RXP2' : 'KXP2';
  const initial: Values = { venue_code: search.get('venue') ?? '', product_type: initialProduct, total_count: '', priority: '0', name: '', notes: '', start_now: false, peer_delivery: true, peer_linger_min: String(DEFAULT_PEER_LINGER_MINUTES) };
  const [busy, setBusy] = useState(false);
  const [serverError, setServerError] = useState<string | null>(null);

  const venueList = venues.data?.venues ?? [];
  const firstVenue = venueList[0]?.code ?? '';

  // The capacity check depends on the chosen venue and product; the validator reads the latest answer.
  const [venueCode, setVenueCode] = useState(initial.venue_code);
  const [product, setProduct] = useState<ProductType>(initial.product_type);
  const effectiveVenue = venueCode || firstVenue;
  const capacity = useResource(
    (signal) => (effectiveVenue ? api.batches.capacity(effectiveVenue, product, signal) : Promise.resolve(undefined)),
    [effectiveVenue, product],
  );
  useLiveReload(['pool_changed', 'batch_created', 'batch_cancelled', 'batch_completed', 'hostname_assigned'], capacity.reload, {
    when: (_n, p) => {
      const payload = p as { venue_code?: string; batch?: { venue_code: string } };
      return (payload.venue_code ?? payload.batch?.venue_code) === effectiveVenue;
    },
  });
  const cap = capacity.data;

  const validate = useCallback(
    (v: Values): Errors<Values> => {
      const count = parseWholeNumber(v.total_count);
      const { batchDevices, batchPriority } = FIELD_LIMITS;
      let countError: string | undefined;
      if (v.total_count.trim() === '') countError = 'How many devices will this batch image?';
      else if (count === null || count < batchDevices.min) countError = `A whole number of devices, at least ${batchDevices.min}.`;
      else if (count > batchDevices.max) countError = `At most ${batchDevices.max.toLocaleString()} devices per batch.`;
      else if (cap && cap.needs_pool && count > cap.unreserved)
        countError = `Only ${cap.unreserved} kart number${cap.unreserved === 1 ? ' is' : 's are'} free at ${cap.venue_code}${cap.reserved ? ` (${cap.reserved} promised to other open batches)` : ''}. Import more numbers or lower the count.`;
      return {
        venue_code: v.venue_code || firstVenue ? undefined : 'Choose a venue.',
        total_count: countError,
        priority: parseWholeNumber(v.priority, batchPriority) === null ? `A whole number between ${batchPriority.min.toLocaleString()} and ${batchPriority.max.toLocaleString()}.` : undefined,
        name: v.name.length > FIELD_LIMITS.batchName.max ? `At most ${FIELD_LIMITS.batchName.max} characters.` : undefined,
        notes: v.notes.length > FIELD_LIMITS.batchNotes.max ? `At most ${FIELD_LIMITS.batchNotes.max} characters.` : undefined,
        // Not sent while one-to-many is off, so not checked either.
        peer_linger_min: v.peer_delivery ? parseLingerMinutes(v.peer_linger_min).error : undefined,
      };
    },
    [cap, firstVenue],
  );
  const form = useForm<Values>(initial, validate);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    form.markSubmitted();
    if (!form.isValid) return;
    setBusy(true);
    setServerError(null);
    const v = form.values;
    try {
      const { batch } = await api.batches.create({
        venue_code: effectiveVenue,
        product_type: v.product_type,
        // Both checked by validate above.
        total_count: parseWholeNumber(v.total_count)!,
        priority: parseWholeNumber(v.priority)!,
        name: v.name.trim() || null,
        notes: v.notes.trim() || null,
        peer_delivery: v.peer_delivery,
        ...(v.peer_delivery ? { peer_linger_s: parseLingerMinutes(v.peer_linger_min).seconds } : {}),
      });
      if (v.start_now) {
        try {
          await api.batches.start(batch.id);
          toast.success(`Batch #${batch.id} created and started.`);
        } catch (error) {
          toast.warning(`Batch #${batch.id} was created but not started: ${describeError(error)}`);
        }
      } else {
        toast.success(`Batch #${batch.id} created. Start it when the devices are ready.`);
      }
      void navigate('/batches');
    } catch (error) {
      setServerError(describeError(error));
      capacity.reload();
    } finally {
      setBusy(false);
    }
  };

  if (venues.loading) return <Loading />;
  if (venueList.length === 0) {
    return <EmptyState title="Create a venue first" action={<Link to="/venues" className="btn btn-primary">Go to venues</Link>}>Every batch deploys devices for one venue.</EmptyState>;
  }

  const count = Number(form.values.total_count) || 0;
  return (
    <>
      <nav aria-label="breadcrumb"><ol className="breadcrumb small mb-1"><li className="breadcrumb-item"><Link to="/batches">Batches</Link></li><li className="breadcrumb-item active" aria-current="page">New</li></ol></nav>
      <PageHeader title="New batch" />
      <div className="row g-4">
        <form className="col-12 col-lg-7" onSubmit={(event) => void submit(event)} noValidate data-testid="batch-form">
          <div className="card shadow-sm border-0"><div className="card-body">
            {serverError && <div className="alert alert-danger" role="alert" data-testid="batch-form-error">{serverError}</div>}
            <Field label="Venue" error={form.shown('venue_code')}>
              {({ id, describedBy, className }) => (
                <select id={id} aria-describedby={describedBy} className={className('form-select')} value={effectiveVenue} onChange={(e) => { form.set('venue_code', e.target.value); setVenueCode(e.target.value); }} data-testid="batch-venue">
                  {venueList.map((v) => <option key={v.code} value={v.code}>{v.code} — {v.name}</option>)}
                </select>
              )}
            </Field>
            <fieldset className="mb-3">
              <legend className="form-label fs-6">Product</legend>
              {PRODUCT_TYPES.map((p) => (
                <div className="form-check form-check-inline" key={p}>
                  <input className="form-check-input" type="radio" name="batch-product" id={`batch-product-${p}`} checked={form.values.product_type === p} onChange={() => { form.set('product_type', p); setProduct(p); }} data-testid={`batch-product-${p}`} />
                  <label className="form-check-label" htmlFor={`batch-product-${p}`}>{p === 'KXP2' ? 'KXP2 — named from kart numbers' : 'RXP2 — named from serial numbers'}</label>
                </div>
              ))}
            </fieldset>
            <div className="row">
              <div className="col-sm-6">
                <Field label="Devices" error={form.shown('total_count')} testId="batch-count" help="How many boards this batch will image.">
                  {({ id, describedBy, className }) => (
                    <input id={id} type="number" min={1} inputMode="numeric" aria-describedby={describedBy} className={className()} value={form.values.total_count} onChange={(e) => form.set('total_count', e.target.value)} data-testid="batch-count" autoFocus />
                  )}
                </Field>
              </div>
              <div className="col-sm-6">
                <Field label="Priority" error={form.shown('priority')} help="Higher goes first; may be negative.">
                  {({ id, describedBy, className }) => (
                    <input id={id} type="number" aria-describedby={describedBy} className={className()} value={form.values.priority} onChange={(e) => form.set('priority', e.target.value)} data-testid="batch-priority" />
                  )}
                </Field>
              </div>
            </div>
            <Field label="Name (optional)" error={form.shown('name')}>
              {({ id, describedBy, className }) => (
                <input id={id} aria-describedby={describedBy} className={className()} value={form.values.name} onChange={(e) => form.set('name', e.target.value)} placeholder="e.g. Spring fleet refresh" maxLength={FIELD_LIMITS.batchName.max} data-testid="batch-name" />
              )}
            </Field>
            <Field label="Notes (optional)" error={form.shown('notes')}>
              {({ id, describedBy, className }) => (
                <textarea id={id} aria-describedby={describedBy} className={className()} rows={2} value={form.values.notes} onChange={(e) => form.set('notes', e.target.value)} data-testid="batch-notes" />
              )}
            </Field>
            <fieldset className="mb-3" data-testid="batch-delivery">
              <legend className="form-label fs-6">Delivery</legend>
              <div className="form-check form-switch mb-2">
                <input className="form-check-input" type="checkbox" role="switch" id="batch-peer-delivery" aria-describedby="batch-peer-delivery-help" checked={form.values.peer_delivery} onChange={(e) => form.set('peer_delivery', e.target.checked)} data-testid="batch-peer-delivery" />
                <label className="form-check-label" htmlFor="batch-peer-delivery">Devices share chunks with each other (one-to-many)</label>
                <div id="batch-peer-delivery-help" className="form-text mt-0">
                  Devices pass the image's chunks on to each other, so each crosses the server's link about once; every device still checks every chunk. Off: each device fetches the whole image from the server.
                </div>
              </div>
              <Field label="Serve others for at most" error={form.shown('peer_linger_min')} testId="batch-peer-linger" className="mb-0" help="A finished device keeps passing chunks on while others still need them, at most this long, then reboots. 0: it reboots as soon as it is installed.">
                {({ id, describedBy, className }) => (
                  <div className="input-group" style={{ maxWidth: '22rem' }}>
                    <input id={id} type="number" min={0} max={MAX_PEER_LINGER_S / 60} step="any" inputMode="decimal" aria-describedby={describedBy} className={className()} value={form.values.peer_linger_min} onChange={(e) => form.set('peer_linger_min', e.target.value)} disabled={!form.values.peer_delivery} data-testid="batch-peer-linger" />
                    <span className="input-group-text">minutes after installing</span>
                  </div>
                )}
              </Field>
            </fieldset>
            <div className="form-check mb-3">
              <input className="form-check-input" type="checkbox" id="batch-start-now" checked={form.values.start_now} onChange={(e) => form.set('start_now', e.target.checked)} data-testid="batch-start-now" />
              <label className="form-check-label" htmlFor="batch-start-now">Start the batch right away</label>
            </div>
            <div className="d-flex gap-2">
              <button type="submit" className="btn btn-primary" disabled={busy || (form.submitted && !form.isValid)} data-testid="batch-submit"><Busy busy={busy}>Create batch</Busy></button>
              <Link to="/batches" className="btn btn-outline-secondary">Cancel</Link>
            </div>
          </div></div>
        </form>
        <aside className="col-12 col-lg-5">
          <div className="card shadow-sm border-0" data-testid="batch-capacity" aria-live="polite">
            <div className="card-body">
              <h2 className="h6 text-body-secondary text-uppercase">Pool check</h2>
              {capacity.error ? (
                <div className="text-danger small">{capacity.error.message}</div>
              ) : !cap ? (
                <Loading label="Checking the pool…" />
              ) : !cap.needs_pool ? (
                <div data-testid="batch-capacity-rxp2">
                  <p className="mb-2">RXP2 batches need no kart numbers: each board is named from its serial, e.g. <code>RXP2-{cap.venue_code}-ABC12345</code>.</p>
                  <p className="small text-body-secondary mb-0">Any number of devices can be served.</p>
                </div>
              ) : (
                <div data-testid="batch-capacity-kxp2" data-unreserved={cap.unreserved}>
                  <div className="d-flex justify-content-between"><span>Available kart numbers</span><strong>{cap.available}</strong></div>
                  <div className="d-flex justify-content-between"><span>Promised to other open batches</span><strong>{cap.reserved}</strong></div>
                  <div className="d-flex justify-content-between border-top mt-1 pt-1"><span>Free for this batch</span><strong data-testid="batch-capacity-free">{cap.unreserved}</strong></div>
                  {cap.unreserved > 0 && (
                    <div className="mt-2">
                      <ProgressBar value={Math.min(100, (count / cap.unreserved) * 100)} label="Share of free kart numbers this batch uses" variant={count > cap.unreserved ? 'danger' : 'success'} height={8} />
                      <div className="small text-body-secondary mt-1">{count > 0 ? `This batch uses ${count} of ${cap.unreserved}.` : 'Enter the number of devices.'}</div>
                    </div>
                  )}
                  {cap.unreserved === 0 && <div className="alert alert-warning small mt-2 mb-0">No free kart numbers at {cap.venue_code}. <Link to={`/kart-numbers?venue=${cap.venue_code}&import=1`}>Import some</Link> first.</div>}
                  {cap.unreserved > 0 && count > cap.unreserved && <div className="small mt-2"><Link to={`/kart-numbers?venue=${cap.venue_code}&import=1`}>Import more kart numbers</Link></div>}
                </div>
              )}
            </div>
          </div>
        </aside>
      </div>
    </>
  );
}
