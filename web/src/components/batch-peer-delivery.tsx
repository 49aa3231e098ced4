// A batch's one-to-many delivery: whether its devices share chunks with each other, and how long a finished one keeps
// serving the rest. Operators switch it and set the time on open batches; everyone else sees the state.
import { useState, type FormEvent } from 'react';
import { OPEN_BATCH_STATUSES, type Batch } from '../../../src/contracts/domain.js';
import { DEFAULT_PEER_LINGER_S } from '../../../src/contracts/peer-delivery.js';
import { FIELD_LIMITS } from '../../../src/contracts/limits.js';
import { api } from '../api/api.client.js';
import { usePermissions } from '../auth/auth.context.js';
import { describeBatch } from './batch-progress.js';
import { describeLinger, describeServing } from './peer-delivery.js';
import { useToast } from './toast.provider.js';
import { Busy } from './ui.js';

/** The longest a finished device may serve, from the API's own schema. */
export const MAX_PEER_LINGER_S = FIELD_LIMITS.peerLingerSeconds.max;
export const DEFAULT_PEER_LINGER_MINUTES = DEFAULT_PEER_LINGER_S / 60;

/** Minutes as typed → seconds for `peer_linger_s`, or what is wrong with them. */
export function parseLingerMinutes(text: string): { seconds: number; error?: undefined } | { seconds?: undefined; error: string } {
  const minutes = Number(text);
  const seconds = Math.round(minutes * 60);
  if (text.trim() === '' || !Number.isFinite(minutes) || minutes < 0 || seconds > MAX_PEER_LINGER_S) {
    return { error: `Between 0 and ${MAX_PEER_LINGER_S / 60} minutes (0: reboot as soon as it is installed).` };
  }
  return { seconds };
}

const OFF_TITLE = 'One-to-many is off: its devices fetch every chunk from the server';
const lingerTitle = (batch: Batch) =>
  batch.peer_linger_s > 0
    ? `Devices of this batch fetch chunks from each other too; a finished one serves the rest for at most ${describeLinger(batch.peer_linger_s)}, then reboots`
    : 'Devices of this batch fetch chunks from each other too; a finished one reboots at once';

function LingerEditor({ batch, onSaved, onCancel }: { batch: Batch; onSaved: (batch: Batch) => void; onCancel: () => void }) {
  const toast = useToast();
  const [value, setValue] = useState(String(batch.peer_linger_s / 60));
  const [busy, setBusy] = useState(false);
  const parsed = parseLingerMinutes(value);
  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (parsed.seconds === undefined) return;
    setBusy(true);
    try {
      const { batch: updated } = await api.batches.setPeerDelivery(batch.id, { peer_linger_s: parsed.seconds });
      toast.success(
        updated.peer_linger_s > 0
          ? `Finished devices of ${describeBatch(updated)} now serve others for at most ${describeLinger(updated.peer_linger_s)}.`
          : `Finished devices of ${describeBatch(updated)} now reboot as soon as they are installed.`,
      );
      onSaved(updated);
    } catch (error) {
      toast.error(error, 'Serving time not changed');
    } finally {
      setBusy(false);
    }
  };
  const inputId = `linger-${batch.id}`;
  return (
    <form className="d-inline-flex flex-wrap gap-1 align-items-center" onSubmit={(event) => void save(event)} noValidate onKeyDown={(e) => { if (e.key === 'Escape') { e.stopPropagation(); onCancel(); } }}>
      <label className="text-body-secondary" htmlFor={inputId}>serve others for at most</label>
      <input
        id={inputId}
        type="number"
        min={0}
        max={MAX_PEER_LINGER_S / 60}
        step="any"
        inputMode="decimal"
        className={`form-control form-control-sm${parsed.error ? ' is-invalid' : ''}`}
        style={{ width: '5.5rem' }}
        value={value}
        onChange={(e) => setValue(e.target.value)}
        title={parsed.error}
        autoFocus
        data-testid={`batch-linger-input-${batch.id}`}
      />
      <span className="text-body-secondary">min</span>
      <button type="submit" className="btn btn-sm btn-primary" disabled={parsed.error !== undefined || busy} data-testid={`batch-linger-save-${batch.id}`}><Busy busy={busy}>Save</Busy></button>
      <button type="button" className="btn btn-sm btn-outline-secondary" onClick={onCancel}>Cancel</button>
    </form>
  );
}

/**
 * The state everyone sees, and for operators on an open batch a switch and the serving time to edit. `onChanged`
 * gets the server's answer; the `batch_updated` event tells every other page.
 */
export function BatchPeerDelivery({ batch, onChanged, className = 'small' }: { batch: Batch; onChanged: (batch: Batch) => void; className?: string }) {
  const can = usePermissions();
  const toast = useToast();
  const [pending, setPending] = useState<boolean | null>(null);
  const [editing, setEditing] = useState(false);
  const isOn = pending ?? batch.peer_delivery;
  const canChange = can.canWrite && OPEN_BATCH_STATUSES.includes(batch.status);

  const toggle = async (on: boolean) => {
    setPending(on);
    try {
      const { batch: updated } = await api.batches.setPeerDelivery(batch.id, { peer_delivery: on });
      toast.success(`One-to-many delivery is ${updated.peer_delivery ? 'on' : 'off'} for ${describeBatch(updated)}.`);
      onChanged(updated);
    } catch (error) {
      toast.error(error, 'One-to-many not changed');
    } finally {
      setPending(null);
    }
  };

  const offBadge = (
    <span className="badge bg-warning-subtle text-warning-emphasis border border-warning-subtle" title={OFF_TITLE} data-testid={`batch-peer-off-${batch.id}`}>
      {canChange ? 'off' : 'one-to-many off'}
    </span>
  );
  const serving = <span data-testid={`batch-linger-${batch.id}`}>{describeServing(batch.peer_linger_s)}</span>;
  return (
    <div
      className={`d-flex flex-wrap align-items-center column-gap-2 row-gap-1 ${className}`}
      data-testid={`batch-peer-${batch.id}`}
      data-peer-delivery={batch.peer_delivery ? 'on' : 'off'}
      data-linger-s={batch.peer_linger_s}
    >
      {!canChange ? (
        batch.peer_delivery ? <span className="text-body-secondary" title={lingerTitle(batch)}>one-to-many · {serving}</span> : offBadge
      ) : (
        <>
          <div className="form-check form-switch mb-0" title={isOn ? lingerTitle(batch) : OFF_TITLE}>
            <input
              className="form-check-input"
              type="checkbox"
              role="switch"
              id={`peer-delivery-${batch.id}`}
              checked={isOn}
              disabled={pending !== null}
              onChange={(e) => void toggle(e.target.checked)}
              data-testid={`batch-peer-toggle-${batch.id}`}
            />
            <label className="form-check-label" htmlFor={`peer-delivery-${batch.id}`}>one-to-many</label>
          </div>
          {!isOn ? (
            offBadge
          ) : editing ? (
            <LingerEditor batch={batch} onCancel={() => setEditing(false)} onSaved={(updated) => { setEditing(false); onChanged(updated); }} />
          ) : (
            <button type="button" className="btn btn-sm btn-link p-0 text-decoration-none" onClick={() => setEditing(true)} title="Set how long a finished device serves others" data-testid={`batch-linger-edit-${batch.id}`}>
              {serving}
            </button>
          )}
        </>
      )}
    </div>
  );
}
