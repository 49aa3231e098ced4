// How the CLI talks to a person: aligned tables, one-line errors, non-zero exit codes.
import { isAppError } from '../contracts/errors.js';

export function printTable<T extends object>(rows: T[], columns: Array<keyof T & string>, empty = 'Nothing to show.'): void {
  if (rows.length === 0) {
    console.log(empty);
    return;
  }
  const text = (value: unknown) => (value === null || value === undefined ? '' : typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(1) : String(value));
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => text(row[column]).length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  console.log(line(columns.map((c) => c.toUpperCase())));
  for (const row of rows) console.log(line(columns.map((column) => text(row[column]))));
}

export function printRecord(record: object): void {
  const entries = Object.entries(record);
  const width = Math.max(...entries.map(([key]) => key.length));
  for (const [key, value] of entries) {
    console.log(`${key.padEnd(width)}  ${value === null || value === undefined ? '-' : typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  }
}

export const say = (message: string): void => console.log(message);

/** One clear line on stderr and exit code 1 for anything a person did wrong; a stack only for bugs. */
export function reportError(error: unknown): never {
  if (isAppError(error)) console.error(`pitcrew: ${error.message}`);
  else if (error instanceof Error && (error as { code?: string }).code?.startsWith('commander.')) process.exit((error as { exitCode?: number }).exitCode ?? 1);
  else console.error(`pitcrew: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
}
