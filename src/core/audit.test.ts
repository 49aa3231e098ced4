import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../contracts/errors.js';
import type { AuditEntry } from '../contracts/domain.js';
import { openDatabase } from '../db/database.js';
import { tinyDiskImage } from '../disk-layout/test-support/tiny-disk-image.js';
import { actingAs, actorOf, auditDetails, cliActor } from './audit.js';
import { createCore } from './index.js';
import { createCoreFixture, type CoreFixture } from './test-support/core-fixture.js';

let f: CoreFixture;
beforeEach(() => {
  f = createCoreFixture();
});
afterEach(() => f.close());

/** Oldest first, as [actor, action, target]. */
const trail = () => (f.db.prepare('SELECT actor, action, target FROM audit_log ORDER BY id').all() as AuditEntry[]).map((e) => [e.actor, e.action, e.target]);
const entryCount = () => (f.db.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n;

describe('audit entries written by the core', () => {
  it('records every management change with its actor, whoever makes it', async () => {
    const { core } = f;
    const source = join(f.dir, 'master.img');
    writeFileSync(source, tinyDiskImage(randomBytes(64 * 1024)));

    await actingAs('olga', async () => {
      core.venues.create({ code: 'CORO', name: 'Corona' });
      core.venues.update('CORO', { name: 'Corona Arena' });
      core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-5' });
      const batch = core.batches.create({ venue_code: 'CORO', product_type: 'KXP2', total_count: 2 });
      core.batches.start(batch.id);
      core.batches.pause(batch.id);
      core.batches.setPriority(batch.id, 5);
      core.batches.setPeerDelivery(batch.id, { peer_delivery: false });
      core.batches.reorder([batch.id]);
      core.batches.cancel(batch.id);
      const assigned = core.pool.assign({ venue_code: 'CORO', product_type: 'KXP2', mac_address: 'aa:bb:cc:dd:ee:01' });
      core.pool.releaseHostname(assigned.entry.hostname);
      const four = core.pool.list({ venue: 'CORO', page: 1, limit: 50 }).items.find((e) => e.kart_number === 4)!;
      core.pool.retire(four.id);
      const five = core.pool.list({ venue: 'CORO', page: 1, limit: 50 }).items.find((e) => e.kart_number === 5)!;
      core.pool.delete(five.id);
      // Awaited work keeps its actor: the image is registered after the bytes were copied and checked.
      const first = await core.images.registerFile({ product_type: 'KXP2', version: '1.0' }, source);
      const second = await core.images.registerFile({ product_type: 'KXP2', version: '1.1' }, source);
      core.images.update(first.id, { description: 'spring' });
      core.images.activate(first.id);
      await core.images.delete(second.id);
    });
    await actingAs('admin (token 7)', async () => {
      const user = await core.accounts.createUser({ username: 'tech1', password: 'a-long-secret', role: 'operator' });
      await core.accounts.updateUser(user.id, { role: 'viewer' });
      await core.accounts.updateUser(user.id, { password: 'another-long-secret' });
      const token = core.accounts.createToken(user.id, 'scraper');
      core.accounts.revokeToken(token.token.id);
      core.accounts.deleteUser(user.id);
      core.venues.create({ code: 'TEMP', name: 'Temporary' });
      core.venues.delete('TEMP');
    });

    expect(trail()).toEqual([
      ['olga', 'venue.create', 'CORO'],
      ['olga', 'venue.update', 'CORO'],
      ['olga', 'pool.import', 'CORO'],
      ['olga', 'batch.create', '1'],
      ['olga', 'batch.start', '1'],
      ['olga', 'batch.pause', '1'],
      ['olga', 'batch.priority', '1'],
      ['olga', 'batch.peer_delivery', '1'],
      ['olga', 'batch.reorder', '1'],
      ['olga', 'batch.cancel', '1'],
      ['olga', 'hostname.assign', 'KXP2-CORO-001'],
      ['olga', 'hostname.release', 'KXP2-CORO-001'],
      ['olga', 'pool.retire', 'KXP2-CORO-004'],
      ['olga', 'pool.delete', 'KXP2-CORO-005'],
      ['olga', 'image.upload', 'KXP2 1.0'],
      ['olga', 'image.upload', 'KXP2 1.1'],
      ['olga', 'image.update', 'KXP2 1.0'],
      ['olga', 'image.activate', 'KXP2 1.0'],
      ['olga', 'image.delete', 'KXP2 1.1'],
      ['admin (token 7)', 'user.create', 'tech1'],
      ['admin (token 7)', 'user.update', 'tech1'],
      ['admin (token 7)', 'user.password', 'tech1'],
      ['admin (token 7)', 'token.create', expect.stringMatching(/^pct_\S{6}… \(tech1\)$/)],
      ['admin (token 7)', 'token.revoke', expect.stringMatching(/^pct_\S{6}… \(tech1\)$/)],
      ['admin (token 7)', 'user.delete', 'tech1'],
      ['admin (token 7)', 'venue.create', 'TEMP'],
      ['admin (token 7)', 'venue.delete', 'TEMP'],
    ]);
    const details = (f.db.prepare('SELECT details FROM audit_log').all() as Array<{ details: string | null }>).map((row) => row.details ?? '').join('\n');
    expect(details).not.toMatch(/a-long-secret|another-long-secret/);
    expect(details).toContain('"password":"***"');
  });

  it('writes the entry in the change’s transaction: a refused or rolled-back change leaves none', () => {
    const { core, ctx } = { core: f.core, ctx: f.core.ctx };
    core.venues.create({ code: 'CORO', name: 'Corona' });
    expect(entryCount()).toBe(1);
    expect(() => core.venues.create({ code: 'CORO', name: 'Again' })).toThrow(AppError);
    expect(() => core.batches.create({ venue_code: 'CORO', product_type: 'KXP2', total_count: 3 })).toThrow(/kart numbers/);
    expect(() => core.venues.delete('NOPE')).toThrow(/no venue/i);
    expect(() =>
      ctx.write(() => {
        ctx.audit({ action: 'venue.update', target: 'CORO' });
        throw new Error('power cut');
      }),
    ).toThrow('power cut');
    expect(entryCount()).toBe(1);
  });

  it('refuses an entry outside a write transaction, so none can describe a change that was not made', () => {
    expect(() => f.core.ctx.audit({ action: 'venue.create', target: 'X' })).toThrow(/outside the transaction/);
    expect(entryCount()).toBe(0);
  });

  it('keeps each of many interleaved callers’ actors apart', async () => {
    const callers = Array.from({ length: 20 }, (_, i) => `user${i}`);
    await Promise.all(
      callers.map((actor, i) =>
        actingAs(actor, async () => {
          // Every caller yields between checking and changing, so their continuations interleave.
          for (let turn = 0; turn < (i % 4) + 1; turn++) await nextTurn();
          f.core.venues.create({ code: `VV${String(i).padStart(2, '0')}`, name: `Venue ${i}` });
        }),
      ),
    );
    const rows = f.db.prepare('SELECT actor, target FROM audit_log').all() as Array<{ actor: string; target: string }>;
    expect(rows).toHaveLength(20);
    for (const row of rows) expect(row.actor).toBe(`user${Number(row.target.slice(2))}`);
  });

  it('names the core’s default actor when no caller is ambient (the CLI: its OS user), and system otherwise', () => {
    const cliCore = createCore({ db: openDatabase(join(f.dir, 'pitcrew.db')), imagesDir: join(f.dir, 'images'), actor: cliActor() });
    try {
      cliCore.venues.create({ code: 'CLIV', name: 'From the shell' });
    } finally {
      cliCore.ctx.db.close();
    }
    f.core.venues.create({ code: 'SYSV', name: 'No one in particular' });
    expect(trail()).toEqual([
      [expect.stringMatching(/^cli(:.+)?$/), 'venue.create', 'CLIV'],
      ['system', 'venue.create', 'SYSV'],
    ]);
  });
});

describe('audit helpers', () => {
  it('names users, tokens and nobody', () => {
    const user = { id: 3, username: 'dana', role: 'operator' as const, created_at: '' };
    expect(actorOf({ user, via: 'session' })).toBe('dana');
    expect(actorOf({ user, via: 'token', tokenId: 9 })).toBe('dana (token 9)');
    expect(actorOf(null)).toBe('anonymous');
  });

  it('masks secrets at any depth and keeps details short', () => {
    expect(auditDetails({ name: 'x', nested: { api_token: 'pct_abc', list: [{ secret: 's' }] }, password: 'p' })).toBe(
      '{"name":"x","nested":{"api_token":"***","list":[{"secret":"***"}]},"password":"***"}',
    );
    expect(auditDetails(null)).toBeNull();
    expect(auditDetails('x'.repeat(5000))).toHaveLength(2000);
  });
});
