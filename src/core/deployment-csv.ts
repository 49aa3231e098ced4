// Deployment history as CSV (RFC 4180), one row at a time so an export of any size streams.
import type { Deployment } from '../contracts/domain.js';

export const DEPLOYMENT_CSV_COLUMNS = [
  'id', 'hostname', 'status', 'venue_code', 'product_type', 'batch_id', 'serial_number', 'mac_address', 'ip_address',
  'image_version', 'image_checksum', 'progress', 'bytes_done', 'bytes_total', 'started_at', 'updated_at', 'completed_at', 'error_message',
  // Appended, so existing spreadsheets keep their columns: written vs booted.
  'checkin_due_at', 'booted_at',
] as const satisfies ReadonlyArray<keyof Deployment>;

function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'string' ? value : JSON.stringify(value);
  // A leading =, +, - or @ would run as a formula when a spreadsheet opens the file.
  if (/^[=+\-@\t\r]/.test(text) && typeof value === 'string') text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function* deploymentCsvLines(rows: Iterable<Deployment>): Generator<string> {
  yield `${DEPLOYMENT_CSV_COLUMNS.join(',')}\r\n`;
  for (const row of rows) yield `${DEPLOYMENT_CSV_COLUMNS.map((column) => csvField(row[column])).join(',')}\r\n`;
}
