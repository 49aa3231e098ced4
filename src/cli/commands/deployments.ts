import type { Command } from 'commander';
import { DEPLOYMENT_STATUSES, PRODUCT_TYPES, type DeploymentStatus, type ProductType } from '../../contracts/domain.js';
import { deploymentCsvLines } from '../../core/deployment-csv.js';
import { withCore } from '../core-session.js';
import { printRecord, printTable, say } from '../output.js';
import { oneOf, parseId } from '../parsers.js';

interface ListOptions {
  venue?: string;
  status?: DeploymentStatus;
  product?: ProductType;
  from?: string;
  to?: string;
  search?: string;
  limit: number;
  csv?: boolean;
}

export function registerDeploymentCommands(program: Command): void {
  program
    .command('deployments')
    .description('deployment history, newest first')
    .option('--venue <code>')
    .option('--status <status>', DEPLOYMENT_STATUSES.join('|'), oneOf(DEPLOYMENT_STATUSES, 'status'))
    .option('--product <type>', PRODUCT_TYPES.join('|'), oneOf(PRODUCT_TYPES, 'product'))
    .option('--from <date>', 'YYYY-MM-DD')
    .option('--to <date>', 'YYYY-MM-DD')
    .option('--search <text>', 'hostname, serial or MAC')
    .option('--limit <n>', 'rows', (v) => parseId(v, 'limit'), 50)
    .option('--csv', 'all matching rows as CSV on stdout')
    .action((options: ListOptions, command: Command) =>
      withCore(command, (core) => {
        const { limit, csv, ...filters } = options;
        if (csv) {
          for (const line of deploymentCsvLines(core.deployments.iterate(filters))) {
            // The reader went away (`| head -1`): stop reading the database; main.ts leaves quietly.
            if (process.stdout.errored) break;
            process.stdout.write(line);
          }
          return;
        }
        const page = core.deployments.list({ ...filters, limit: Math.min(limit, 500) });
        printTable(
          page.items.map((d) => ({ ...d, progress: `${Math.round(d.progress)}%`, error: d.error_message ?? (d.status === 'superseded' ? 'asked again; carries on under a newer deployment' : '') })),
          ['id', 'hostname', 'status', 'progress', 'venue_code', 'serial_number', 'image_version', 'started_at', 'error'],
          'No deployments match.',
        );
        if (page.total > page.items.length) say(`(${page.items.length} of ${page.total}; use --limit or --csv)`);
      }),
    );

  program
    .command('stats')
    .description('what the dashboard\'s cards show')
    .action((_options, command: Command) => withCore(command, (core) => printRecord(core.stats())));
}
