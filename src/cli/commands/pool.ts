import type { Command } from 'commander';
import { HOSTNAME_STATUSES, PRODUCT_TYPES, type PoolEntry } from '../../contracts/domain.js';
import { AppError } from '../../contracts/errors.js';
import type { Core } from '../../core/index.js';
import { withCore } from '../core-session.js';
import { printTable, say } from '../output.js';
import { oneOf, parseInteger } from '../parsers.js';
import { FIELD_LIMITS } from '../../contracts/limits.js';

/** A pool entry named by its hostname (KXP2-CORO-007) or its numeric id. */
function findEntry(core: Core, ref: string): PoolEntry {
  if (/^\d+$/.test(ref)) return core.pool.get(Number(ref));
  const page = core.pool.list({ search: ref, limit: 2 });
  const exact = page.items.find((entry) => entry.hostname === ref.toUpperCase());
  if (!exact) throw new AppError('NOT_FOUND', `There is no hostname ${ref}.`);
  return exact;
}

export function registerPoolCommands(program: Command): void {
  program
    .command('kart-import <venue> <numbers...>')
    .description('add kart numbers to a venue\'s KXP2 pool: "1-20, 25, 30-32" or a list; all or nothing')
    .action((venue: string, numbers: string[], _options, command: Command) =>
      withCore(command, (core) => say(core.pool.importKartNumbers({ venue_code: venue, numbers: numbers.join(',') }).message)),
    );

  const pool = program.command('pool').description('list, release, retire and delete hostnames');

  pool
    .command('list')
    .description('list hostnames')
    .option('--venue <code>')
    .option('--product <type>', PRODUCT_TYPES.join('|'), oneOf(PRODUCT_TYPES, 'product'))
    .option('--status <status>', HOSTNAME_STATUSES.join('|'), oneOf(HOSTNAME_STATUSES, 'status'))
    .option('--search <text>', 'hostname, serial or MAC')
    .option('--limit <n>', 'rows', (v) => parseInteger(v, '--limit', FIELD_LIMITS.listPageSize), 200)
    .action((options: { venue?: string; product?: 'KXP2'; status?: 'available'; search?: string; limit: number }, command: Command) =>
      withCore(command, (core) => {
        const page = core.pool.list({ venue: options.venue, product: options.product, status: options.status, search: options.search, limit: options.limit });
        printTable(page.items, ['id', 'hostname', 'status', 'serial_number', 'mac_address', 'assigned_at'], 'No hostnames match.');
        if (page.total > page.items.length) say(`(${page.items.length} of ${page.total}; use --limit)`);
      }),
    );

  pool
    .command('release <hostname-or-id>')
    .description('free an assigned hostname for another device')
    .action((ref: string, _options, command: Command) => withCore(command, (core) => say(`Released ${core.pool.release(findEntry(core, ref).id).hostname}.`)));

  pool
    .command('retire <hostname-or-id>')
    .description('never hand this hostname out again')
    .action((ref: string, _options, command: Command) => withCore(command, (core) => say(`Retired ${core.pool.retire(findEntry(core, ref).id).hostname}.`)));

  pool
    .command('delete <hostname-or-id>')
    .description('remove an available kart number from the pool')
    .action((ref: string, _options, command: Command) =>
      withCore(command, (core) => {
        const entry = findEntry(core, ref);
        core.pool.delete(entry.id);
        say(`Deleted ${entry.hostname}.`);
      }),
    );
}
