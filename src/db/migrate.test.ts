import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from './database.js';
import { loadMigrations, migrate, schemaVersion } from './migrate.js';

const migrations = loadMigrations();
const newest = migrations.at(-1)!.version;

/** Table and index definitions, to compare databases built by different migration paths. */
const schemaOf = (db: Database.Database) =>
  db.prepare("SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all();

describe('migrations', () => {
  let dir: string;
  beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'pitcrew-migrate-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('are numbered without gaps', () => {
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
  });

  it('bring an empty database to the newest version with WAL and foreign keys on', () => {
    const db = openDatabase(join(dir, 'fresh.db'));
    expect(schemaVersion(db)).toBe(newest);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('synchronous', { simple: true })).toBe(1);
    db.close();
  });

  it.each(migrations.slice(0, -1).map((m) => m.version))('upgrade a database left at version %i to the same schema as a fresh one', (start) => {
    const fresh = openDatabase(join(dir, 'fresh.db'));
    const old = new Database(join(dir, `v${start}.db`));
    migrate(old, start);
    expect(schemaVersion(old)).toBe(start);
    old.close();
    const upgraded = openDatabase(join(dir, `v${start}.db`));
    expect(schemaVersion(upgraded)).toBe(newest);
    expect(schemaOf(upgraded)).toEqual(schemaOf(fresh));
    upgraded.close();
    fresh.close();
  });

  it('keep data written at an earlier version', () => {
    const old = new Database(join(dir, 'old.db'));
    migrate(old, 1);
    old.prepare("INSERT INTO venues (code, name, created_at) VALUES ('CORO', 'Coronado', '2026-01-01T00:00:00Z')").run();
    old.close();
    const db = openDatabase(join(dir, 'old.db'));
    expect(db.prepare('SELECT name FROM venues').pluck().get()).toBe('Coronado');
    db.close();
  });

  it('5 and 6 turn deployments closed as superseded before that state existed into superseded ones, and know the stale sweep\'s (#16)', () => {
    const old = new Database(join(dir, 'old.db'));
    migrate(old, 4);
    old.prepare("INSERT INTO venues (code, name, created_at) VALUES ('CORO', 'Coronado', '2026-01-01T00:00:00Z')").run();
    const insert = old.prepare(`INSERT INTO deployments (hostname, product_type, venue_code, status, error_message, started_at, updated_at, completed_at, eta_s)
                                VALUES ('KXP2-CORO-001', 'KXP2', 'CORO', ?, ?, '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', ?, ?)`);
    insert.run('failed', 'Superseded: the device asked for its configuration again before finishing.', '2026-01-01T00:01:00Z', null);
    insert.run('failed', 'Checksum mismatch', '2026-01-01T00:01:00Z', null);
    insert.run('downloading', null, null, 12);
    insert.run('failed', 'No report from the device for 10 minutes (last status: verifying); marked failed.', '2026-01-01T00:11:00Z', null);
    old.close();
    const db = openDatabase(join(dir, 'old.db'));
    expect(db.prepare('SELECT id, status, message, error_message, eta_s FROM deployments ORDER BY id').all()).toEqual([
      { id: 1, status: 'superseded', message: 'Superseded: the device asked for its configuration again before finishing.', error_message: null, eta_s: null },
      { id: 2, status: 'failed', message: null, error_message: 'Checksum mismatch', eta_s: null },
      { id: 3, status: 'downloading', message: null, error_message: null, eta_s: 12 },
      { id: 4, status: 'failed', message: null, error_message: expect.stringMatching(/^No report/), eta_s: null },
    ]);
    // 6: what the stale sweep closed is known as such, so a late final report can overrule it.
    expect(db.prepare('SELECT id, swept_at FROM deployments WHERE swept_at IS NOT NULL').all()).toEqual([{ id: 4, swept_at: '2026-01-01T00:11:00Z' }]);
    expect(() => db.prepare("UPDATE deployments SET status = 'superseded' WHERE id = 3").run()).toThrow(/CHECK/);
    db.close();
  });

  it('the generalisation migration leaves every image registered before it generalised, with no steps listed yet', () => {
    const generalization = migrations.find((m) => m.name === 'generalization')!;
    const old = new Database(join(dir, 'old.db'));
    migrate(old, generalization.version - 1);
    old.prepare("INSERT INTO images (product_type, version, filename, size_bytes, sha256, uploaded_at, active) VALUES ('KXP2', '1', 'a.img', 1, ?, 'now', 1)").run('a'.repeat(64));
    old.close();
    const db = openDatabase(join(dir, 'old.db'));
    expect(db.prepare('SELECT generalize, generalization_preview FROM images').get()).toEqual({ generalize: 1, generalization_preview: null });
    expect(() => db.prepare('UPDATE images SET generalize = 2').run()).toThrow(/CHECK/);
    db.close();
  });

  it('9 starts the attention lane with recent failures only: re-imaged and day-old ones count as dealt with', () => {
    const old = new Database(join(dir, 'old.db'));
    migrate(old, 8);
    old.prepare("INSERT INTO venues (code, name, created_at) VALUES ('CORO', 'Coronado', '2026-01-01T00:00:00Z')").run();
    const insert = old.prepare(`INSERT INTO deployments (hostname, product_type, venue_code, status, error_message, started_at, updated_at, completed_at)
                                VALUES (?, 'KXP2', 'CORO', ?, ?, ?, ?, ?)`);
    const recent = new Date(Date.now() - 3_600_000).toISOString();
    const later = new Date(Date.now() - 1_800_000).toISOString();
    insert.run('KXP2-CORO-001', 'failed', 'boom', recent, recent, recent);
    insert.run('KXP2-CORO-001', 'downloading', null, later, later, null);
    insert.run('KXP2-CORO-002', 'failed', 'boom', recent, recent, recent);
    insert.run('KXP2-CORO-003', 'failed', 'boom', '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', '2026-01-01T00:01:00Z');
    old.close();
    const db = openDatabase(join(dir, 'old.db'));
    expect(db.prepare('SELECT id, attention_resolution, attention_resolved_by FROM deployments ORDER BY id').all()).toEqual([
      { id: 1, attention_resolution: 'reimaged', attention_resolved_by: 'server' },
      { id: 2, attention_resolution: null, attention_resolved_by: null },
      { id: 3, attention_resolution: null, attention_resolved_by: null },
      { id: 4, attention_resolution: 'acknowledged', attention_resolved_by: 'upgrade' },
    ]);
    expect(db.prepare('SELECT attention_resolved_at FROM deployments WHERE id = 1').pluck().get()).toBe(later);
    db.close();
  });

  it('17 starts the lane with recent counterfeit cards only: re-imaged and day-old ones count as dealt with', () => {
    const old = new Database(join(dir, 'old.db'));
    migrate(old, 16);
    old.prepare("INSERT INTO venues (code, name, created_at) VALUES ('CORO', 'Coronado', '2026-01-01T00:00:00Z')").run();
    const insert = old.prepare(`INSERT INTO deployments (hostname, product_type, venue_code, status, card_capacity_check, started_at, updated_at, completed_at, attention_resolved_at, attention_resolution)
                                VALUES (?, 'KXP2', 'CORO', ?, ?, ?, ?, ?, ?, ?)`);
    const recent = new Date(Date.now() - 3_600_000).toISOString();
    const later = new Date(Date.now() - 1_800_000).toISOString();
    const dayOld = '2026-01-01T00:01:00Z';
    insert.run('KXP2-CORO-001', 'completed', 'wrapped', recent, recent, recent, null, null); // deployed again since
    insert.run('KXP2-CORO-001', 'downloading', null, later, later, null, null, null);
    insert.run('KXP2-CORO-002', 'completed', 'lost', recent, recent, recent, null, null); // recent: stays on the lane
    insert.run('KXP2-CORO-003', 'completed', 'wrapped', dayOld, dayOld, dayOld, null, null); // day-old
    insert.run('KXP2-CORO-004', 'completed', 'ok', dayOld, dayOld, dayOld, null, null); // a good card: untouched
    insert.run('KXP2-CORO-005', 'completed', 'lost', dayOld, dayOld, dayOld, '2026-01-01T00:00:30Z', 'acknowledged'); // a stall acknowledged before it was written
    old.close();
    const db = openDatabase(join(dir, 'old.db'));
    expect(db.prepare('SELECT id, attention_resolution, attention_resolved_by FROM deployments ORDER BY id').all()).toEqual([
      { id: 1, attention_resolution: 'reimaged', attention_resolved_by: 'server' },
      { id: 2, attention_resolution: null, attention_resolved_by: null },
      { id: 3, attention_resolution: null, attention_resolved_by: null },
      { id: 4, attention_resolution: 'acknowledged', attention_resolved_by: 'upgrade' },
      { id: 5, attention_resolution: null, attention_resolved_by: null },
      { id: 6, attention_resolution: 'acknowledged', attention_resolved_by: 'upgrade' },
    ]);
    expect(db.prepare('SELECT attention_resolved_at FROM deployments WHERE id = 1').pluck().get()).toBe(later);
    db.close();
  });

  it('are idempotent: opening again applies nothing', () => {
    openDatabase(join(dir, 'a.db')).close();
    const db = new Database(join(dir, 'a.db'));
    expect(migrate(db)).toEqual([]);
    db.close();
  });

  it('refuse a database newer than this Pitcrew', () => {
    const db = new Database(join(dir, 'future.db'));
    db.pragma(`user_version = ${newest + 1}`);
    expect(() => migrate(db)).toThrow(/newer than this Pitcrew knows/);
    db.close();
  });

  it('roll back a failing migration completely', () => {
    const db = new Database(join(dir, 'broken.db'));
    const broken = [...migrations, { version: newest + 1, name: 'broken', sql: 'CREATE TABLE half_done (x); INSERT INTO nowhere VALUES (1);' }];
    expect(() => migrate(db, undefined, broken)).toThrow();
    expect(schemaVersion(db)).toBe(newest);
    expect(db.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'half_done'").pluck().get()).toBe(0);
    db.close();
  });
});

