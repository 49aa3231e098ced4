// A preview of what a bulk import will add, computed as the person types. The server parses the same text and is
// the authority; this only shows the count and the tokens it will refuse, before anything is sent.
import { KART_NUMBER_MAX, KART_NUMBER_MIN } from '../../../src/contracts/domain.js';

export interface KartNumberPreview {
  numbers: number[];
  invalid: string[];
  /** Numbers listed more than once in the text itself. */
  repeated: number;
}

const inRange = (n: number) => Number.isInteger(n) && n >= KART_NUMBER_MIN && n <= KART_NUMBER_MAX;

export function previewKartNumbers(text: string): KartNumberPreview {
  const tokens = text
    .replace(/\s*[-–]\s*/g, '-')
    .split(/[\s,;]+/)
    .map((t) => t.trim())
    .filter(Boolean);
  const seen = new Set<number>();
  const invalid: string[] = [];
  let repeated = 0;
  const add = (n: number) => {
    if (seen.has(n)) repeated += 1;
    else seen.add(n);
  };
  for (const token of tokens) {
    const range = /^(\d+)-(\d+)$/.exec(token);
    if (range) {
      const from = Number(range[1]);
      const to = Number(range[2]);
      if (!inRange(from) || !inRange(to) || from > to) invalid.push(token);
      else for (let n = from; n <= to; n++) add(n);
    } else if (/^\d+$/.test(token) && inRange(Number(token))) {
      add(Number(token));
    } else {
      invalid.push(token);
    }
  }
  return { numbers: [...seen].sort((a, b) => a - b), invalid, repeated };
}

/** "1–20, 25, 30–32": the numbers folded back into ranges, for a short summary. */
export function summariseNumbers(numbers: readonly number[], maxParts = 8): string {
  const parts: string[] = [];
  let start: number | undefined;
  let prev: number | undefined;
  const flush = () => {
    if (start === undefined || prev === undefined) return;
    parts.push(start === prev ? String(start) : `${start}–${prev}`);
  };
  for (const n of numbers) {
    if (prev !== undefined && n === prev + 1) {
      prev = n;
      continue;
    }
    flush();
    start = n;
    prev = n;
  }
  flush();
  return parts.length > maxParts ? `${parts.slice(0, maxParts).join(', ')}, … (${parts.length - maxParts} more ranges)` : parts.join(', ');
}
