// Argument parsers: a bad value is a one-line error naming what was expected.
import { AppError } from '../contracts/errors.js';
import { parseWholeNumber } from '../contracts/numbers.js';

export function parseId(value: string, what = 'id'): number {
  const id = parseWholeNumber(value, { min: 1 });
  if (id === null) throw new AppError('VALIDATION', `${what} must be a positive whole number, not "${value}".`);
  return id;
}

/** A whole number, within `bounds` when given (e.g. a field's limits from src/contracts/limits.ts). */
export function parseInteger(value: string, what: string, bounds?: { min: number; max: number }): number {
  const n = parseWholeNumber(value, bounds);
  if (n === null) throw new AppError('VALIDATION', `${what} must be a whole number${bounds ? ` from ${bounds.min} to ${bounds.max}` : ''}, not "${value}".`);
  return n;
}

/** Case-insensitive choice from a closed set; product types are upper-case, statuses lower-case. */
export function oneOf<T extends string>(allowed: readonly T[], label: string) {
  return (value: string): T => {
    const match = allowed.find((candidate) => candidate.toLowerCase() === value.toLowerCase());
    if (!match) throw new AppError('VALIDATION', `${label} must be one of ${allowed.join(', ')}, not "${value}".`);
    return match;
  };
}
