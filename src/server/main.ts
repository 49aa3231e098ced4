// Runs the server for real: listens, sweeps stale deployments, cleans leftovers of interrupted uploads, makes
// sure an admin exists, and shuts down gracefully on SIGINT/SIGTERM (HTTP, then sockets, then SQLite).
import { buildApp, type BuildOptions, type ListeningAddresses, type PitcrewServer } from './build-app.js';
import type { ServerConfig } from './config.js';
import { raiseMallocThresholds } from './malloc-thresholds.js';
import { startStaleSweeper } from './stale-sweeper.js';

export interface RunningServer {
  server: PitcrewServer;
  addresses: ListeningAddresses;
  /** The generated first-admin password, when one was generated (shown once). */
  generatedAdminPassword: string | null;
  stop(): Promise<void>;
}

export interface StartOptions extends BuildOptions {
  /** Install SIGINT/SIGTERM handlers (the CLI does; tests do not). */
  handleSignals?: boolean;
  /** Where the one-time admin password is shown; stdout by default, never the log. */
  announce?: (text: string) => void;
}

export async function startServer(config: ServerConfig, options: StartOptions = {}): Promise<RunningServer> {
  await raiseMallocThresholds();
  const server = await buildApp(config, options);
  const log = server.management.log;
  const announce = options.announce ?? ((text: string) => process.stdout.write(`${text}\n`));
  try {
    const removed = await server.core.imageStore.removeIncomplete();
    if (removed) log.info({ removed }, 'removed leftovers of interrupted uploads');

    const admin = await server.accounts.ensureFirstAdmin(config.adminPassword);
    if (admin.created) {
      log.info('created the first user, admin');
      if (admin.generatedPassword) {
        announce(
          `\n  Pitcrew created the user "admin" with this password (shown once, write it down):\n\n      ${admin.generatedPassword}\n\n` +
            '  Change it with `pitcrew user passwd admin`, or set PITCREW_ADMIN_PASSWORD before the first start.\n',
        );
      }
    }
    const addresses = await server.listen();
    log.info({ management: addresses.management, device: addresses.device }, 'Pitcrew is listening');

    const sweeper = startStaleSweeper(server.core, { staleMinutes: config.staleMinutes, intervalSeconds: config.staleSweepSeconds, log });
    let stopping: Promise<void> | null = null;
    const stop = () => {
      stopping ??= (async () => {
        sweeper.stop();
        log.info('shutting down');
        await server.close();
      })();
      return stopping;
    };

    if (options.handleSignals) {
      const onSignal = (signal: NodeJS.Signals) => {
        log.info({ signal }, 'received signal');
        stop().then(
          () => process.exit(0),
          (error: unknown) => {
            log.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
    }
    return { server, addresses, generatedAdminPassword: admin.generatedPassword, stop };
  } catch (error) {
    await server.close();
    throw error;
  }
}
