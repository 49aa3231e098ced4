// What the original Python installer puts on the wire, byte for byte: `requests.post(url, json=payload)` (Python's
// json.dumps spacing, null for what it does not know, float timestamps) and a plain streamed GET of the image.
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';

/** Python's json.dumps(): ", " and ": " separators, non-ASCII escaped, None → null, floats as floats. */
function pythonJsonDumps(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return String(value); // repr() of these ints and floats reads the same
  if (typeof value === 'string') return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>).map(([k, v]) => `${JSON.stringify(k)}: ${pythonJsonDumps(v)}`).join(', ')}}`;
}

const PYTHON_HEADERS = { 'user-agent': 'python-requests/2.31.0', 'accept-encoding': 'gzip, deflate', accept: '*/*', connection: 'keep-alive' };

/** What requests.post(url, json=payload) puts on the wire. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the answers are checked by the assertions
export function pythonPost(url: string, payload: unknown): Promise<{ status: number; json: any; raw: string }> {
  const body = Buffer.from(pythonJsonDumps(payload), 'utf8');
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { ...PYTHON_HEADERS, 'content-length': String(body.length), 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, json: raw ? JSON.parse(raw) : null, raw });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** requests.get(url, stream=True) read in 8 KiB pieces, hashed as the original did. */
export function pythonDownload(url: string): Promise<{ status: number; sha256: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    httpRequest(url, { headers: PYTHON_HEADERS }, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        hash.update(c);
        bytes += c.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, sha256: hash.digest('hex'), bytes }));
    })
      .on('error', reject)
      .end();
  });
}
