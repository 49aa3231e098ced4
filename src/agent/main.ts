// pitcrew-agent: the on-device installer. esbuild bundles this file into dist/agent/pitcrew-agent.mjs, one
// file that runs with plain `node` on the network-booted Pi, so nothing here may need native modules.
import { parseAgentOptions, AGENT_USAGE, type AgentOptions } from './agent.options.js';
import { readIdentity } from './identity.reader.js';
import { describeError } from './installer.errors.js';
import { formatBytes } from '../contracts/format.js';
import { runInstaller, type InstallerEvent } from './installer.runner.js';
import { clockWithOffset, readServerTime, setSystemClock } from './server.clock.js';
import { rebootSystem } from './system.reboot.js';
import { waitForStickRemoval } from './installer-stick.waiter.js';

async function main(): Promise<number> {
  let options: AgentOptions | 'help';
  try {
    options = parseAgentOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`pitcrew-agent: ${describeError(error)}\n\n${AGENT_USAGE}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${AGENT_USAGE}\n`);
    return 0;
  }
  // The time first: a Pi starts near 1970, and log lines, the configuration request and the files written on the
  // card all carry it.
  let now: () => number = Date.now;
  const serverTime = await readServerTime(options.serverUrl, { deviceToken: options.deviceToken });
  const clockNotes: Array<['info' | 'warn', string]> = [];
  if ('error' in serverTime) {
    clockNotes.push(['warn', `could not read the server's time (${serverTime.error}); using this board's clock: ${new Date().toISOString()}`]);
  } else if (Math.abs(serverTime.offsetMs) < CLOCK_TOLERANCE_MS) {
    // Right already (an RTC, or the host running the agent as a simulator).
  } else if (options.setClock && process.getuid?.() === 0) {
    const was = new Date().toISOString();
    try {
      await setSystemClock(Date.now() + serverTime.offsetMs);
      clockNotes.push(['info', `clock set from the server: ${new Date().toISOString()} (it said ${was})`]);
    } catch (error) {
      now = clockWithOffset(serverTime.offsetMs);
      clockNotes.push(['warn', `could not set the clock (${describeError(error)}); this board's clock is ${describeOffset(serverTime.offsetMs)}; using the server's time`]);
    }
  } else {
    now = clockWithOffset(serverTime.offsetMs);
    clockNotes.push(['info', `this board's clock is ${describeOffset(serverTime.offsetMs)}; using the server's time`]);
  }
  const log = createLogger(options.json, now);
  for (const [level, message] of clockNotes) log(level, message);
  const identity = await readIdentity({ root: options.systemRoot, serial: options.serial, mac: options.mac, model: options.model, iface: options.iface });
  log('info', `board ${identity.model ?? 'unknown model'}, serial ${identity.serial ?? 'unknown'}, MAC ${identity.mac ?? 'unknown'}${identity.iface ? ` (${identity.iface})` : ''}`);

  const abort = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => abort.abort(new Error(`stopped by ${signal}`)));
  }

  let lastProgressLog = 0;
  const result = await runInstaller({
    serverUrl: options.serverUrl,
    target: options.target,
    identity,
    productType: options.productType,
    venueCode: options.venueCode,
    retryPolicy: options.retryPolicy,
    maxBytesPerSecond: options.maxBytesPerSecond ?? undefined,
    cardWriteBytesPerSecond: options.cardWriteRate ?? undefined,
    chunksInFlight: options.chunksInFlight,
    rawOnly: options.rawOnly,
    peers: options.peers,
    customize: options.customize,
    deviceToken: options.deviceToken,
    systemRoot: options.systemRoot,
    installerStick: options.installerStick,
    signal: abort.signal,
    now,
    onEvent: (event: InstallerEvent) => {
      if (event.type === 'phase') log('info', `[${event.phase}] ${event.message}`, { phase: event.phase });
      else if (event.type === 'config') log('info', `assigned ${event.config.hostname} (deployment ${event.config.deployment_id}), image ${event.config.version}`);
      else if (event.type === 'retry') log('warn', `${event.what}: ${event.reason}; retry ${event.attempt} in ${(event.delayMs / 1000).toFixed(1)} s`);
      else if (event.type === 'warning') log('warn', event.message);
      else if (event.type === 'linger') log('info', event.message, { phase: 'serving' });
      else if (event.type === 'card') log('info', event.message);
      else if (event.type === 'identify') log('info', `identify: blinking the activity LED for ${event.seconds} s`);
      else if (event.type === 'delivery') log('info', event.detail, { delivery: event.delivery });
      else if (event.type === 'progress' && (performance.now() - lastProgressLog > 5000 || event.bytesDone === event.bytesTotal)) {
        lastProgressLog = performance.now();
        const eta = event.etaS === null || event.bytesDone === event.bytesTotal ? '' : `, ${formatEta(event.etaS)} left`;
        log('info', `[${event.phase}] ${event.percent.toFixed(1)} % — ${formatBytes(event.bytesDone)} of ${formatBytes(event.bytesTotal)} at ${formatBytes(event.rateBps)}/s${eta}`, {
          bytes_done: event.bytesDone,
        });
      }
    },
  });

  if (!result.ok) {
    log('error', `installation failed${result.failedPhase ? ` while ${result.failedPhase}` : ''}: ${result.error}`, { code: result.errorCode });
    return result.exitCode;
  }
  for (const step of result.customization?.generalization ?? []) log('info', `generalisation, ${step.step}: ${step.note}`, { step: step.step, done: step.done });
  log('info', `done in ${(result.timings.totalMs / 1000).toFixed(1)} s: ${result.hostname} is installed`, {
    installed_ms: result.timings.totalMs - result.lingeredMs,
    bytes: result.bytes,
    peer_bytes: result.peerBytes,
    served_bytes: result.servedBytes,
  });
  if (options.reboot && result.installerStick) {
    log('warn', `remove the installer stick before the board restarts: pull out ${result.installerStick} now; the board restarts as soon as it is out, or in ${options.stickWaitSeconds} s`, { phase: 'remove-stick' });
    const outcome = await waitForStickRemoval({ root: options.systemRoot, name: result.installerStick, timeoutMs: options.stickWaitSeconds * 1000, signal: abort.signal });
    log(outcome === 'removed' ? 'info' : 'warn', outcome === 'removed' ? 'the installer stick is out' : `the installer stick is still in after ${options.stickWaitSeconds} s: restarting anyway (the bootloader starts the installed system if it tries that disk first)`);
  }
  if (options.reboot) {
    log('info', 'rebooting into the new system');
    await rebootSystem();
  }
  return 0;
}

const formatEta = (seconds: number): string => (seconds < 90 ? `${seconds} s` : `${Math.round(seconds / 60)} min`);

/** Below this the board's clock is left alone: the Date header only has whole seconds. */
const CLOCK_TOLERANCE_MS = 2000;

/** "20423 days behind the server's" for a board at 1970 (offset: server minus board). */
function describeOffset(offsetMs: number): string {
  const seconds = Math.abs(offsetMs) / 1000;
  const amount = seconds < 120 ? `${seconds.toFixed(1)} s` : seconds < 2 * 86_400 ? `${(seconds / 3600).toFixed(1)} h` : `${Math.round(seconds / 86_400)} days`;
  return `${amount} ${offsetMs > 0 ? 'behind' : 'ahead of'} the server's`;
}

function createLogger(json: boolean, now: () => number) {
  return (level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown> = {}) => {
    const stream = level === 'info' ? process.stdout : process.stderr;
    if (json) stream.write(JSON.stringify({ time: new Date(now()).toISOString(), level, msg: message, ...fields }) + '\n');
    else stream.write(`pitcrew-agent: ${message}\n`);
  };
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`pitcrew-agent: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
