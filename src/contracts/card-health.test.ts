import { describe, expect, it } from 'vitest';
import { cardFlagsOf, describeSdManufacturer, fleetMedian, identifyStateOf, isStandardCapacity } from './card-health.js';

const card = { card_kind: 'sd' as const, card_size_bytes: 31_914_983_424, card_capacity_check: 'ok' as const, card_write_bps: 20e6, fleet_median_write_bps: 20e6 };
const kinds = (fields: Partial<typeof card> | Record<string, unknown>) => cardFlagsOf({ ...card, ...fields }).map((f) => f.kind);

describe('the fleet median', () => {
  it('needs five real measurements', () => {
    expect(fleetMedian([10, 20, 30, 40])).toBeNull();
    expect(fleetMedian([10, 20, 30, 40, 0, -5, Number.NaN, Number.POSITIVE_INFINITY])).toBeNull();
    expect(fleetMedian([50, 10, 30, 20, 40])).toBe(30);
    expect(fleetMedian([50, 10, 30, 20, 40, 60])).toBe(35);
  });
});

describe('card flags', () => {
  it('flag a card writing under half the fleet median, not one at half or more', () => {
    expect(kinds({ card_write_bps: 9.9e6 })).toEqual(['slow']);
    expect(kinds({ card_write_bps: 10e6 })).toEqual([]);
    expect(cardFlagsOf({ ...card, card_write_bps: 5e6 })[0]!.sentence).toMatch(/25 % of the fleet's usual rate/);
  });

  it('say nothing of speed without a median, a rate, or with nonsense ones', () => {
    expect(kinds({ fleet_median_write_bps: null, card_write_bps: 1 })).toEqual([]);
    expect(kinds({ card_write_bps: null })).toEqual([]);
    expect(kinds({ fleet_median_write_bps: 0, card_write_bps: 1 })).toEqual([]);
    expect(kinds({ fleet_median_write_bps: -1, card_write_bps: 1 })).toEqual([]);
    expect(kinds({ card_write_bps: -1 })).toEqual([]);
  });

  it('flag a capacity check that found the card wrapping or dropping writes, whatever its size', () => {
    expect(kinds({ card_capacity_check: 'wrapped' })).toEqual(['capacity']);
    expect(kinds({ card_capacity_check: 'lost', card_kind: 'nvme' })).toEqual(['capacity']);
  });

  it('fall back on the sizes cards are sold at only where no check ran, and only for SD cards', () => {
    expect(kinds({ card_capacity_check: null, card_size_bytes: 45e9 })).toEqual(['capacity']);
    expect(kinds({ card_capacity_check: 'skipped', card_size_bytes: 45e9 })).toEqual(['capacity']);
    expect(kinds({ card_capacity_check: 'ok', card_size_bytes: 45e9 })).toEqual([]);
    expect(kinds({ card_capacity_check: null, card_size_bytes: 45e9, card_kind: 'nvme' })).toEqual([]);
    expect(kinds({ card_capacity_check: null, card_size_bytes: null })).toEqual([]);
    expect(kinds({ card_capacity_check: null, card_size_bytes: 0 })).toEqual([]);
  });

  it('take real cards\' sizes as standard ones', () => {
    for (const size of [31_914_983_424, 64_021_856_256, 15_931_539_456, 127_865_454_592, 3_965_190_144]) expect(isStandardCapacity(size), String(size)).toBe(true);
    for (const size of [45e9, 20e9, 0, 3e12]) expect(isStandardCapacity(size), String(size)).toBe(false);
  });
});

describe('SD manufacturers', () => {
  it('are named from the CID id, with unknown and zero ids said as such', () => {
    expect(describeSdManufacturer('0x000003')).toBe('SanDisk');
    expect(describeSdManufacturer('0x00001b')).toBe('Samsung');
    expect(describeSdManufacturer('0x0000ab')).toBe('unknown (0x0000ab)');
    expect(describeSdManufacturer('0x000000')).toMatch(/^none .*counterfeit/);
    for (const bad of [null, '', 'SanDisk', '0x1234567', '0x']) expect(describeSdManufacturer(bad)).toBeNull();
  });
});

describe('Identify state', () => {
  const at = (iso: string) => Date.parse(iso);
  it('is pending until delivered, blinks for its seconds, then ends; a new request is pending again', () => {
    const asked = { identify_requested_at: '2026-05-01T10:00:00.000Z', identify_seconds: 30, identify_delivered_at: null };
    expect(identifyStateOf({ identify_requested_at: null, identify_seconds: null, identify_delivered_at: null }, at('2026-05-01T10:00:00Z'))).toBeNull();
    expect(identifyStateOf(asked, at('2026-05-01T11:00:00Z'))).toBe('pending');
    const delivered = { ...asked, identify_delivered_at: '2026-05-01T10:00:05.000Z' };
    expect(identifyStateOf(delivered, at('2026-05-01T10:00:34Z'))).toBe('blinking');
    expect(identifyStateOf(delivered, at('2026-05-01T10:00:36Z'))).toBeNull();
    expect(identifyStateOf({ ...delivered, identify_requested_at: '2026-05-01T10:01:00.000Z' }, at('2026-05-01T10:01:01Z'))).toBe('pending');
  });
});
