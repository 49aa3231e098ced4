// `pitcrew serve`: runs the server. Every setting comes from the environment (PITCREW_*) or a flag; a bad value
// stops it before anything starts, naming the variable or flag.
import type { Command } from 'commander';
import { CONFIG_KEYS, ConfigError, describeConfig, loadConfig, type ServerConfig } from '../../server/config.js';
import { startServer } from '../../server/main.js';
import { NetbootConfigError } from '../../netboot/dnsmasq.config.js';
import type { DnsmasqSupervisor } from '../../netboot/dnsmasq.supervisor.js';
import { createNetbootSupervisor } from '../../netboot/netboot.service.js';

/** Secrets are taken from the environment only: a flag would show them to anyone running `ps`. */
const ENV_ONLY: ReadonlyArray<keyof ServerConfig> = ['adminPassword', 'deviceToken'];

const optionName = (flag: string) => flag.replace(/^--/, '').replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());

export function registerServeCommand(program: Command): void {
  const serve = program
    .command('serve')
    .description('run the Pitcrew server: management listener (web UI, API, live events) and device listener')
    .addHelpText('after', `\nEnvironment variables (flags win over them):\n${describeConfig()}\n`);
  for (const [key, spec] of Object.entries(CONFIG_KEYS) as Array<[keyof ServerConfig, (typeof CONFIG_KEYS)[keyof ServerConfig]]>) {
    if (ENV_ONLY.includes(key) || key === 'dataDir') continue;
    serve.option(spec.isSwitch ? spec.flag : `${spec.flag} <value>`, `${spec.description} [$${spec.env}]`);
  }
  serve.option('--data-dir <dir>', `${CONFIG_KEYS.dataDir.description} [$${CONFIG_KEYS.dataDir.env}]`);

  serve.action(async (options: Record<string, string | boolean | undefined>, command: Command) => {
    const overrides: Partial<Record<keyof ServerConfig, string>> = {};
    for (const [key, spec] of Object.entries(CONFIG_KEYS) as Array<[keyof ServerConfig, { flag: string }]>) {
      const value = options[optionName(spec.flag)];
      if (value !== undefined) overrides[key] = String(value);
    }
    const globalDataDir = command.optsWithGlobals<{ dataDir?: string }>().dataDir;
    if (overrides.dataDir === undefined && globalDataDir !== undefined) overrides.dataDir = globalDataDir;
    let config: ServerConfig;
    try {
      config = loadConfig(process.env, overrides);
    } catch (error) {
      if (error instanceof ConfigError) {
        process.stderr.write(`${error.message}\n`);
        process.exit(2);
      }
      throw error;
    }
    // Network boot: dnsmasq as a supervised child process, started once the listeners are up.
    let netboot: DnsmasqSupervisor | null = null;
    let log: Record<'info' | 'warn' | 'error', (details: object, message: string) => void> | null = null;
    if (config.netboot) {
      try {
        netboot = createNetbootSupervisor({ dataDir: config.dataDir, log: (level, message, details) => log?.[level]({ netboot: true, ...details }, message) });
      } catch (error) {
        if (error instanceof NetbootConfigError) {
          process.stderr.write(`pitcrew: ${error.message}\n`);
          process.exit(2);
        }
        throw error;
      }
    }
    const running = await startServer(config, { handleSignals: true, netboot });
    log = running.server.management.log;
    netboot?.start();
  });
}
