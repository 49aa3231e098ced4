import type { Batch } from '../../../src/contracts/domain.js';
import { ProgressBar } from './ui.js';

const VARIANT: Record<Batch['status'], string> = { pending: 'secondary', active: 'primary', paused: 'warning', completed: 'success', cancelled: 'dark' };

/** How many of a batch's devices have been handed a hostname so far. */
export function BatchProgress({ batch, compact = false }: { batch: Pick<Batch, 'id' | 'total_count' | 'remaining_count' | 'status'>; compact?: boolean }) {
  const served = batch.total_count - batch.remaining_count;
  const percent = batch.total_count > 0 ? (served / batch.total_count) * 100 : 0;
  return (
    <div data-testid={`batch-progress-${batch.id}`} data-served={served} data-total={batch.total_count}>
      <ProgressBar value={percent} label={`Batch ${batch.id}: ${served} of ${batch.total_count} devices`} variant={VARIANT[batch.status]} striped={batch.status === 'active'} height={compact ? 6 : 12} />
      <div className="small text-body-secondary mt-1">
        <span className="fw-semibold text-body">{served}</span> of {batch.total_count} devices served · {batch.remaining_count} to go
      </div>
    </div>
  );
}

export const describeBatch = (batch: Pick<Batch, 'id' | 'name' | 'venue_code' | 'product_type'>): string =>
  batch.name ? batch.name : `${batch.product_type} × ${batch.venue_code} (#${batch.id})`;
