// Start / pause / cancel for one batch, offering only the moves the server's status machine allows from its state.
import { useState } from 'react';
import type { Batch } from '../../../src/contracts/domain.js';
import { batchActionsFrom, type BatchAction } from '../../../src/contracts/batch-queue.js';
import { api } from '../api/api.client.js';
import { usePermissions } from '../auth/auth.context.js';
import { describeBatch } from './batch-progress.js';
import { useConfirm } from './modal.js';
import { useToast } from './toast.provider.js';
import { Busy } from './ui.js';

export function BatchActions({ batch, onChanged, size = 'sm' }: { batch: Batch; onChanged: (batch: Batch) => void; size?: 'sm' | 'md' }) {
  const can = usePermissions();
  const toast = useToast();
  const confirm = useConfirm();
  const [busy, setBusy] = useState<BatchAction | null>(null);
  if (!can.canWrite) return null;
  const legal = batchActionsFrom(batch.status);
  if (legal.length === 0) return null;

  const run = async (action: BatchAction) => {
    if (action === 'cancel') {
      const ok = await confirm({
        title: `Cancel ${describeBatch(batch)}?`,
        body: `${batch.remaining_count} of ${batch.total_count} devices have not been served yet. A cancelled batch cannot be started again; its unused kart numbers stay in the pool.`,
        confirmLabel: 'Cancel batch',
      });
      if (!ok) return;
    }
    setBusy(action);
    try {
      const { batch: updated } = await api.batches[action](batch.id);
      toast.success(`${describeBatch(updated)} is now ${updated.status}.`);
      onChanged(updated);
    } catch (error) {
      toast.error(error, `Could not ${action} the batch`);
    } finally {
      setBusy(null);
    }
  };

  const cls = size === 'sm' ? 'btn btn-sm' : 'btn';
  return (
    <div className="btn-group" role="group" aria-label={`Actions for batch ${batch.id}`}>
      {legal.includes('start') && (
        <button type="button" className={`${cls} btn-success`} disabled={busy !== null} onClick={() => void run('start')} data-testid={`batch-start-${batch.id}`}>
          <Busy busy={busy === 'start'}>{batch.status === 'paused' ? 'Resume' : 'Start'}</Busy>
        </button>
      )}
      {legal.includes('pause') && (
        <button type="button" className={`${cls} btn-warning`} disabled={busy !== null} onClick={() => void run('pause')} data-testid={`batch-pause-${batch.id}`}>
          <Busy busy={busy === 'pause'}>Pause</Busy>
        </button>
      )}
      {legal.includes('cancel') && (
        <button type="button" className={`${cls} btn-outline-danger`} disabled={busy !== null} onClick={() => void run('cancel')} data-testid={`batch-cancel-${batch.id}`}>
          <Busy busy={busy === 'cancel'}>Cancel</Busy>
        </button>
      )}
    </div>
  );
}
