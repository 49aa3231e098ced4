import type { Command } from 'commander';
import { withCore } from '../core-session.js';
import { printRecord, printTable, say } from '../output.js';

export function registerVenueCommands(program: Command): void {
  const venue = program.command('venue').description('create, list, show, edit and delete venues');

  venue
    .command('create <code> <name>')
    .description('create a venue (code: 4 letters or digits)')
    .option('--location <text>', 'where it is')
    .option('--email <address>', 'contact email')
    .action((code: string, name: string, options: { location?: string; email?: string }, command: Command) =>
      withCore(command, (core) => {
        const created = core.venues.create({ code, name, location: options.location ?? null, contact_email: options.email ?? null });
        say(`Created venue ${created.code} (${created.name}).`);
      }),
    );

  venue
    .command('list')
    .description('list venues')
    .action((_options, command: Command) => withCore(command, (core) => printTable(core.venues.list(), ['code', 'name', 'location', 'contact_email', 'created_at'], 'No venues yet: create one with `pitcrew venue create CODE "Name"`.')));

  venue
    .command('show <code>')
    .description('a venue with its pool statistics')
    .action((code: string, _options, command: Command) =>
      withCore(command, (core) => {
        const found = core.venues.get(code);
        const stats = core.venues.stats(code);
        printRecord({ ...found, kart_numbers_available: stats.by_product.KXP2.available, kart_numbers_unreserved: stats.unreserved, kart_numbers_assigned: stats.by_product.KXP2.assigned, kart_numbers_retired: stats.by_product.KXP2.retired, rxp2_assigned: stats.by_product.RXP2.assigned });
      }),
    );

  venue
    .command('edit <code>')
    .description('change name, location or email (the code never changes)')
    .option('--name <text>')
    .option('--location <text>', 'empty text clears it')
    .option('--email <address>', 'empty text clears it')
    .action((code: string, options: { name?: string; location?: string; email?: string }, command: Command) =>
      withCore(command, (core) => {
        const updated = core.venues.update(code, { name: options.name, location: options.location, contact_email: options.email });
        say(`Updated venue ${updated.code}.`);
      }),
    );

  venue
    .command('delete <code>')
    .description('delete a venue that has no assigned hostnames, open batches or deployment history')
    .action((code: string, _options, command: Command) =>
      withCore(command, (core) => {
        core.venues.delete(code);
        say(`Deleted venue ${code.toUpperCase()}.`);
      }),
    );
}
