// `pitcrew webhook …`: notifications scripted from the server's shell. A test queued here is sent by the running
// server (it looks for queued deliveries at least once a minute).
import type { Command } from 'commander';
import { WEBHOOK_EVENTS, WEBHOOK_FORMATS, type WebhookEvent } from '../../contracts/webhooks.js';
import { withCore } from '../core-session.js';
import { printTable, say } from '../output.js';
import { oneOf, parseId } from '../parsers.js';

const parseEvents = (text: string): WebhookEvent[] => text.split(',').map((part) => oneOf(WEBHOOK_EVENTS, 'an event')(part.trim()));

export function registerWebhookCommands(program: Command): void {
  const webhook = program.command('webhook').description('notifications: webhooks for batch finished, device failed, device not booted');

  webhook
    .command('add <name> <url>')
    .description('add a webhook (http:// or https://)')
    .option('--events <list>', `comma-separated: ${WEBHOOK_EVENTS.join(', ')}`, WEBHOOK_EVENTS.join(','))
    .option('--format <format>', WEBHOOK_FORMATS.join(', '), 'json')
    .option('--secret-env <variable>', 'take the signing secret from this environment variable (not from the command line, where others could read it)')
    .action((name: string, url: string, options: { events: string; format: string; secretEnv?: string }, command: Command) =>
      withCore(command, (core) => {
        const secret = options.secretEnv === undefined ? null : process.env[options.secretEnv] ?? '';
        const created = core.webhooks.create({ name, url, events: parseEvents(options.events), format: oneOf(WEBHOOK_FORMATS, '--format')(options.format), secret });
        say(`Added webhook ${created.id} (${created.name}): ${created.events.join(', ')} as ${created.format}${created.has_secret ? ', signed' : ''}.`);
      }),
    );

  webhook
    .command('list')
    .description('list webhooks (secrets are never shown)')
    .action((_options, command: Command) =>
      withCore(command, (core) =>
        printTable(core.webhooks.list().map((w) => ({ ...w, events: w.events.join(','), signed: w.has_secret ? 'yes' : 'no', enabled: w.enabled ? 'yes' : 'no' })),
          ['id', 'name', 'url', 'format', 'events', 'signed', 'enabled'], 'No webhooks yet: add one with `pitcrew webhook add NAME URL`.')),
    );

  webhook
    .command('test <id>')
    .description('queue a test notification to one webhook')
    .action((id: string, _options, command: Command) =>
      withCore(command, (core) => {
        const delivery = core.webhooks.sendTest(parseId(id, 'webhook id'));
        say(`Queued test delivery ${delivery.id} to ${delivery.webhook_name}; the running server sends it.`);
      }),
    );

  webhook
    .command('log')
    .description('the latest deliveries: status, attempts, HTTP status and error')
    .option('--limit <n>', 'how many', '20')
    .action((options: { limit: string }, command: Command) =>
      withCore(command, (core) =>
        printTable(core.webhooks.deliveries(Math.min(500, parseId(options.limit, '--limit'))), ['id', 'webhook_name', 'event', 'status', 'attempts', 'last_status_code', 'last_error', 'created_at'], 'Nothing sent yet.')),
    );

  webhook
    .command('remove <id>')
    .description('delete a webhook and its delivery log')
    .action((id: string, _options, command: Command) =>
      withCore(command, (core) => {
        core.webhooks.remove(parseId(id, 'webhook id'));
        say(`Deleted webhook ${id}.`);
      }),
    );
}
