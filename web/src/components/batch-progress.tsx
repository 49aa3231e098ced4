import type { Batch, BatchDeviceCounts } from '../../../src/contracts/domain.js';
import { batchActivity, type BatchActivity } from '../../../src/contracts/batch-queue.js';
import type { BatchProgressEvent } from '../../../src/contracts/events.js';

type Counted = Pick<Batch, 'id' | 'total_count' | 'remaining_count' | 'status'> & BatchDeviceCounts;

/**
 * Where a batch's devices are: succeeded, failed and imaging, out of the names handed out, out of the total. One
 * stacked bar, so "20 of 20 handed out" can never again read as "20 done".
 */
export function BatchProgress({ batch, compact = false }: { batch: Counted; compact?: boolean }) {
  const { total_count: total, handed_out_count: handedOut, imaging_count: imaging, succeeded_count: succeeded, failed_count: failed } = batch;
  const share = (n: number) => (total > 0 ? (n / total) * 100 : 0);
  const segments = [
    { key: 'succeeded', n: succeeded, className: 'bg-success' },
    { key: 'failed', n: failed, className: 'bg-danger' },
    // Striped only while something moves: a stalled or paused batch does not animate.
    { key: 'imaging', n: imaging, className: `bg-primary${imaging > 0 && batch.status === 'active' ? ' progress-bar-striped' : ''}` },
  ];
  return (
    <div
      data-testid={`batch-progress-${batch.id}`}
      data-served={handedOut}
      data-total={total}
      data-imaging={imaging}
      data-succeeded={succeeded}
      data-failed={failed}
    >
      <div className="progress-stacked" style={{ height: compact ? 6 : 12 }} role="img" aria-label={`Batch ${batch.id}: ${succeeded} succeeded, ${failed} failed, ${imaging} imaging, of ${total} devices`}>
        {segments.map((s) => (
          <div key={s.key} className="progress" style={{ width: `${share(s.n)}%`, height: '100%' }}>
            <div className={`progress-bar ${s.className}`} />
          </div>
        ))}
      </div>
      <div className="small text-body-secondary mt-1 d-flex flex-wrap column-gap-2">
        <span data-testid={`batch-handed-out-${batch.id}`}><span className="fw-semibold text-body">{handedOut}</span> of {total} names handed out</span>
        <span data-testid={`batch-imaging-${batch.id}`}>· <span className="fw-semibold text-primary">{imaging}</span> imaging</span>
        <span data-testid={`batch-succeeded-${batch.id}`}>· <span className="fw-semibold text-success">{succeeded}</span> succeeded</span>
        <span data-testid={`batch-failed-${batch.id}`}>· <span className={`fw-semibold${failed > 0 ? ' text-danger' : ''}`}>{failed}</span> failed</span>
      </div>
    </div>
  );
}

const ACTIVITY: Partial<Record<BatchActivity, { text: string; className: string; title: string }>> = {
  serving: { text: 'Serving', className: 'text-bg-success', title: 'The next device that asks gets its hostname from this batch.' },
  queued: { text: 'Queued', className: 'text-bg-light border', title: 'Active, but a batch higher in the queue serves first.' },
  imaging: { text: 'Imaging', className: 'text-bg-info', title: 'Every name is handed out; it completes when its devices finish. New devices go to the next batch.' },
};

/** What an active batch is really doing: only one serves; the others wait, or wait for their devices. */
export function BatchActivityBadge({ batch, servingId }: { batch: Pick<Batch, 'id' | 'status' | 'remaining_count'>; servingId: number | null }) {
  const activity = batchActivity(batch, servingId);
  const look = ACTIVITY[activity];
  if (!look) return null;
  return (
    <span className={`badge ${look.className}`} title={look.title} data-testid={`batch-activity-${batch.id}`} data-activity={activity}>
      {look.text}
    </span>
  );
}

/** A batch with a batch_progress event's counts applied (the event carries every count). */
export const withProgress = <B extends Batch>(batch: B, event: BatchProgressEvent): B =>
  batch.id !== event.batch_id
    ? batch
    : {
        ...batch,
        status: event.status,
        remaining_count: event.remaining_count,
        handed_out_count: event.handed_out_count,
        imaging_count: event.imaging_count,
        succeeded_count: event.succeeded_count,
        failed_count: event.failed_count,
      };

export const describeBatch = (batch: Pick<Batch, 'id' | 'name' | 'venue_code' | 'product_type'>): string =>
  batch.name ? batch.name : `${batch.product_type} × ${batch.venue_code} (#${batch.id})`;
