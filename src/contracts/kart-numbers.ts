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
/** Bounds how much one import can ask for, so a typo like "1-99999999" is an error, not a memory spike. */
const MAX_NUMBERS_PER_IMPORT = KART_NUMBER_MAX;

export function parseKartNumbers(input: string | ReadonlyArray<string | number>): ParsedKartNumbers {
  const tokens = (typeof input === 'string' ? [input] : input)
    .flatMap((item) => (typeof item === 'number' ? [String(item)] : item.split(/[,;\n\r\t]+/)))
    .map((token) => token.trim())
    .filter((token) => token.length > 0);

  const invalid: string[] = [];
  const seen = new Set<number>();
  let repeated = 0;
  const add = (n: number) => (seen.has(n) ? repeated++ : seen.add(n));
  const inRange = (n: number) => Number.isSafeInteger(n) && n >= KART_NUMBER_MIN && n <= KART_NUMBER_MAX;

  for (const token of tokens) {
    const range = RANGE.exec(token);
    if (range) {
      const from = Number(range[1]);
      const to = Number(range[2]);
      if (!inRange(from) || !inRange(to) || from > to) invalid.push(token);
      else if (invalid.length === 0) for (let n = from; n <= to; n++) add(n);
    } else if (SINGLE.test(token) && inRange(Number(token))) {
      if (invalid.length === 0) add(Number(token));
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
  if (seen.size === 0) throw new AppError('VALIDATION', 'No kart numbers given: enter numbers or ranges such as "1-20, 25".');
  if (seen.size > MAX_NUMBERS_PER_IMPORT) throw new AppError('VALIDATION', `At most ${MAX_NUMBERS_PER_IMPORT} kart numbers per import.`);
  return { numbers: [...seen].sort((a, b) => a - b), repeated };
}

export const kartHostname = (venueCode: string, kartNumber: number): string => `KXP2-${venueCode}-${String(kartNumber).padStart(3, '0')}`;

export const serialHostname = (venueCode: string, serial: string): string => `RXP2-${venueCode}-${serial.slice(-8).toUpperCase()}`;
