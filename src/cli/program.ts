// The `pitcrew` command tree. Each subcommand lives in commands/ and registers itself here.
import { Command, CommanderError } from 'commander';
import { reportError } from './output.js';
import { registerBackupCommand } from './commands/backup.js';
import { registerBatchCommands } from './commands/batches.js';
import { registerDeploymentCommands } from './commands/deployments.js';
import { registerImageCommands } from './commands/images.js';
import { registerPoolCommands } from './commands/pool.js';
import { registerProfileCommands } from './commands/profiles.js';
import { registerVenueCommands } from './commands/venues.js';
import { registerServeCommand } from './commands/serve.js';
import { registerSimulateCommand } from './commands/simulate.js';
import { registerUserCommands } from './commands/users.js';
import { registerNetbootCommand } from './commands/netboot.js';
import { registerWebhookCommands } from './commands/webhooks.js';
import { PITCREW_VERSION } from '../version.js';

export function buildProgram(): Command {
  const program = new Command('pitcrew')
    .description('Mass-deploy Raspberry Pi devices over the network')
    .version(PITCREW_VERSION)
    .option('--data-dir <dir>', 'data folder (database and images), given before the command; default $PITCREW_DATA_DIR or ./data')
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions()
    .exitOverride();
  registerVenueCommands(program);
  registerProfileCommands(program);
  registerPoolCommands(program);
  registerBatchCommands(program);
  registerImageCommands(program);
  registerDeploymentCommands(program);
  registerBackupCommand(program);
  registerServeCommand(program);
  registerSimulateCommand(program);
  registerUserCommands(program);
  registerNetbootCommand(program);
  registerWebhookCommands(program);
  return program;
}


/** Runs one command line (`argv` as in process.argv) and returns its exit code; usage errors are printed by commander. */
export async function runCli(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    return reportError(error);
  }
}
