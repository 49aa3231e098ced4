import type { Command } from 'commander';
import { BATCH_STATUSES, PRODUCT_TYPES, type BatchStatus } from '../../contracts/domain.js';
import { withCore } from '../core-session.js';
import { printTable, say } from '../output.js';
import { oneOf, parseId, parseInteger } from '../parsers.js';
import { FIELD_LIMITS } from '../../contracts/limits.js';

export function registerBatchCommands(program: Command): void {
  const batch = program.command('batch').description('deployment batches: create, list, start, pause, cancel, priority');

  batch
    .command('create <venue> <product> <count>')
    .description('a batch of <count> devices; KXP2 needs that many unreserved kart numbers')
    .option('--priority <n>', 'higher goes first; may be negative', (v) => parseInteger(v, 'priority', FIELD_LIMITS.batchPriority), 0)
    .option('--name <text>')
    .option('--notes <text>')
    .action((venue: string, product: string, count: string, options: { priority: number; name?: string; notes?: string }, command: Command) =>
      withCore(command, (core) => {
        const created = core.batches.create({
          venue_code: venue,
          product_type: oneOf(PRODUCT_TYPES, 'product')(product),
          total_count: parseInteger(count, 'count', FIELD_LIMITS.batchDevices),
          priority: options.priority,
          name: options.name ?? null,
          notes: options.notes ?? null,
        });
        say(`Created batch ${created.id}: ${created.total_count} × ${created.product_type} at ${created.venue_code}, priority ${created.priority} (pending; start it with \`pitcrew batch start ${created.id}\`).`);
      }),
    );

  batch
    .command('list')
    .description('batches, highest priority first')
    .option('--venue <code>')
    .option('--status <status>', BATCH_STATUSES.join('|'), oneOf(BATCH_STATUSES, 'status'))
    .action((options: { venue?: string; status?: BatchStatus }, command: Command) =>
      withCore(command, (core) =>
        printTable(core.batches.list(options), ['id', 'name', 'venue_code', 'product_type', 'status', 'priority', 'remaining_count', 'total_count', 'imaging_count', 'succeeded_count', 'failed_count', 'created_at'], 'No batches.'),
      ),
    );

  for (const action of ['start', 'pause', 'cancel'] as const) {
    batch
      .command(`${action} <id>`)
      .description(`${action} a batch`)
      .action((id: string, _options, command: Command) =>
        withCore(command, (core) => {
          const updated = core.batches[action](parseId(id, 'batch id'));
          say(`Batch ${updated.id} is now ${updated.status}.`);
        }),
      );
  }

  batch
    .command('priority <id> <priority>')
    .description('set a batch\'s priority (higher goes first)')
    .action((id: string, priority: string, _options, command: Command) =>
      withCore(command, (core) => {
        const updated = core.batches.setPriority(parseId(id, 'batch id'), parseInteger(priority, 'priority', FIELD_LIMITS.batchPriority));
        say(`Batch ${updated.id} now has priority ${updated.priority}.`);
      }),
    );

  batch
    .command('capacity <venue> <product>')
    .description('how many devices a new batch could take')
    .action((venue: string, product: string, _options, command: Command) =>
      withCore(command, (core) => {
        const room = core.batches.capacity(venue, oneOf(PRODUCT_TYPES, 'product')(product));
        say(room.needs_pool ? `${room.venue_code} KXP2: ${room.available} available, ${room.reserved} reserved, room for ${room.unreserved}.` : `${room.venue_code} RXP2: no pool needed; hostnames come from serials.`);
      }),
    );
}
