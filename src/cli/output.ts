// How the CLI talks to a person: aligned tables, one-line errors, non-zero exit codes.
import { isAppError } from '../contracts/errors.js';
import { ConfigError } from '../server/config.js';

export function printTable<T extends object>(rows: T[], columns: Array<keyof T & string>, empty = 'Nothing to show.'): void {
  if (rows.length === 0) {
    say(empty);
    return;
  }
  const text = (value: unknown) => (value === null || value === undefined ? '' : typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(1) : typeof value === 'string' ? value : JSON.stringify(value));
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => text(row[column]).length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  say(line(columns.map((c) => c.toUpperCase())));
  for (const row of rows) say(line(columns.map((column) => text(row[column]))));
}

export function printRecord(record: object): void {
  const entries = Object.entries(record);
  const width = Math.max(...entries.map(([key]) => key.length));
  for (const [key, value] of entries) {
    say(`${key.padEnd(width)}  ${value === null || value === undefined ? '-' : typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  }
}

export const say = (message: string): void => void process.stdout.write(`${message}\n`);

/** One clear line on stderr for anything a person did wrong, a stack only for bugs; returns the exit code. */
export function reportError(error: unknown): number {
  const message = isAppError(error) || error instanceof ConfigError ? error.message : `unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
  process.stderr.write(`pitcrew: ${message}\n`);
  return 1;
}
