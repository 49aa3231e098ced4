// Numbers as people type them (forms, command-line flags, environment variables), read one way everywhere: a whole
// number is digits with an optional minus sign, nothing else ("1e3", "12abc", "0x10" and "" are not), and sizes take
// binary units.

/** The whole number `text` spells, within [min, max] (default: any exact integer); null for anything else. */
export function parseWholeNumber(text: string, { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER }: { min?: number; max?: number } = {}): number | null {
  const trimmed = text.trim();
  if (!/^-?\d+$/.test(trimmed)) return null;
  const value = Number(trimmed);
  return Number.isSafeInteger(value) && value >= min && value <= max ? value : null;
}

const UNIT_FACTORS = { B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 } as const;

/**
 * A size with an optional binary unit, case-insensitive: "16G", "16Gi", "500MiB", "1.5 GB", "4096" (bytes) → bytes, whole.
 * With `perSecond`, a rate may end in "/s" ("20M/s"). Null for anything else, or beyond exact integers.
 */
export function parseByteSize(text: string, { perSecond = false }: { perSecond?: boolean } = {}): number | null {
  const match = /^(\d+(?:\.\d+)?)\s*(?:([KMGT])i?B?|B)?(\/s)?$/i.exec(text.trim());
  if (!match || (match[3] && !perSecond)) return null;
  const factor = UNIT_FACTORS[(match[2] ?? 'B').toUpperCase() as keyof typeof UNIT_FACTORS];
  const value = Math.floor(Number(match[1]) * factor);
  return Number.isSafeInteger(value) ? value : null;
}
