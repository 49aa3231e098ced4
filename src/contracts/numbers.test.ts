import { describe, expect, it } from 'vitest';
import { parseByteSize, parseWholeNumber } from './numbers.js';

describe('parseWholeNumber', () => {
  it.each([
    ['42', 42],
    [' 7 ', 7],
    ['-3', -3],
    ['0', 0],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
  ])('reads %j as %d', (text, value) => {
    expect(parseWholeNumber(text)).toBe(value);
  });

  it.each(['', ' ', '1e3', '12abc', '0x10', '1.5', '+4', '--1', '9007199254740993', '99999999999999999999', 'NaN', 'Infinity'])('refuses %j', (text) => {
    expect(parseWholeNumber(text)).toBeNull();
  });

  it('keeps to the bounds it is given, both included', () => {
    expect(parseWholeNumber('1', { min: 1, max: 10 })).toBe(1);
    expect(parseWholeNumber('10', { min: 1, max: 10 })).toBe(10);
    expect(parseWholeNumber('0', { min: 1, max: 10 })).toBeNull();
    expect(parseWholeNumber('11', { min: 1, max: 10 })).toBeNull();
  });
});

describe('parseByteSize', () => {
  it.each([
    ['4096', 4096],
    ['16G', 16 * 2 ** 30],
    ['500MiB', 500 * 2 ** 20],
    ['1.5 GB', 1.5 * 2 ** 30],
    ['2t', 2 * 2 ** 40],
    ['64k', 64 * 1024],
    ['10B', 10],
    ['16Gi', 16 * 2 ** 30],
    ['0', 0],
  ])('reads %j as %d bytes', (text, bytes) => {
    expect(parseByteSize(text)).toBe(bytes);
  });

  it.each(['', 'G', '16 X', '-1G', '1e3', '16G/s', '99999999999T'])('refuses %j as a size', (text) => {
    expect(parseByteSize(text)).toBeNull();
  });

  it('takes "/s" only for rates', () => {
    expect(parseByteSize('20M/s', { perSecond: true })).toBe(20 * 2 ** 20);
    expect(parseByteSize('20M', { perSecond: true })).toBe(20 * 2 ** 20);
    expect(parseByteSize('20M/s')).toBeNull();
  });
});