describe('schema constraints hold even for writers that skip the domain core', () => {
  let db: Database.Database;
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pitcrew-schema-'));
    db = openDatabase(join(dir, 'db.sqlite'));
    db.prepare("INSERT INTO venues (code, name, created_at) VALUES ('CORO', 'Coronado', 'now')").run();
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(['coro', 'COR', 'CORO1', 'CO-O'])('venue code %j is refused', (code) => {
    expect(() => db.prepare("INSERT INTO venues (code, name, created_at) VALUES (?, 'x', 'now')").run(code)).toThrow(/CHECK/);
  });

  it('kart numbers stay within 1–9999 and unique per venue', () => {
    const insert = db.prepare("INSERT INTO hostnames (venue_code, product_type, kart_number, hostname, status, created_at) VALUES ('CORO', 'KXP2', ?, ?, 'available', 'now')");
    insert.run(1, 'KXP2-CORO-001');
    expect(() => insert.run(1, 'KXP2-CORO-001b')).toThrow(/UNIQUE/);
    expect(() => insert.run(0, 'KXP2-CORO-000')).toThrow(/CHECK/);
    expect(() => insert.run(10000, 'KXP2-CORO-10000')).toThrow(/CHECK/);
  });

  it('one device cannot hold two hostnames', () => {
    const insert = db.prepare("INSERT INTO hostnames (venue_code, product_type, hostname, status, serial_number, assigned_at, created_at) VALUES ('CORO', 'RXP2', ?, 'assigned', 'abc', 'now', 'now')");
    insert.run('RXP2-CORO-A');
    expect(() => insert.run('RXP2-CORO-B')).toThrow(/UNIQUE/);
  });

  it('a batch never goes below zero and completes only at zero', () => {
    db.prepare("INSERT INTO batches (id, venue_code, product_type, total_count, remaining_count, status, created_at) VALUES (1, 'CORO', 'RXP2', 2, 0, 'active', 'now')").run();
    expect(() => db.prepare('UPDATE batches SET remaining_count = -1 WHERE id = 1').run()).toThrow(/CHECK/);
    db.prepare('UPDATE batches SET remaining_count = 1 WHERE id = 1').run();
    expect(() => db.prepare("UPDATE batches SET status = 'completed' WHERE id = 1").run()).toThrow(/CHECK/);
  });

  it('at most one image per product is active', () => {
    const insert = db.prepare("INSERT INTO images (product_type, version, filename, size_bytes, sha256, uploaded_at, active) VALUES ('KXP2', ?, ?, 1, ?, 'now', 1)");
    insert.run('1', 'a.img', 'a'.repeat(64));
    expect(() => insert.run('2', 'b.img', 'b'.repeat(64))).toThrow(/UNIQUE/);
  });

  it('foreign keys are enforced', () => {
    expect(() => db.prepare("INSERT INTO batches (venue_code, product_type, total_count, remaining_count, status, created_at) VALUES ('NOPE', 'RXP2', 1, 1, 'pending', 'now')").run()).toThrow(/FOREIGN KEY/);
  });
});

