// Child process for config.bench.ts: autocannon (a load generator on its own HTTP client) drives one scenario
// against the server, so neither the server nor the benchmark's own process shares its CPU time with the client.
// Takes a LoadJob as JSON in argv[2]; prints one LoadResult as JSON on stdout.
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';

export type Scenario = 'health' | 'config-new' | 'config-again' | 'status';

export interface LoadJob {
  url: string;
  scenario: Scenario;
  connections: number;
  /** Stop after this many requests… */
  amount?: number;
  /** …or after this many seconds. */
  seconds?: number;
  /** Requests per second over all connections (a fleet's pace); unset: as fast as the server answers. */
  rate?: number;
  /** Devices that already asked (`config-again` and `status` pick among them). */
  knownDevices?: number;
}

export interface LoadResult {
  perSecond: number;
  ok: number;
  failed: number;
  errors: number;
  seconds: number;
  latencyMs: { p50: number; p99: number; max: number };
}

/** The serial number of the n-th simulated device, as the benchmark's devices send it. */
export const serialOf = (n: number): string => `b${n.toString(16).padStart(10, '0')}`;

function bodyFor(job: LoadJob): (n: number) => unknown {
  const known = Math.max(job.knownDevices ?? 1, 1);
  switch (job.scenario) {
    case 'config-new':
      return (n) => ({ product_type: 'KXP2', venue_code: 'CORO', serial_number: serialOf(n) });
    case 'config-again':
      return (n) => ({ product_type: 'KXP2', venue_code: 'CORO', serial_number: serialOf(n % known) });
    case 'status':
      return (n) => ({ status: 'downloading', hostname: null, serial: serialOf(n % known), progress: n % 100 });
    case 'health':
      throw new Error('GET /health has no body');
  }
}

export async function runLoad(job: LoadJob): Promise<LoadResult> {
  let sent = 0;
  const base = { url: job.scenario === 'health' ? `${job.url}/health` : `${job.url}/api/${job.scenario === 'status' ? 'status' : 'config'}`, connections: job.connections };
  const limits = { ...(job.amount ? { amount: job.amount } : { duration: job.seconds ?? 10 }), ...(job.rate ? { overallRate: job.rate } : {}) };
  const options: autocannon.Options =
    job.scenario === 'health'
      ? { ...base, ...limits }
      : (() => {
          const body = bodyFor(job);
          return {
            ...base,
            ...limits,
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            // Every request its own device: the body is built as the request goes out.
            requests: [{ setupRequest: (request: autocannon.Request) => ({ ...request, body: JSON.stringify(body(sent++)) }) }],
          };
        })();
  const result = await autocannon(options);
  const ok = result['2xx'];
  return {
    perSecond: ok / result.duration,
    ok,
    failed: result.non2xx,
    errors: result.errors + result.timeouts,
    seconds: result.duration,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(`${JSON.stringify(await runLoad(JSON.parse(process.argv[2] ?? '{}') as LoadJob))}\n`);
}
