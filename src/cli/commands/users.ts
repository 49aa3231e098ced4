// `pitcrew user …` and `pitcrew token …`: accounts managed from the server's own shell, e.g. to recover a lost
// admin password or to issue a token for a script. Changes are written to the audit log as `cli:<os user>`.
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { ROLES, type Role } from '../../contracts/domain.js';
import { AppError } from '../../contracts/errors.js';
import type { AccountsService } from '../../core/accounts.service.js';
import { withCore } from '../core-session.js';
import { printTable, say } from '../output.js';
import { oneOf, parseId } from '../parsers.js';

const withAccounts = <T>(command: Command, work: (accounts: AccountsService) => T | Promise<T>): Promise<T> => withCore(command, (core) => work(core.accounts));

/** Reads one line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
    const output = rl as unknown as { _writeToOutput: (text: string) => void; output: NodeJS.WriteStream };
    let asked = false;
    output._writeToOutput = (text: string) => {
      if (!asked) output.output.write(text);
    };
    rl.question(question, (answer) => {
      rl.close();
      process.stdout.write('\n');
      resolve(answer);
    });
    asked = true;
    rl.on('SIGINT', () => {
      rl.close();
      reject(new AppError('VALIDATION', 'Cancelled.'));
    });
  });
}

async function readAll(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** From the terminal (asked twice) or, in scripts, the first line of standard input. */
async function readNewPassword(input: NodeJS.ReadableStream & { isTTY?: boolean }): Promise<string> {
  if (!input.isTTY) {
    const line = (await readAll(input)).split(/\r?\n/)[0] ?? '';
    if (!line) throw new AppError('VALIDATION', 'No password on standard input (give it as the first line).');
    return line;
  }
  const first = await promptHidden('New password: ');
  const second = await promptHidden('Repeat it: ');
  if (first !== second) throw new AppError('VALIDATION', 'The two passwords differ; nothing was changed.');
  return first;
}

function requireUser(accounts: AccountsService, username: string) {
  const user = accounts.findUserByName(username);
  if (!user) throw new AppError('NOT_FOUND', `There is no user ${username}.`);
  return user;
}

/** `input` is where passwords are read from: the terminal, or a script's standard input. */
export function registerUserCommands(program: Command, input: NodeJS.ReadableStream & { isTTY?: boolean } = process.stdin): void {
  const user = program.command('user').description('people who use the web UI and the management API');
  const role = oneOf(ROLES, 'Role');

  user
    .command('add <username>')
    .description('create a user; the password is asked for (or read from the first line of standard input)')
    .option('--role <role>', `one of ${ROLES.join(', ')}`, 'operator')
    .action(async (username: string, options: { role: string }, command: Command) => {
      const chosen: Role = role(options.role);
      const password = await readNewPassword(input);
      await withAccounts(command, async (accounts) => {
        const created = await accounts.createUser({ username, password, role: chosen });
        say(`Created ${created.role} ${created.username}.`);
      });
    });

  user
    .command('list')
    .description('list users and their roles')
    .action((_options, command: Command) => withAccounts(command, (accounts) => printTable(accounts.listUsers(), ['id', 'username', 'role', 'created_at'], 'No users yet: `pitcrew serve` creates admin on first start.')));

  user
    .command('passwd <username>')
    .description("set a user's password (ends their sessions)")
    .action(async (username: string, _options, command: Command) => {
      await withAccounts(command, (accounts) => requireUser(accounts, username));
      const password = await readNewPassword(input);
      await withAccounts(command, async (accounts) => {
        const updated = await accounts.updateUser(requireUser(accounts, username).id, { password });
        say(`Changed the password of ${updated.username}.`);
      });
    });

  user
    .command('role <username> <role>')
    .description(`change a user's role (${ROLES.join(', ')})`)
    .action((username: string, newRole: string, _options, command: Command) =>
      withAccounts(command, async (accounts) => {
        const updated = await accounts.updateUser(requireUser(accounts, username).id, { role: role(newRole) });
        say(`${updated.username} is now ${updated.role}.`);
      }),
    );

  user
    .command('remove <username>')
    .description('delete a user with their sessions and tokens (the last admin cannot be removed)')
    .action((username: string, _options, command: Command) =>
      withAccounts(command, (accounts) => {
        const removed = accounts.deleteUser(requireUser(accounts, username).id);
        say(`Removed ${removed.username}.`);
      }),
    );

  const token = program.command('token').description('API tokens for scripts (Authorization: Bearer …)');

  token
    .command('create <name>')
    .description('create a token and print its secret once')
    .requiredOption('--user <username>', 'whose rights the token carries')
    .action((name: string, options: { user: string }, command: Command) =>
      withAccounts(command, (accounts) => {
        const owner = requireUser(accounts, options.user);
        const created = accounts.createToken(owner.id, name);
        process.stderr.write(`Created token ${created.token.id} "${created.token.name}" for ${owner.username} (${owner.role}). The secret is shown once:\n`);
        say(created.secret);
      }),
    );

  token
    .command('list')
    .description('list tokens (never their secrets)')
    .option('--user <username>', 'only this user’s tokens')
    .action((options: { user?: string }, command: Command) =>
      withAccounts(command, (accounts) => {
        const tokens = accounts.listTokens(options.user ? requireUser(accounts, options.user).id : undefined);
        printTable(tokens, ['id', 'name', 'username', 'prefix', 'created_at', 'last_used_at'], 'No API tokens.');
      }),
    );

  token
    .command('revoke <id>')
    .description('revoke a token: scripts using it get 401 from now on')
    .action((id: string, _options, command: Command) =>
      withAccounts(command, (accounts) => {
        const revoked = accounts.revokeToken(parseId(id, 'Token id'));
        say(`Revoked token ${revoked.id} "${revoked.name}".`);
      }),
    );
}
