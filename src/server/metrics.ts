// Prometheus figures kept in memory: request latencies, bytes of images served, hostnames handed out. Deployment counts by state are read from the database at scrape time, so they survive restarts.
import type { ServerEventName, ServerEvents } from '../contracts/events.js';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface Histogram {
  buckets: number[];
  sum: number;
  count: number;
}

/** Plain functions, not methods: they are handed around as callbacks. */
export interface ServerMetrics {
  /** Called by the image download route as bytes go out. */
  countBytesServed: (bytes: number) => void;
  observeRequest: (listener: 'management' | 'device', method: string, route: string, status: number, seconds: number) => void;
  observeEvent: <K extends ServerEventName>(name: K, payload: ServerEvents[K]) => void;
  /** Prometheus text exposition format; `extra` are gauges computed by the caller at scrape time. */
  render(extra: GaugeFamily[]): string;
}

export interface GaugeFamily {
  name: string;
  help: string;
  type?: 'gauge' | 'counter';
  samples: Array<{ labels?: Record<string, string>; value: number }>;
}

const escapeLabel = (value: string) => value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
const labelText = (labels: Record<string, string> | undefined) =>
  labels && Object.keys(labels).length ? `{${Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';

export function createServerMetrics(): ServerMetrics {
  let bytesServed = 0;
  let assignments = 0;
  const latencies = new Map<string, Histogram>();
  const requests = new Map<string, number>();

  return {
    countBytesServed: (bytes) => void (bytesServed += bytes),
    observeRequest(listener, method, route, status, seconds) {
      const key = JSON.stringify([listener, method, route]);
      let histogram = latencies.get(key);
      if (!histogram) latencies.set(key, (histogram = { buckets: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 }));
      LATENCY_BUCKETS.forEach((bound, index) => {
        if (seconds <= bound) histogram.buckets[index]!++;
      });
      histogram.sum += seconds;
      histogram.count++;
      const statusKey = JSON.stringify([listener, method, route, String(status)]);
      requests.set(statusKey, (requests.get(statusKey) ?? 0) + 1);
    },
    observeEvent(name) {
      if (name === 'hostname_assigned') assignments++;
    },
    render(extra) {
      const lines: string[] = [];
      const family = (f: GaugeFamily) => {
        lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type ?? 'gauge'}`);
        for (const sample of f.samples) lines.push(`${f.name}${labelText(sample.labels)} ${sample.value}`);
      };
      family({ name: 'pitcrew_image_bytes_served_total', help: 'Bytes of master images sent to devices.', type: 'counter', samples: [{ value: bytesServed }] });
      family({ name: 'pitcrew_hostname_assignments_total', help: 'New hostnames handed out since start.', type: 'counter', samples: [{ value: assignments }] });
      for (const f of extra) family(f);
      family({
        name: 'pitcrew_http_requests_total',
        help: 'HTTP requests answered, by listener, method, route and status.',
        type: 'counter',
        samples: [...requests].map(([key, value]) => {
          const [listener, method, route, status] = JSON.parse(key) as string[];
          return { labels: { listener: listener!, method: method!, route: route!, status: status! }, value };
        }),
      });
      lines.push('# HELP pitcrew_http_request_duration_seconds Time to answer HTTP requests.', '# TYPE pitcrew_http_request_duration_seconds histogram');
      for (const [key, histogram] of latencies) {
        const [listener, method, route] = JSON.parse(key) as string[];
        const base = { listener: listener!, method: method!, route: route! };
        LATENCY_BUCKETS.forEach((bound, index) => lines.push(`pitcrew_http_request_duration_seconds_bucket${labelText({ ...base, le: String(bound) })} ${histogram.buckets[index]}`));
        lines.push(`pitcrew_http_request_duration_seconds_bucket${labelText({ ...base, le: '+Inf' })} ${histogram.count}`);
        lines.push(`pitcrew_http_request_duration_seconds_sum${labelText(base)} ${histogram.sum}`);
        lines.push(`pitcrew_http_request_duration_seconds_count${labelText(base)} ${histogram.count}`);
      }
      return `${lines.join('\n')}\n`;
    },
  };
}
