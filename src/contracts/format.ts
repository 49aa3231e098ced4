// How numbers, sizes, rates and times read for a person: the same in the web UI, the CLI, the installer's log and
// error messages. What is not known (null, undefined, not a number) reads as "—".

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;
const UNKNOWN = '—';

const isKnown = (n: number | null | undefined): n is number => n !== null && n !== undefined && Number.isFinite(n);

/** 1536 → "1.5 KiB"; whole numbers from 100 up ("512 MiB"), one decimal below. */
export function formatBytes(bytes: number | null | undefined): string {
  if (!isKnown(bytes)) return UNKNOWN;
  if (bytes < 0) return `-${formatBytes(-bytes)}`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${UNITS[unit]}`;
}

/** Bytes per second; nothing moving (0) reads as unknown, as a stalled transfer has no rate worth showing. */
export const formatRate = (bytesPerSecond: number | null | undefined): string =>
  !bytesPerSecond ? UNKNOWN : `${formatBytes(bytesPerSecond)}/s`;

/** 75 → "1m 15s", 4000 → "1h 6m", 9 → "9s". */
export function formatDuration(seconds: number | null | undefined): string {
  if (!isKnown(seconds)) return UNKNOWN;
  const total = Math.max(0, Math.round(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s.toString().padStart(2, '0')}s`;
  return `${s}s`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

/** An ISO timestamp as date and time in the reader's locale and time zone; text that is no date is shown as is. */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return UNKNOWN;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateTime.format(date);
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return UNKNOWN;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : timeOnly.format(date);
}

/** "3 min ago": for things that just happened, where the clock time matters less than the distance. */
export function formatAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return UNKNOWN;
  const then = new Date(iso).getTime();
  if (Number.isNaN(then)) return iso;
  const seconds = Math.round((now - then) / 1000);
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return formatDateTime(iso);
}

export const formatPercent = (ratio: number | null | undefined, digits = 1): string =>
  !isKnown(ratio) ? UNKNOWN : `${(ratio * 100).toFixed(digits)} %`;

export const formatCount = (n: number | null | undefined): string =>
  n === null || n === undefined ? UNKNOWN : n.toLocaleString();

/** A date as YYYY-MM-DD in the local time zone (the server's, or the operator's browser): a "day" as people mean it. */
export function formatIsoDay(date: Date): string {
  const y = date.getFullYear();
  const m = (date.getMonth() + 1).toString().padStart(2, '0');
  const d = date.getDate().toString().padStart(2, '0');
  return `${y}-${m}-${d}`;
}
