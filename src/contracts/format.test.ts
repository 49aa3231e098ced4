import { describe, expect, it } from 'vitest';
import { formatAgo, formatBytes, formatCount, formatDateTime, formatDuration, formatIsoDay, formatPercent, formatRate } from './format.js';

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [512 * 2 ** 20, '512 MiB'],
    [64 * 2 ** 30, '64.0 GiB'],
    [3 * 2 ** 40, '3.0 TiB'],
    [5000 * 2 ** 40, '5000 TiB'],
    [-1536, '-1.5 KiB'],
  ])('%i bytes read as %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it.each([null, undefined, Number.NaN, Number.POSITIVE_INFINITY])('reads %s as not known', (bytes) => {
    expect(formatBytes(bytes)).toBe('—');
  });
});

describe('formatRate', () => {
  it('adds per second, and calls no movement unknown', () => {
    expect(formatRate(2 * 2 ** 20)).toBe('2.0 MiB/s');
    expect(formatRate(0)).toBe('—');
    expect(formatRate(null)).toBe('—');
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [9.4, '9s'],
    [75, '1m 15s'],
    [4000, '1h 6m'],
    [-5, '0s'],
  ])('%s seconds read as %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it('reads what is not known as —', () => {
    expect(formatDuration(undefined)).toBe('—');
    expect(formatDuration(Number.NaN)).toBe('—');
  });
});

describe('times and dates', () => {
  const now = Date.parse('2026-03-01T12:00:00Z');

  it.each([
    ['2026-03-01T11:59:58Z', 'just now'],
    ['2026-03-01T11:59:30Z', '30s ago'],
    ['2026-03-01T11:55:00Z', '5 min ago'],
    ['2026-03-01T09:00:00Z', '3 h ago'],
  ])('%s is %s', (iso, text) => {
    expect(formatAgo(iso, now)).toBe(text);
  });

  it('falls back to the full date after a day, and shows text that is no date as it is', () => {
    expect(formatAgo('2026-02-20T12:00:00Z', now)).toBe(formatDateTime('2026-02-20T12:00:00Z'));
    expect(formatAgo('not a date', now)).toBe('not a date');
    expect(formatDateTime('not a date')).toBe('not a date');
    expect(formatDateTime(null)).toBe('—');
  });

  it('writes a local day as YYYY-MM-DD with zero padding', () => {
    expect(formatIsoDay(new Date(2026, 0, 5, 23, 59))).toBe('2026-01-05');
    expect(formatIsoDay(new Date(2026, 11, 31, 0, 0))).toBe('2026-12-31');
  });
});

describe('counts and shares', () => {
  it('formats a share as a percentage and a missing one as —', () => {
    expect(formatPercent(0.8766)).toBe('87.7 %');
    expect(formatPercent(0.5, 0)).toBe('50 %');
    expect(formatPercent(null)).toBe('—');
    expect(formatCount(undefined)).toBe('—');
    expect(formatCount(0)).toBe('0');
  });
});
