import { describe, expect, it } from 'vitest';
import { BATCH_STATUSES, OPEN_BATCH_STATUSES } from './domain.js';
import { BATCH_TRANSITIONS, batchActionsFrom } from './batch-queue.js';

describe('the batch status machine', () => {
  it.each([
    ['pending', ['start', 'cancel']],
    ['active', ['pause', 'cancel']],
    ['paused', ['start', 'cancel']],
    ['completed', []],
    ['cancelled', []],
  ] as const)('offers from %s exactly %j', (status, actions) => {
    expect(batchActionsFrom(status)).toEqual(actions);
  });

  it('lets an operator act on every open batch and on no finished one', () => {
    for (const status of BATCH_STATUSES) expect(batchActionsFrom(status).length > 0).toBe(OPEN_BATCH_STATUSES.includes(status));
  });

  it('never leads an operator to completed, which only the devices finishing reach', () => {
    expect(Object.values(BATCH_TRANSITIONS).map((rule) => rule.to)).not.toContain('completed');
  });
});
