// Opens the data folder's database and the domain core for one CLI command, and closes it afterwards.
import { openDatabase } from '../db/database.js';
import { dataPaths } from '../db/data-dir.js';
import { createCore, type Core } from '../core/index.js';
import { cliActor } from '../core/audit.js';
import { readSetting } from '../server/config.js';
import type { Command } from 'commander';

export function dataDirOf(command: Command): string | undefined {
  return command.optsWithGlobals<{ dataDir?: string }>().dataDir;
}

/**
 * Runs `work` against the core of the data folder chosen by --data-dir / PITCREW_DATA_DIR. Its changes are audited
 * as the OS user running the command (`cli:<user>`).
 */
export async function withCore<T>(command: Command, work: (core: Core) => T | Promise<T>): Promise<T> {
  const paths = dataPaths(dataDirOf(command));
  const db = openDatabase(paths.database);
  try {
    return await work(createCore({ db, imagesDir: paths.images, actor: cliActor(), sessionHours: readSetting('sessionHours') }));
  } finally {
    db.close();
  }
}
