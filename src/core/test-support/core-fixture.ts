// A real core on a throw-away data folder, with a controllable clock and a record of emitted events.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventSink, ServerEventName, ServerEvents } from '../../contracts/events.js';
import { openDatabase } from '../../db/database.js';
import { createCore } from '../index.js';

export interface RecordedEvent<K extends ServerEventName = ServerEventName> {
  name: K;
  payload: ServerEvents[K];
}

export function createCoreFixture() {
  const dir = mkdtempSync(join(tmpdir(), 'pitcrew-core-'));
  const db = openDatabase(join(dir, 'pitcrew.db'));
  const events: RecordedEvent[] = [];
  /** Records what it hears in `events`. */
  const sink: EventSink = { emit: (name, payload) => void events.push({ name, payload }) };
  let clock = new Date('2026-06-15T10:00:00.000Z');
  const core = createCore({ db, imagesDir: join(dir, 'images'), events: sink, now: () => new Date(clock) });
  return {
    dir,
    db,
    core,
    sink,
    events,
    eventsNamed: <K extends ServerEventName>(name: K) => events.filter((e): e is RecordedEvent<K> => e.name === name).map((e) => e.payload),
    advance: (ms: number) => void (clock = new Date(clock.getTime() + ms)),
    setClock: (date: Date) => void (clock = date),
    close: () => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
export type CoreFixture = ReturnType<typeof createCoreFixture>;
