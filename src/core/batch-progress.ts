// A batch's devices moved (a name handed out, a device finished, failed or started over): tell dashboards the new
// counts and complete the batch once its devices are done. Runs inside the caller's write transaction.
import type { Batch } from '../contracts/domain.js';
import { areDevicesFinished } from '../contracts/batch-queue.js';
import { isoOf, type CoreContext, type Emit } from './context.js';

/**
 * Why `completed` waits for the devices rather than for the last name (the seed completed a batch when its last
 * hostname was handed out): "completed" on a batch whose devices are still imaging, or failed, told an operator the
 * work was done when it was not. The status keeps its seed meaning — final, reached automatically, `batch_completed`
 * fired once — and now also means every device finished (succeeded or failed). Until then a batch whose names are
 * gone stays `active` but serves nobody (the queue rule in src/contracts/batch-queue.ts skips it), so a batch
 * behind it takes the next device. A paused batch completes when it is started again.
 */
export function settleBatch(ctx: CoreContext, emit: Emit, batchId: number): Batch | undefined {
  const found = ctx.repos.batches.find(batchId);
  if (!found) return undefined;
  const completes = found.status === 'active' && areDevicesFinished(found);
  const batch = completes ? ctx.repos.batches.setStatus(found.id, 'completed', isoOf(ctx.now())) : found;
  emit('batch_progress', {
    batch_id: batch.id,
    status: batch.status,
    total_count: batch.total_count,
    remaining_count: batch.remaining_count,
    handed_out_count: batch.handed_out_count,
    imaging_count: batch.imaging_count,
    succeeded_count: batch.succeeded_count,
    failed_count: batch.failed_count,
  });
  if (completes) emit('batch_completed', { batch_id: batch.id, batch });
  return batch;
}
