// Create or edit a venue. The code is checked as it is typed (4 letters or digits, shown upper-case) and cannot
// change later, because hostnames already handed out contain it.
import { useCallback } from 'react';
import type { Venue } from '../../../src/contracts/domain.js';
import { VENUE_CODE_PATTERN } from '../../../src/contracts/domain.js';
import { FIELD_LIMITS } from '../../../src/contracts/limits.js';
import { api } from '../api/api.client.js';
import { EMAIL_PATTERN, Field, useForm, useFormSubmit, type Errors } from './form.js';
import { Modal } from './modal.js';
import { useToast } from './toast.provider.js';
import { Busy } from './ui.js';

type Values = { code: string; name: string; location: string; contact_email: string };
const CODE = new RegExp(VENUE_CODE_PATTERN);

const validateVenue = (v: Values): Errors<Values> => ({
  code: !v.code ? 'A venue needs a 4-character code.' : !CODE.test(v.code) ? 'Exactly 4 letters or digits, e.g. CORO.' : undefined,
  name: !v.name.trim() ? 'Give the venue a name.' : v.name.trim().length > FIELD_LIMITS.venueName.max ? `At most ${FIELD_LIMITS.venueName.max} characters.` : undefined,
  location: v.location.length > FIELD_LIMITS.venueLocation.max ? `At most ${FIELD_LIMITS.venueLocation.max} characters.` : undefined,
  contact_email: v.contact_email.trim() && !EMAIL_PATTERN.test(v.contact_email.trim()) ? 'That is not a valid e-mail address.' : undefined,
});

export function VenueFormModal({ venue, onClose, onSaved }: { venue?: Venue; onClose: () => void; onSaved: (venue: Venue) => void }) {
  const toast = useToast();
  const isEdit = Boolean(venue);
  const form = useForm<Values>(
    { code: venue?.code ?? '', name: venue?.name ?? '', location: venue?.location ?? '', contact_email: venue?.contact_email ?? '' },
    useCallback(validateVenue, []),
  );

  const { busy, error: serverError, submit } = useFormSubmit(form, async () => {
    const v = form.values;
    const details = { name: v.name.trim(), location: v.location.trim() || null, contact_email: v.contact_email.trim() || null };
    const saved = isEdit ? await api.venues.update(venue!.code, details) : await api.venues.create({ code: v.code, ...details });
    toast.success(isEdit ? `Venue ${saved.venue.code} updated.` : `Venue ${saved.venue.code} created.`);
    onSaved(saved.venue);
  });

  return (
    <Modal
      title={isEdit ? `Edit venue ${venue!.code}` : 'New venue'}
      onClose={onClose}
      testId="venue-form"
      footer={
        <>
          <button type="button" className="btn btn-outline-secondary" onClick={onClose}>Cancel</button>
          <button type="submit" form="venue-form" className="btn btn-primary" disabled={busy || (form.submitted && !form.isValid)} data-testid="venue-save">
            <Busy busy={busy}>{isEdit ? 'Save changes' : 'Create venue'}</Busy>
          </button>
        </>
      }
    >
      <form id="venue-form" onSubmit={(event) => void submit(event)} noValidate>
        {serverError && <div className="alert alert-danger" role="alert" data-testid="venue-form-error">{serverError}</div>}
        <Field label="Code" error={form.shown('code')} help={isEdit ? 'The code is part of every hostname and never changes.' : '4 letters or digits; part of every hostname, e.g. KXP2-CORO-007.'} testId="venue-code">
          {({ id, describedBy, className }) => (
            <input
              id={id}
              aria-describedby={describedBy}
              className={`${className()} font-monospace text-uppercase`}
              value={form.values.code}
              onChange={(e) => form.set('code', e.target.value.toUpperCase().slice(0, 4))}
              disabled={isEdit}
              maxLength={4}
              autoComplete="off"
              data-autofocus={!isEdit || undefined}
              data-testid="venue-code"
            />
          )}
        </Field>
        <Field label="Name" error={form.shown('name')} testId="venue-name">
          {({ id, describedBy, className }) => (
            <input id={id} aria-describedby={describedBy} className={className()} value={form.values.name} onChange={(e) => form.set('name', e.target.value)} maxLength={FIELD_LIMITS.venueName.max} data-autofocus={isEdit || undefined} data-testid="venue-name" />
          )}
        </Field>
        <Field label="Location (optional)" error={form.shown('location')}>
          {({ id, describedBy, className }) => (
            <input id={id} aria-describedby={describedBy} className={className()} value={form.values.location} onChange={(e) => form.set('location', e.target.value)} maxLength={FIELD_LIMITS.venueLocation.max} data-testid="venue-location" />
          )}
        </Field>
        <Field label="Contact e-mail (optional)" error={form.shown('contact_email')} className="mb-0" testId="venue-email">
          {({ id, describedBy, className }) => (
            <input id={id} type="email" aria-describedby={describedBy} className={className()} value={form.values.contact_email} onChange={(e) => form.set('contact_email', e.target.value)} data-testid="venue-email" />
          )}
        </Field>
      </form>
    </Modal>
  );
}