describe('pool counts kept by triggers', () => {
  it('match a full count after inserts, status changes, moves and deletes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pitcrew-counts-'));
    const db = openDatabase(join(dir, 'db.sqlite'));
    try {
      db.prepare("INSERT INTO venues (code, name, created_at) VALUES ('CORO', 'A', 'now'), ('ARIA', 'B', 'now')").run();
      const insert = db.prepare("INSERT INTO hostnames (venue_code, product_type, kart_number, hostname, status, created_at) VALUES (?, 'KXP2', ?, ?, 'available', 'now')");
      for (let n = 1; n <= 20; n++) insert.run(n % 2 ? 'CORO' : 'ARIA', n, `H${n}`);
      db.prepare("UPDATE hostnames SET status = 'assigned', serial_number = 's' || id, assigned_at = 'now' WHERE kart_number <= 5").run();
      db.prepare("UPDATE hostnames SET status = 'retired', serial_number = NULL, assigned_at = NULL WHERE kart_number = 1").run();
      db.prepare('DELETE FROM hostnames WHERE kart_number > 17').run();
      db.prepare("INSERT INTO hostnames (venue_code, product_type, hostname, status, serial_number, assigned_at, created_at) VALUES ('ARIA', 'RXP2', 'R1', 'assigned', 'x', 'now', 'now')").run();
      const counted = db.prepare('SELECT venue_code, product_type, status, count(*) AS n FROM hostnames GROUP BY 1, 2, 3 ORDER BY 1, 2, 3').all();
      const kept = db.prepare('SELECT venue_code, product_type, status, n FROM pool_counts WHERE n > 0 ORDER BY 1, 2, 3').all();
      expect(kept).toEqual(counted);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
