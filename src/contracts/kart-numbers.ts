// Kart-number list syntax ("1-20, 25, 30-32", one number per line, or a list of numbers and such tokens) and the
// hostname formats: shared by the domain core and the web app's import preview, so both read input alike.
import { KART_NUMBER_MAX, KART_NUMBER_MIN } from './domain.js';
import { AppError } from './errors.js';

export interface ParsedKartNumbers {
  /** Distinct numbers, ascending. */
  numbers: number[];
  /** Numbers named more than once in the input itself. */
  repeated: number;
}

const RANGE = /^(\d+)\s*-\s*(\d+)$/;
const SINGLE = /^\d+$/;

/**
 * Reads a kart-number list. The work is proportional to the text, never to what it names: ranges are merged as
 * intervals and only the merged ones are expanded, so at most 9999 numbers are ever produced, however many times
 * the input repeats "1-9999" (a 100 kB paste of it used to expand to 140 million numbers while both listeners
 * waited).
 */
export function parseKartNumbers(input: string | ReadonlyArray<string | number>): ParsedKartNumbers {
  const tokens = (typeof input === 'string' ? [input] : input)
    .flatMap((item) => (typeof item === 'number' ? [String(item)] : item.split(/[,;\n\r\t]+/)))
    .map((token) => token.trim())
    .filter((token) => token.length > 0);

  const invalid: string[] = [];
  const intervals: Array<[number, number]> = [];
  const inRange = (n: number) => Number.isSafeInteger(n) && n >= KART_NUMBER_MIN && n <= KART_NUMBER_MAX;

  for (const token of tokens) {
    const range = RANGE.exec(token);
    if (range) {
      const from = Number(range[1]);
      const to = Number(range[2]);
      if (!inRange(from) || !inRange(to) || from > to) invalid.push(token);
      else intervals.push([from, to]);
    } else if (SINGLE.test(token) && inRange(Number(token))) {
      intervals.push([Number(token), Number(token)]);
    } else {
      invalid.push(token);
    }
  }
  if (invalid.length > 0) {
    const shown = invalid.slice(0, 20).map((t) => `"${t.slice(0, 40)}"`).join(', ');
    const more = invalid.length > 20 ? ` and ${invalid.length - 20} more` : '';
    throw new AppError(
      'VALIDATION',
      `Nothing was imported: ${invalid.length === 1 ? 'this entry is' : 'these entries are'} not kart numbers ` +
        `${KART_NUMBER_MIN}–${KART_NUMBER_MAX} or ranges like 1-20 (low to high): ${shown}${more}`,
      { invalid_tokens: invalid },
    );
  }
  if (intervals.length === 0) throw new AppError('VALIDATION', 'No kart numbers given: enter numbers or ranges such as "1-20, 25".');

  intervals.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let named = 0;
  const merged: Array<[number, number]> = [];
  for (const [from, to] of intervals) {
    named += to - from + 1;
    const last = merged.at(-1);
    if (last && from <= last[1] + 1) last[1] = Math.max(last[1], to);
    else merged.push([from, to]);
  }
  // Merged intervals lie within 1–9999 and are disjoint, so this is at most 9999 numbers.
  const numbers: number[] = [];
  for (const [from, to] of merged) for (let n = from; n <= to; n++) numbers.push(n);
  return { numbers, repeated: named - numbers.length };
}

export const kartHostname = (venueCode: string, kartNumber: number): string => `KXP2-${venueCode}-${String(kartNumber).padStart(3, '0')}`;

export const serialHostname = (venueCode: string, serial: string): string => `RXP2-${venueCode}-${serial.slice(-8).toUpperCase()}`;
