// HTTP byte ranges (RFC 9110 §14) for one representation of known size: which bytes a GET answers with.
// Only single ranges are served as 206; a resuming installer never asks for more than one.

export type RangeDecision =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

const SINGLE_RANGE = /^bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i;

/**
 * Decides how to answer `Range: <header>` for a representation of `size` bytes. A header that is malformed, uses
 * another unit or asks for several ranges is ignored (a whole 200 answer is always allowed); a well-formed single
 * range that starts past the end, or an empty suffix, is unsatisfiable (416).
 */
export function decideRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined) return { kind: 'full' };
  const match = SINGLE_RANGE.exec(header);
  if (!match) return { kind: 'full' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    // Suffix range: the last N bytes (all of them when N exceeds the size).
    const length = Number(last);
    if (!Number.isSafeInteger(length)) return { kind: 'full' };
    if (length === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? Number.MAX_SAFE_INTEGER : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return { kind: 'full' };
  if (end < start) return { kind: 'full' }; // invalid, so ignored
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: Math.min(end, size - 1) };
}

/** Strong comparison of entity tags, as If-Range and If-Match require: weak tags never match. */
export function strongEtagMatches(header: string, etag: string): boolean {
  return header
    .split(',')
    .map((tag) => tag.trim())
    .some((tag) => tag === '*' || (!tag.startsWith('W/') && tag === etag));
}

/** Weak comparison, as If-None-Match requires. */
export function weakEtagMatches(header: string, etag: string): boolean {
  const bare = (tag: string) => (tag.startsWith('W/') ? tag.slice(2) : tag);
  return header
    .split(',')
    .map((tag) => tag.trim())
    .some((tag) => tag === '*' || bare(tag) === bare(etag));
}

/**
 * Whether a `Range` may be honoured given `If-Range`: only when the client's validator still names this exact
 * representation (the strong ETag, or the exact Last-Modified date); otherwise the client gets the whole file.
 */
export function ifRangeAllows(ifRange: string | undefined, etag: string, lastModified: Date): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return !value.startsWith('W/') && value === etag;
  const date = Date.parse(value);
  return Number.isFinite(date) && date === Math.floor(lastModified.getTime() / 1000) * 1000;
}
