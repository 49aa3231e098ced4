import { describe, expect, it } from 'vitest';
import { BATCH_STATUSES, DEPLOYMENT_STATUSES, FINAL_BATCH_STATUSES, FINAL_DEPLOYMENT_STATUSES, OPEN_BATCH_STATUSES, OPEN_DEPLOYMENT_STATUSES } from './domain.js';
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

describe('status sets', () => {
  it('split every batch status into open and final, once', () => {
    expect(FINAL_BATCH_STATUSES).toEqual(['completed', 'cancelled']);
    expect([...OPEN_BATCH_STATUSES, ...FINAL_BATCH_STATUSES].sort()).toEqual([...BATCH_STATUSES].sort());
  });

  it('split every deployment status into open and final, once', () => {
    expect(OPEN_DEPLOYMENT_STATUSES).toEqual(['assigned', 'downloading', 'verifying', 'customizing']);
    expect([...OPEN_DEPLOYMENT_STATUSES, ...FINAL_DEPLOYMENT_STATUSES].sort()).toEqual([...DEPLOYMENT_STATUSES].sort());
  });
});
