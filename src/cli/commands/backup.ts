import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { AppError } from '../../contracts/errors.js';
import { openDatabase } from '../../db/database.js';
import { dataPaths } from '../../db/data-dir.js';
import { dataDirOf } from '../core-session.js';
import { say } from '../output.js';

export function registerBackupCommand(program: Command): void {
  program
    .command('backup <file>')
    .description('a consistent copy of the database, safe while the server runs (images are separate files)')
    .option('--force', 'overwrite <file> if it exists')
    .action(async (file: string, options: { force?: boolean }, command: Command) => {
      const target = resolve(file);
      const paths = dataPaths(dataDirOf(command));
      if (target === paths.database) throw new AppError('VALIDATION', 'The backup must go to another file than the live database.');
      if (existsSync(target) && !options.force) throw new AppError('CONFLICT', `${target} already exists; choose another name or pass --force.`);
      if (!existsSync(paths.database)) throw new AppError('NOT_FOUND', `There is no database at ${paths.database}.`);
      const db = openDatabase(paths.database, { migrate: false });
      try {
        // SQLite's online backup API copies page by page and restarts on concurrent writes: the copy is consistent.
        await db.backup(target);
        say(`Backed up ${paths.database} to ${target}.`);
      } finally {
        db.close();
      }
    });
}
