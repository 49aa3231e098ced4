import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentEvents } from '../../contracts/events.js';
import { createCore } from '../../core/index.js';
import { createCoreFixture, type CoreFixture } from '../../core/test-support/core-fixture.js';
import { openDatabase, type Db } from '../../db/database.js';
import { waitFor } from '../test-support/test-server.js';
import { watchExternalChanges, type ExternalChangeWatcher } from './external-changes.js';

describe('watching for changes made by other programs', () => {
  let server: CoreFixture;
  let cliDb: Db;
  let watcher: ExternalChangeWatcher | null = null;
  const errors: unknown[] = [];
  const log = { debug: () => undefined, error: (context: unknown) => void errors.push(context) };
  /** The CLI's view: its own connection to the same file, announcing nothing. */
  const cli = () => createCore({ db: cliDb, imagesDir: `${server.dir}/images`, events: silentEvents });

  beforeEach(() => {
    server = createCoreFixture();
    cliDb = openDatabase(`${server.dir}/pitcrew.db`);
    errors.length = 0;
  });
  afterEach(() => {
    watcher?.stop();
    cliDb.close();
    server.close();
  });

  it('announces a commit by another connection once, with fresh numbers, and ignores the server\'s own', () => {
    watcher = watchExternalChanges(server.db, server.core, server.sink, { intervalMs: 3_600_000, log });
    expect(watcher.check()).toBe(false);

    server.core.venues.create({ code: 'SELF', name: 'Written by the server' });
    server.events.length = 0;
    expect(watcher.check()).toBe(false);
    expect(server.events).toEqual([]);

    const other = cli();
    other.venues.create({ code: 'CORO', name: 'Coronado' });
    other.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-3' });
    expect(watcher.check()).toBe(true);
    expect(server.events.map((e) => e.name)).toEqual(['external_change', 'stats_update']);
    expect(Date.parse(server.eventsNamed('external_change')[0]!.detected_at)).not.toBeNaN();
    expect(server.eventsNamed('stats_update')[0]).toEqual(server.core.stats());
    expect(watcher.check()).toBe(false);
    expect(server.events).toHaveLength(2);
  });

  it('looks on its own at the given interval', async () => {
    watcher = watchExternalChanges(server.db, server.core, server.sink, { intervalMs: 20, log });
    cli().venues.create({ code: 'CORO', name: 'Coronado' });
    await waitFor(() => server.eventsNamed('external_change').length === 1, 5000, 'the change to be noticed');
    expect(errors).toEqual([]);
  });
});
