// The batch queue. Devices are served from the highest-priority active batch, so the queue's order is the order
// of work: drag a batch up or down (mouse, touch or keyboard) to change it. The new order shows at once and is
// rolled back if the server refuses it.
import { useMemo, useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import {
  closestCenter, DndContext, KeyboardSensor, PointerSensor, TouchSensor, useSensor, useSensors, type Announcements, type DragEndEvent, type UniqueIdentifier,
} from '@dnd-kit/core';
import { arrayMove, SortableContext, sortableKeyboardCoordinates, useSortable, verticalListSortingStrategy } from '@dnd-kit/sortable';
import { CSS } from '@dnd-kit/utilities';
import type { Batch, BatchStatus } from '../../../src/contracts/domain.js';
import { BATCH_STATUSES, FINAL_BATCH_STATUSES, OPEN_BATCH_STATUSES } from '../../../src/contracts/domain.js';
import { FIELD_LIMITS } from '../../../src/contracts/limits.js';
import { parseWholeNumber } from '../../../src/contracts/numbers.js';
import { api, describeError } from '../api/api.client.js';
import { useResource } from '../api/use-resource.js';
import { usePermissions } from '../auth/auth.context.js';
import { BatchActions } from '../components/batch-actions.js';
import { BatchPeerDelivery } from '../components/batch-peer-delivery.js';
import { BatchActivityBadge, BatchProgress, describeBatch, withProgress } from '../components/batch-progress.js';
import { compareQueueOrder, servingBatchOf } from '../../../src/contracts/batch-queue.js';
import { formatAgo, formatDateTime } from '../../../src/contracts/format.js';
import { useToast } from '../components/toast.provider.js';
import { EmptyState, ErrorAlert, Loading, PageHeader, StatusBadge, FilterSelect } from '../components/ui.js';
import { useSearchState } from '../components/use-search-state.js';
import { useLiveEvent, useLiveReload } from '../live/live.hooks.js';

const KEYS = ['venue', 'status'] as const;

const isOpen = (b: Batch) => OPEN_BATCH_STATUSES.includes(b.status);

function PriorityEditor({ batch, onSaved }: { batch: Batch; onSaved: () => void }) {
  const toast = useToast();
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(String(batch.priority));
  const [busy, setBusy] = useState(false);
  const n = parseWholeNumber(value, FIELD_LIMITS.batchPriority);
  const invalid = n === null;

  if (!editing) {
    return (
      <button type="button" className="btn btn-sm btn-link p-0 text-decoration-none" onClick={() => { setValue(String(batch.priority)); setEditing(true); }} title="Set the priority" data-testid={`batch-priority-edit-${batch.id}`}>
        priority <span className="fw-semibold" data-testid={`batch-priority-${batch.id}`}>{batch.priority}</span>
      </button>
    );
  }
  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (invalid) return;
    setBusy(true);
    try {
      await api.batches.setPriority(batch.id, n);
      toast.success(`Priority of ${describeBatch(batch)} set to ${n}.`);
      setEditing(false);
      onSaved();
    } catch (error) {
      toast.error(error, 'Priority not changed');
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="d-inline-flex gap-1 align-items-center" onSubmit={(event) => void save(event)} onKeyDown={(e) => { if (e.key === 'Escape') { e.stopPropagation(); setEditing(false); } }}>
      <label className="visually-hidden" htmlFor={`priority-${batch.id}`}>Priority of batch {batch.id}</label>
      <input id={`priority-${batch.id}`} type="number" className={`form-control form-control-sm${invalid ? ' is-invalid' : ''}`} style={{ width: '6.5rem' }} value={value} onChange={(e) => setValue(e.target.value)} autoFocus data-testid={`batch-priority-input-${batch.id}`} />
      <button type="submit" className="btn btn-sm btn-primary" disabled={invalid || busy}>Save</button>
      <button type="button" className="btn btn-sm btn-outline-secondary" onClick={() => setEditing(false)}>Cancel</button>
    </form>
  );
}

function QueueItem({ batch, servingId, position, draggable, onChanged, onUpdated }: {
  batch: Batch;
  /** The batch the next device is served from, by the server's own rule. */
  servingId: number | null;
  position: number;
  draggable: boolean;
  onChanged: () => void;
  /** The server's answer for this batch, shown at once (the reload that follows the event may take a moment). */
  onUpdated: (batch: Batch) => void;
}) {
  const can = usePermissions();
  const { attributes, listeners, setNodeRef, setActivatorNodeRef, transform, transition, isDragging } = useSortable({ id: batch.id, disabled: !draggable });
  const style = { transform: CSS.Transform.toString(transform), transition };
  return (
    <li
      ref={setNodeRef}
      style={style}
      className={`list-group-item pc-queue-item${isDragging ? ' pc-dragging shadow' : ''}`}
      data-testid={`batch-item-${batch.id}`}
      data-batch-id={batch.id}
      data-status={batch.status}
    >
      <div className="d-flex gap-3 align-items-start">
        {can.canWrite && (
          <button
            type="button"
            ref={setActivatorNodeRef}
            className="btn btn-sm btn-light pc-drag-handle"
            aria-label={`Reorder ${describeBatch(batch)}: press space, then the arrow keys`}
            disabled={!draggable}
            data-testid={`batch-drag-${batch.id}`}
            {...attributes}
            {...listeners}
          >
            <span aria-hidden="true">⠿</span>
          </button>
        )}
        <div className="pc-queue-position text-body-secondary fw-semibold" aria-label={`Position ${position}`}>{position}</div>
        <div className="flex-grow-1 min-w-0">
          <div className="d-flex flex-wrap justify-content-between align-items-start gap-2">
            <div className="min-w-0">
              <Link to={`/batches/${batch.id}`} className="fw-semibold text-decoration-none" data-testid={`batch-name-${batch.id}`}>{describeBatch(batch)}</Link>{' '}
              <StatusBadge kind="batch" status={batch.status} testId={`batch-status-${batch.id}`} />{' '}
              <BatchActivityBadge batch={batch} servingId={servingId} />
              <div className="small text-body-secondary">
                {batch.product_type} · <Link to={`/venues/${batch.venue_code}`}>{batch.venue_code}</Link> ·{' '}
                {can.canWrite ? <PriorityEditor batch={batch} onSaved={onChanged} /> : <>priority <span data-testid={`batch-priority-${batch.id}`}>{batch.priority}</span></>} · created {formatAgo(batch.created_at)}
              </div>
              <BatchPeerDelivery batch={batch} onChanged={onUpdated} />
            </div>
            <BatchActions batch={batch} onChanged={onChanged} />
          </div>
          <div className="mt-2" style={{ maxWidth: 520 }}>
            <BatchProgress batch={batch} compact />
          </div>
        </div>
      </div>
    </li>
  );
}

export function BatchesPage() {
  const can = usePermissions();
  const toast = useToast();
  const [params, update] = useSearchState(KEYS);
  // The whole list is small (batches, not devices) and reordering needs every open batch, so filter here.
  const batches = useResource((signal) => api.batches.list({}, signal), []);
  const venues = useResource((signal) => api.venues.list(signal), []);
  const [reordering, setReordering] = useState(false);

  useLiveReload(['batch_created', 'batch_started', 'batch_paused', 'batch_completed', 'batch_cancelled', 'batch_updated'], () => {
    if (!reordering) batches.reload();
  });
  useLiveEvent('batch_progress', (event) => batches.setData((data) => data && { batches: data.batches.map((b) => withProgress(b, event)) }));

  const replaceBatch = (updated: Batch) => batches.setData((data) => data && { batches: data.batches.map((b) => (b.id === updated.id ? updated : b)) });

  const all = useMemo(() => [...(batches.data?.batches ?? [])].sort(compareQueueOrder), [batches.data]);
  const open = all.filter(isOpen);
  const servingId = servingBatchOf(all)?.id ?? null;
  const matches = (b: Batch) => (!params.venue || b.venue_code === params.venue) && (!params.status || b.status === params.status);
  const visibleOpen = open.filter(matches);
  const finished = all.filter((b) => !isOpen(b) && matches(b)).sort((a, b) => (b.completed_at ?? b.created_at).localeCompare(a.completed_at ?? a.created_at));

  const sensors = useSensors(
    useSensor(PointerSensor, { activationConstraint: { distance: 5 } }),
    useSensor(TouchSensor, { activationConstraint: { delay: 200, tolerance: 8 } }),
    useSensor(KeyboardSensor, { coordinateGetter: sortableKeyboardCoordinates }),
  );

  const onDragEnd = async ({ active, over }: DragEndEvent) => {
    if (!over || active.id === over.id) return;
    const from = open.findIndex((b) => b.id === active.id);
    const to = open.findIndex((b) => b.id === over.id);
    if (from < 0 || to < 0) return;
    // Moving within a filtered view moves the batch next to its neighbour in the full queue.
    const reordered = arrayMove(open, from, to);
    const previous = batches.data;
    const count = reordered.length;
    // Optimistic: show the new order now with provisional priorities; the server's answer replaces them.
    const provisional = new Map(reordered.map((b, i) => [b.id, { ...b, priority: (previous ? Math.max(...previous.batches.map((x) => x.priority)) : 0) + count - i }]));
    batches.setData((data) => data && { batches: data.batches.map((b) => provisional.get(b.id) ?? b) });
    setReordering(true);
    try {
      const moved = reordered[to]!;
      const answer = await api.batches.reorder(reordered.map((b) => b.id));
      if (answer?.batches) batches.setData(answer);
      const before = new Map((previous?.batches ?? []).map((b) => [b.id, b.priority]));
      const changes = (answer?.batches ?? [])
        .filter((b) => before.has(b.id) && before.get(b.id) !== b.priority)
        .map((b) => `${describeBatch(b)}: ${before.get(b.id)} → ${b.priority}`);
      toast.success(
        `${describeBatch(moved)} moved to position ${to + 1}. ${changes.length > 0 ? `Priorities: ${changes.join('; ')}.` : 'No priority had to change.'}`,
        'Queue reordered',
      );
    } catch (error) {
      batches.setData(previous);
      toast.error(describeError(error), 'The order was not saved');
    } finally {
      setReordering(false);
      batches.reload();
    }
  };

  // Spoken to screen readers while dragging: batch names and queue positions, not internal ids.
  const nameOf = (id: UniqueIdentifier) => {
    const batch = open.find((b) => b.id === id);
    return batch ? describeBatch(batch) : `batch ${id}`;
  };
  const positionOf = (id: UniqueIdentifier) => open.findIndex((b) => b.id === id) + 1;
  const announcements: Announcements = {
    onDragStart: ({ active }) => `Picked up ${nameOf(active.id)} at position ${positionOf(active.id)}. Arrow keys move it, space drops it, escape cancels.`,
    onDragOver: ({ active, over }) => (over ? `${nameOf(active.id)} is over position ${positionOf(over.id)}.` : `${nameOf(active.id)} is outside the queue.`),
    onDragEnd: ({ active, over }) => (over ? `${nameOf(active.id)} dropped at position ${positionOf(over.id)}.` : `${nameOf(active.id)} dropped where it was.`),
    onDragCancel: ({ active }) => `Moving ${nameOf(active.id)} was cancelled; it stays at position ${positionOf(active.id)}.`,
  };

  const venueList = venues.data?.venues ?? [];
  const statusIsFinal = FINAL_BATCH_STATUSES.includes(params.status as BatchStatus);

  return (
    <>
      <PageHeader
        title="Batches"
        subtitle={can.canWrite ? 'Devices are served from the highest-priority active batch; drag to change the order' : 'Devices are served from the highest-priority active batch, in this order'}
        actions={can.canWrite && <Link to="/batches/new" className="btn btn-primary" data-testid="batch-create-open">New batch</Link>}
      />
      <div className="row g-2 mb-3" role="search">
        <FilterSelect id="batch-venue" label="Venue" value={params.venue} onChange={(value) => update({ venue: value })} options={venueList.map((v) => ({ value: v.code, label: `${v.code} — ${v.name}` }))} allLabel="All venues" testId="batch-filter-venue" className="col-6 col-md-3" />
        <FilterSelect id="batch-status" label="Status" value={params.status} onChange={(value) => update({ status: value })} options={BATCH_STATUSES} testId="batch-filter-status" className="col-6 col-md-3" />
      </div>
      <ErrorAlert error={batches.error} onRetry={batches.reload} />
      {batches.loading ? (
        <Loading />
      ) : all.length === 0 ? (
        <EmptyState title="No batches yet" action={can.canWrite && <Link to="/batches/new" className="btn btn-primary">Create a batch</Link>}>
          A batch says how many devices of one product to image for one venue. Create one, start it, and power on the boards: each gets
          its hostname from the batch at the top of the queue.
        </EmptyState>
      ) : (
        <>
          {!statusIsFinal && (
            <section className="mb-4" aria-labelledby="queue-heading">
              <h2 className="h5" id="queue-heading">Queue <span className="badge text-bg-secondary">{visibleOpen.length}</span></h2>
              {visibleOpen.length === 0 ? (
                <div className="text-body-secondary small" data-testid="queue-empty">No open batch matches. {can.canWrite && <Link to="/batches/new">Create one</Link>}</div>
              ) : (
                <DndContext
                  sensors={sensors}
                  collisionDetection={closestCenter}
                  onDragEnd={(e) => void onDragEnd(e)}
                  accessibility={{ announcements, screenReaderInstructions: { draggable: 'To move a batch in the queue, press space, use the arrow keys, then press space again to drop it, or escape to cancel.' } }}
                >
                  <SortableContext items={visibleOpen.map((b) => b.id)} strategy={verticalListSortingStrategy}>
                    <ol className="list-group shadow-sm pc-queue" data-testid="batch-queue">
                      {visibleOpen.map((b) => (
                        <QueueItem key={b.id} batch={b} servingId={servingId} position={open.indexOf(b) + 1} draggable={can.canWrite && !reordering} onChanged={batches.reload} onUpdated={replaceBatch} />
                      ))}
                    </ol>
                  </SortableContext>
                </DndContext>
              )}
            </section>
          )}
          {finished.length > 0 && (
            <section aria-labelledby="finished-heading">
              <h2 className="h5" id="finished-heading">Finished</h2>
              <div className="card shadow-sm border-0">
                <div className="table-responsive">
                  <table className="table table-sm align-middle mb-0" data-testid="batch-finished">
                    <thead><tr><th scope="col">Batch</th><th scope="col">Venue</th><th scope="col">Status</th><th scope="col">Devices</th><th scope="col">Succeeded</th><th scope="col">Failed</th><th scope="col" className="d-none d-md-table-cell">Ended</th></tr></thead>
                    <tbody>
                      {finished.map((b) => (
                        <tr key={b.id} data-testid={`batch-row-${b.id}`}>
                          <td><Link to={`/batches/${b.id}`}>{describeBatch(b)}</Link></td>
                          <td>{b.venue_code}</td>
                          <td><StatusBadge kind="batch" status={b.status} /></td>
                          <td>{b.handed_out_count} / {b.total_count}</td>
                          <td data-testid={`batch-row-succeeded-${b.id}`}>{b.succeeded_count}</td>
                          <td data-testid={`batch-row-failed-${b.id}`} className={b.failed_count > 0 ? 'text-danger fw-semibold' : undefined}>{b.failed_count}</td>
                          <td className="d-none d-md-table-cell small">{formatDateTime(b.completed_at)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </div>
            </section>
          )}
        </>
      )}
    </>
  );
}
