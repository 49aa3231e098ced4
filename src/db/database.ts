// The one place SQLite is opened. Every connection — server, CLI, benchmark worker — goes through here.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrate } from './migrate.js';

export type Db = Database.Database;

export interface OpenOptions {
  /** Apply pending migrations (the server and CLI do; a worker sharing an already-migrated file need not). */
  migrate?: boolean;
  readonly?: boolean;
}

export function openDatabase(file: string, options: OpenOptions = {}): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file, { readonly: options.readonly ?? false });
  // WAL: readers (dashboards, CSV exports) never block the writer that hands out hostnames, and commits are
  // sequential appends instead of rewrites of the main file.
  db.pragma('journal_mode = WAL');
  // In WAL, NORMAL only risks the last commits on power loss, never corruption; FULL costs 3x on assignment.
  db.pragma('synchronous = NORMAL');
  // Several processes (server, CLI, workers) share one file: wait for the write lock instead of failing.
  db.pragma('busy_timeout = 10000');
  // SQLite leaves foreign keys off by default; the schema relies on them.
  db.pragma('foreign_keys = ON');
  if (options.migrate ?? true) migrate(db);
  return db;
}

/**
 * Runs `work` in a write transaction taken up front (BEGIN IMMEDIATE), so two connections can never both read
 * "kart 7 is free" and then both write it: the second waits for the first to commit.
 */
export function inWriteTransaction<T>(db: Db, work: () => T): T {
  return db.transaction(work).immediate();
}

export const nowIso = (): string => new Date().toISOString();

/**
 * A number that changes whenever another connection (the CLI, a second server) commits to the file — never for this
 * connection's own commits.
 */
export const dataVersion = (db: Db): number => db.pragma('data_version', { simple: true }) as number;
