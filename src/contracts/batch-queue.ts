// The batch queue's rules, shared by the core (which batch serves the next device, when a batch is done) and the UI
// (which batch to label "serving", what a batch is doing): one home, so the label can never disagree with the server.
import type { Batch, BatchStatus } from './domain.js';

/** What an operator can do to a batch. */
export const BATCH_ACTIONS = ['start', 'pause', 'cancel'] as const;
export type BatchAction = (typeof BATCH_ACTIONS)[number];

/**
 * The batch status machine: each action, the statuses it is legal from and the status it leads to. `completed` is
 * reached only automatically, when every name is handed out and every device finished (see areDevicesFinished).
 */
export const BATCH_TRANSITIONS: Readonly<Record<BatchAction, { from: readonly BatchStatus[]; to: BatchStatus }>> = {
  start: { from: ['pending', 'paused'], to: 'active' },
  pause: { from: ['active'], to: 'paused' },
  cancel: { from: ['pending', 'active', 'paused'], to: 'cancelled' },
};

/** The actions legal from `status`, in BATCH_ACTIONS order; none once a batch is completed or cancelled. */
export const batchActionsFrom = (status: BatchStatus): BatchAction[] => BATCH_ACTIONS.filter((action) => BATCH_TRANSITIONS[action].from.includes(status));

/** What a batch is doing right now, in the words the queue shows. */
export type BatchActivity =
  /** The one batch the next device is served from. */
  | 'serving'
  /** Active with names left, but behind a batch of higher priority (or an older one of the same). */
  | 'queued'
  /** Active, every name handed out, devices still imaging: it serves nobody new and completes when they finish. */
  | 'imaging'
  | 'pending'
  | 'paused'
  | 'completed'
  | 'cancelled';

/** Queue order: highest priority first; ties go to the oldest batch. */
export function compareQueueOrder(a: Pick<Batch, 'priority' | 'created_at' | 'id'>, b: Pick<Batch, 'priority' | 'created_at' | 'id'>): number {
  return b.priority - a.priority || (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0) || a.id - b.id;
}

/** Whether a batch can hand a hostname to a new device: started, not paused, and with names left. */
export const canServe = (batch: Pick<Batch, 'status' | 'remaining_count'>): boolean => batch.status === 'active' && batch.remaining_count > 0;

/** The batch the next device is served from, among `batches` (any order, any statuses); null when none can serve. */
export function servingBatchOf<B extends Pick<Batch, 'status' | 'remaining_count' | 'priority' | 'created_at' | 'id'>>(batches: readonly B[]): B | null {
  return batches.filter(canServe).sort(compareQueueOrder)[0] ?? null;
}

/**
 * A batch is finished when its names are all handed out and none of its devices is still imaging (each succeeded
 * or failed). Its `completed` status waits for this, not for the last name: see batch.service.ts.
 */
export const areDevicesFinished = (batch: Pick<Batch, 'remaining_count' | 'imaging_count'>): boolean => batch.remaining_count === 0 && batch.imaging_count === 0;

export function batchActivity(batch: Pick<Batch, 'id' | 'status' | 'remaining_count'>, servingId: number | null): BatchActivity {
  if (batch.status !== 'active') return batch.status;
  if (batch.remaining_count === 0) return 'imaging';
  return batch.id === servingId ? 'serving' : 'queued';
}
