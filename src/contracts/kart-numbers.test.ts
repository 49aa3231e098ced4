import { describe, expect, it } from 'vitest';
import { AppError } from './errors.js';
import { kartHostname, parseKartNumbers, serialHostname } from './kart-numbers.js';

describe('parseKartNumbers', () => {
  it('expands ranges and lists in numeric order', () => {
    expect(parseKartNumbers('1-5, 25, 30-32').numbers).toEqual([1, 2, 3, 4, 5, 25, 30, 31, 32]);
  });

  it('accepts one number per line, semicolons, tabs and a list of mixed tokens', () => {
    expect(parseKartNumbers('7\n3\r\n12;4\t9').numbers).toEqual([3, 4, 7, 9, 12]);
    expect(parseKartNumbers([5, '1-2', ' 8 ']).numbers).toEqual([1, 2, 5, 8]);
  });

  it('counts numbers repeated inside the input', () => {
    expect(parseKartNumbers('1-3, 2, 3, 3')).toEqual({ numbers: [1, 2, 3], repeated: 3 });
  });

  it('tolerates spaces around the dash of a range', () => {
    expect(parseKartNumbers('10 - 12').numbers).toEqual([10, 11, 12]);
  });

  it.each([
    ['abc', ['abc']],
    ['0', ['0']],
    ['10000', ['10000']],
    ['20-10', ['20-10']],
    ['1-5, x, 7, 9-3, -4', ['x', '9-3', '-4']],
    ['1.5', ['1.5']],
    ['5-', ['5-']],
  ])('rejects %j naming every offending token', (input, invalid) => {
    try {
      parseKartNumbers(input);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('VALIDATION');
      expect((error as AppError).details).toEqual({ invalid_tokens: invalid });
      for (const token of invalid) expect((error as AppError).message).toContain(`"${token}"`);
    }
  });

  it('rejects an empty import', () => {
    expect(() => parseKartNumbers(' , \n ')).toThrow(/No kart numbers given/);
  });

  it('accepts the whole 1–9999 range', () => {
    expect(parseKartNumbers('1-9999').numbers).toHaveLength(9999);
  });

  it('merges overlapping and repeated ranges without expanding each one', () => {
    expect(parseKartNumbers('5-10, 1-6, 8, 12-12, 11')).toEqual({ numbers: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], repeated: 3 });
  });

  it('reads 100 kB of repeated "1-9999" in time proportional to the text, not to what it names (#16)', () => {
    const input = Array.from({ length: 14_285 }, () => '1-9999').join(',').slice(0, 100_000).replace(/,[^,]*$/, '');
    const ranges = input.split(',').length;
    const started = performance.now();
    const parsed = parseKartNumbers(input);
    // Expanding every range (the defect) took seconds; merging first takes milliseconds. A generous bound for a busy machine.
    expect(performance.now() - started).toBeLessThan(1000);
    expect(parsed.numbers).toHaveLength(9999);
    expect(parsed.repeated).toBe(ranges * 9999 - 9999);
  });
});

describe('hostnames', () => {
  it('zero-pads kart numbers to three digits and keeps longer ones', () => {
    expect(kartHostname('CORO', 7)).toBe('KXP2-CORO-007');
    expect(kartHostname('CORO', 120)).toBe('KXP2-CORO-120');
    expect(kartHostname('CORO', 1024)).toBe('KXP2-CORO-1024');
  });

  it('derives RXP2 names from the last 8 characters of the serial, upper-case', () => {
    expect(serialHostname('ARIA', '10000000abc12345')).toBe('RXP2-ARIA-ABC12345');
    expect(serialHostname('ARIA', 'ab12')).toBe('RXP2-ARIA-AB12');
  });
});
