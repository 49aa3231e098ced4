// `pitcrew profile show|set|history`: a venue's provisioning profile (or one product's override) from the server's
// own shell. `set` starts from a JSON file or from the current profile and applies the flags. Secrets (the Wi-Fi
// passphrase, the password hash) come only from the file, never the command line (ps and shell history show it);
// a file without them keeps the stored ones. Changes are written to the audit log as `cli:<os user>`, without secrets.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { PRODUCT_TYPES, type ProductType } from '../../contracts/domain.js';
import { AppError } from '../../contracts/errors.js';
import { inputOfView, PROFILE_VARIABLES, type ProfileResponse, type ProvisioningProfileInput } from '../../contracts/provisioning-profile.js';
import { withCore } from '../core-session.js';
import { printRecord, printTable, say } from '../output.js';
import { oneOf } from '../parsers.js';

interface ScopeOptions {
  venue: string;
  product?: string;
}

interface SetOptions extends ScopeOptions {
  file?: string;
  ssid?: string;
  country?: string;
  wifi?: boolean;
  timeZone?: string;
  keyboard?: string;
  locale?: string;
  user?: string;
  sshKey?: string[];
  passwordLogin?: string;
  command?: string[];
}

const productOf = (options: ScopeOptions): ProductType | null => (options.product ? oneOf(PRODUCT_TYPES, 'Product')(options.product) : null);
const collect = (value: string, previous: string[] = []) => [...previous, value];

async function readProfileFile(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new AppError('VALIDATION', `Cannot read ${path}: ${error.code ?? error.message}.`);
  });
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new AppError('VALIDATION', `${path} is not JSON: ${(error as Error).message}.`);
  }
}

/** The flags on top of a starting profile; each flag replaces its field. */
function applyFlags(start: ProvisioningProfileInput, options: SetOptions): ProvisioningProfileInput {
  const next = structuredClone(start);
  if (options.wifi === false) next.wifi = null;
  else if (options.ssid !== undefined || options.country !== undefined) {
    if (!next.wifi && (options.ssid === undefined || options.country === undefined)) {
      throw new AppError('VALIDATION', 'A new Wi-Fi network needs --ssid and --country, and its passphrase in --file.');
    }
    next.wifi = { ...next.wifi!, ssid: options.ssid ?? next.wifi!.ssid, country: options.country ?? next.wifi!.country, hidden: next.wifi?.hidden ?? false };
  }
  if (options.timeZone !== undefined) next.time_zone = options.timeZone || null;
  if (options.keyboard !== undefined) {
    const [layout, variant = ''] = options.keyboard.split(':');
    next.keyboard = layout ? { layout, variant } : null;
  }
  if (options.locale !== undefined) next.locale = options.locale || null;
  if (options.user !== undefined) next.user = options.user ? { name: options.user } : null;
  if (options.sshKey) next.ssh = { ...next.ssh, authorized_keys: options.sshKey };
  if (options.passwordLogin !== undefined) next.ssh = { ...next.ssh, password_login: oneOf(['on', 'off'] as const, '--password-login')(options.passwordLogin) === 'on' };
  if (options.command) next.commands = options.command;
  return next;
}

function printProfile(answer: ProfileResponse): void {
  if (!answer.revision || !answer.profile) {
    say(`${answer.venue_code}${answer.product_type ? ` ${answer.product_type}` : ''} has no provisioning profile.`);
    return;
  }
  const { profile, revision } = answer;
  printRecord({
    venue: answer.venue_code,
    product: answer.product_type ?? 'all',
    revision: `${revision.revision} (${revision.created_at} by ${revision.created_by})`,
    wifi: profile.wifi ? `${profile.wifi.ssid} (${profile.wifi.country}${profile.wifi.hidden ? ', hidden' : ''}), passphrase ${profile.wifi.passphrase_set ? 'set' : 'not set'}` : null,
    ssh_keys: profile.ssh.authorized_keys.length,
    password_login: profile.ssh.password_login ? 'on' : 'off',
    user: profile.user ? `${profile.user.name}, password ${profile.user.password_hash_set ? 'set' : 'not set (key login only)'}` : null,
    time_zone: profile.time_zone,
    keyboard: profile.keyboard ? `${profile.keyboard.layout}${profile.keyboard.variant ? `:${profile.keyboard.variant}` : ''}` : null,
    locale: profile.locale,
    files: profile.files.map((f) => `${f.path} (${f.mode} ${f.owner}, ${f.content.length} characters)`).join(', ') || null,
    commands: profile.commands.length,
  });
}

export function registerProfileCommands(program: Command): void {
  const profile = program.command('profile').description(`provisioning profiles: what a venue's devices get on first boot (variables: ${PROFILE_VARIABLES.map((v) => `{${v}}`).join(' ')})`);

  profile
    .command('show')
    .description('the current profile of a venue (secrets only as set or not)')
    .requiredOption('--venue <code>', 'the venue')
    .option('--product <type>', `a product's own override (${PRODUCT_TYPES.join(' or ')})`)
    .option('--json', 'print it as JSON: a file for `profile set --file` (secrets left out, so they are kept)')
    .action((options: ScopeOptions & { json?: boolean }, command: Command) =>
      withCore(command, (core) => {
        const answer = core.profiles.get(options.venue, productOf(options));
        if (options.json) say(JSON.stringify(inputOfView(answer.profile), null, 2));
        else printProfile(answer);
      }),
    );

  profile
    .command('set')
    .description('store a new revision: from --file (JSON, as `profile show --json` prints it) or the current profile, with the flags applied')
    .requiredOption('--venue <code>', 'the venue')
    .option('--product <type>', `set a product's own override (${PRODUCT_TYPES.join(' or ')})`)
    .option('--file <path>', 'the whole profile as JSON; the only way to give the Wi-Fi passphrase or the password hash')
    .option('--ssid <name>', 'Wi-Fi network name')
    .option('--country <code>', 'Wi-Fi country, e.g. DE')
    .option('--no-wifi', 'remove the Wi-Fi network')
    .option('--time-zone <zone>', 'e.g. Europe/Berlin (empty: leave the image\'s)')
    .option('--keyboard <layout[:variant]>', 'e.g. de or de:nodeadkeys (empty: leave the image\'s)')
    .option('--locale <locale>', 'e.g. de_DE.UTF-8 (empty: leave the image\'s)')
    .option('--user <name>', 'the user to create (empty: none)')
    .option('--ssh-key <key>', 'an authorized public key (repeat for several; replaces the list)', collect)
    .option('--password-login <on|off>', 'SSH password login')
    .option('--command <line>', 'a first-boot command (repeat for several; replaces the list)', collect)
    .action(async (options: SetOptions, command: Command) => {
      const fromFile = options.file ? await readProfileFile(options.file) : null;
      await withCore(command, (core) => {
        const product = productOf(options);
        const start = (fromFile as ProvisioningProfileInput | null) ?? inputOfView(core.profiles.get(options.venue, product).profile);
        const saved = core.profiles.set(options.venue, product, applyFlags(start, options));
        say(`Stored revision ${saved.revision!.revision} of the ${saved.venue_code}${product ? ` ${product}` : ''} profile.`);
      });
    });

  profile
    .command('history')
    .description('every revision of a venue\'s profiles, with how many deployments received each')
    .requiredOption('--venue <code>', 'the venue')
    .action((options: ScopeOptions, command: Command) =>
      withCore(command, (core) => printTable(core.profiles.history(options.venue).map((r) => ({ ...r, product_type: r.product_type ?? 'all' })), ['product_type', 'revision', 'created_at', 'created_by', 'deployments'], 'No profile revisions yet.')),
    );
}
