// A preview of what a bulk import will add, computed as the person types with the server's own parser, so the
// preview and the import can never disagree about what a token means.
import { parseKartNumbers } from '../../../src/contracts/kart-numbers.js';
import { isAppError } from '../../../src/contracts/errors.js';

export interface KartNumberPreview {
  numbers: number[];
  invalid: string[];
  /** Numbers listed more than once in the text itself. */
  repeated: number;
}

export function previewKartNumbers(text: string): KartNumberPreview {
  if (!text.trim()) return { numbers: [], invalid: [], repeated: 0 };
  try {
    const parsed = parseKartNumbers(text);
    return { numbers: parsed.numbers, invalid: [], repeated: parsed.repeated };
  } catch (error) {
    const tokens = isAppError(error) ? (error.details?.invalid_tokens as string[] | undefined) : undefined;
    return { numbers: [], invalid: tokens ?? [isAppError(error) ? error.message : String(error)], repeated: 0 };
  }
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
