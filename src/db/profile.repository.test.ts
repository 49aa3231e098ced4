import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from './database.js';
import { createProfileRepository } from './profile.repository.js';
import { EMPTY_PROFILE } from '../contracts/provisioning-profile.js';

describe('profile revisions', () => {
  let dir: string;
  let db: Db;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pitcrew-profiles-'));
    db = openDatabase(join(dir, 'pitcrew.db'));
    db.prepare("INSERT INTO venues (code, name, created_at) VALUES ('CORO', 'Coronado', '2026-01-01T00:00:00Z')").run();
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const revision = (product: 'KXP2' | null, number: number, timeZone = 'UTC') =>
    ({ venue_code: 'CORO', product_type: product, revision: number, profile: { ...EMPTY_PROFILE, time_zone: timeZone }, created_at: '2026-01-01T00:00:00Z', created_by: 'operator' });

  it('keep the venue-wide profile and each product override apart, the newest revision current', () => {
    const profiles = createProfileRepository(db);
    profiles.insert(revision(null, 1, 'Europe/Berlin'));
    profiles.insert(revision(null, 2, 'Europe/London'));
    profiles.insert(revision('KXP2', 1, 'America/New_York'));
    expect(profiles.latest('CORO', null)?.profile.time_zone).toBe('Europe/London');
    expect(profiles.latest('CORO', 'KXP2')?.profile.time_zone).toBe('America/New_York');
    expect(profiles.latest('CORO', 'RXP2')).toBeNull();
  });

  it('are immutable, and a revision number is taken once per scope', () => {
    const profiles = createProfileRepository(db);
    const first = profiles.insert(revision(null, 1));
    expect(() => db.prepare("UPDATE profile_revisions SET profile = '{}' WHERE id = ?").run(first.id)).toThrow(/immutable/);
    expect(() => profiles.insert(revision(null, 1))).toThrow(/UNIQUE/);
    expect(() => profiles.insert(revision('KXP2', 1))).not.toThrow();
    expect(profiles.find(first.id)?.profile.time_zone).toBe('UTC');
  });
});
