// Forward-only migrations: src/db/migrations/NNNN_name.sql, applied in order, each in its own transaction,
// with the schema version kept in SQLite's user_version.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file, index) => {
      const version = Number(file.slice(0, 4));
      if (version !== index + 1) throw new Error(`Migration ${file} is out of sequence: expected version ${index + 1}`);
      return { version, name: file.slice(5, -4), sql: readFileSync(`${dir}/${file}`, 'utf8') };
    });
}

export const schemaVersion = (db: Database.Database): number => db.pragma('user_version', { simple: true }) as number;

/** Brings the database up to `target` (default: the newest). Returns the versions applied. */
export function migrate(db: Database.Database, target?: number, migrations = loadMigrations()): number[] {
  const current = schemaVersion(db);
  const newest = migrations.at(-1)?.version ?? 0;
  if (current > newest) {
    throw new Error(`The database is at schema version ${current}, newer than this Pitcrew knows (${newest}); upgrade Pitcrew.`);
  }
  const applied: number[] = [];
  for (const migration of migrations) {
    if (migration.version <= current || (target !== undefined && migration.version > target)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    }).immediate();
    applied.push(migration.version);
  }
  return applied;
}
