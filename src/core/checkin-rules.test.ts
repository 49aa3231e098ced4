// The attention and first-boot filters of the history are SQL (src/db/deployment.repository.ts); the dashboard
// decides with the rules in src/contracts. Every combination of the fields those rules read is written to a real
// database and both must pick the same deployments.
import { afterEach, describe, expect, it } from 'vitest';
import { attentionReasonOf } from '../contracts/attention.js';
import { BOOT_STATES, bootStateOf } from '../contracts/checkin.js';
import type { Deployment } from '../contracts/domain.js';
import { createCoreFixture, type CoreFixture } from './test-support/core-fixture.js';

let f: CoreFixture;
afterEach(() => f.close());

const NOW = Date.parse('2026-06-15T10:00:00.000Z');
const at = (minutes: number) => new Date(NOW + minutes * 60_000).toISOString();

describe('the SQL filters and the contracts rules agree', () => {
  it('on every combination of status, check-in deadline, boot, capacity check and resolution', () => {
    f = createCoreFixture();
    f.setClock(new Date(NOW));
    f.core.venues.create({ code: 'CORO', name: 'Coronado' });
    const insert = f.db.prepare(`
      INSERT INTO deployments (hostname, product_type, venue_code, status, bytes_total, started_at, updated_at, completed_at,
                               checkin_due_at, booted_at, card_capacity_check, attention_resolved_at, attention_resolution, attention_resolved_by)
      VALUES (@hostname, 'KXP2', 'CORO', @status, 0, @started_at, @updated_at, @completed_at, @checkin_due_at, @booted_at,
              @card_capacity_check, @attention_resolved_at, @attention_resolution, @by)`);
    let n = 0;
    for (const status of ['downloading', 'completed', 'failed', 'superseded'] as const) {
      for (const updated of [-200, -1]) {
        for (const due of [null, -5, 0, 5]) {
          for (const booted of [null, -3]) {
            // Resolutions before and after completion (at `updated`): a stall's acknowledgement does not cover the card.
            for (const resolution of [null, ['acknowledged', -10], ['acknowledged', 1], ['reimage', -10], ['reimage', 1], ['reimaged', -10]] as const) {
              for (const capacityCheck of [null, 'ok', 'skipped', 'wrapped', 'lost'] as const) {
                insert.run({
                  hostname: `KXP2-CORO-${String(++n).padStart(5, '0')}`,
                  status,
                  started_at: at(updated - 30),
                  updated_at: at(updated),
                  completed_at: status === 'downloading' ? null : at(updated),
                  checkin_due_at: due === null ? null : at(due),
                  booted_at: booted === null ? null : at(booted),
                  card_capacity_check: capacityCheck,
                  attention_resolved_at: resolution ? at(resolution[1]) : null,
                  attention_resolution: resolution ? resolution[0] : null,
                  by: resolution ? 'test' : null,
                });
              }
            }
          }
        }
      }
    }
    const all = f.core.deployments.list({ limit: 10_000, page: 1 }).items;
    expect(all).toHaveLength(n);
    const ids = (items: Deployment[]) => items.map((d) => d.id).sort((a, b) => a - b);

    const attention = f.core.deployments.list({ attention: true, limit: 10_000, page: 1 }).items;
    const expected = all.filter((d) => attentionReasonOf(d, NOW) !== null);
    expect(ids(attention)).toEqual(ids(expected));
    for (const reason of ['failed', 'stalled', 'not-booted', 'counterfeit-card'] as const) expect(expected.some((d) => attentionReasonOf(d, NOW) === reason), reason).toBe(true);
    // Counterfeit cards both resolved (off the lane) and past their check-in deadline (on it as not booted).
    const counterfeit = all.filter((d) => d.status === 'completed' && d.card_capacity_check === 'wrapped');
    expect(counterfeit.some((d) => attentionReasonOf(d, NOW) === null)).toBe(true);
    expect(counterfeit.some((d) => attentionReasonOf(d, NOW) === 'not-booted')).toBe(true);

    for (const state of BOOT_STATES) {
      const listed = f.core.deployments.list({ boot: state, limit: 10_000, page: 1 }).items;
      const byRule = all.filter((d) => bootStateOf(d, NOW) === state);
      expect(ids(listed), state).toEqual(ids(byRule));
      expect(byRule.length, state).toBeGreaterThan(0);
    }
  });
});
