// sendFileRange on a bare node:http server: exact bytes through the reused buffer ring (many responses at once),
// stalled clients cut by the idle timeout, clients gone before the first byte, and cuts on demand.
import { createHash, randomBytes } from 'node:crypto';
import { openSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../test-support/test-server.js';
import { CHUNK_BYTES, sendFileRange, type SendOptions, type Transfer, type TransferOutcome } from './file-stream.sender.js';
import { answeredBy } from '../test-support/answered-by.js';

interface Harness {
  url: string;
  content: Buffer;
  transfers: Transfer[];
  outcomes: TransferOutcome[];
}

/** A server whose every GET sends `bytes=start-end` of a random file (from the query), through sendFileRange. */
async function withSender(size: number, options: SendOptions, run: (harness: Harness) => Promise<void>, startAfterClientLeft = false) {
  const dir = await mkdtemp(join(tmpdir(), 'pitcrew-sender-'));
  const file = join(dir, 'image.img');
  const content = randomBytes(size);
  writeFileSync(file, content);
  const transfers: Transfer[] = [];
  const outcomes: TransferOutcome[] = [];
  const server = createServer(answeredBy(async (request: IncomingMessage, response: ServerResponse) => {
    // As when a device hangs up while the route is still opening the file.
    if (startAfterClientLeft) await new Promise((resolve) => response.once('close', resolve));
    const query = new URL(request.url ?? '/', 'http://x').searchParams;
    const start = Number(query.get('start') ?? 0);
    const end = Number(query.get('end') ?? size - 1);
    response.writeHead(200, { 'content-length': String(end - start + 1) });
    const transfer = sendFileRange(response, openSync(file, 'r'), start, end, options);
    transfers.push(transfer);
    void transfer.done.then((outcome) => outcomes.push(outcome));
  }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  try {
    await run({ url: `http://127.0.0.1:${address.port}`, content, transfers, outcomes });
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  }
}

function get(url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    httpRequest(url, { agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve(Buffer.concat(chunks)));
      response.on('error', reject);
    }).on('error', reject).end();
  });
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('sendFileRange', () => {
  it('sends exact bytes to many concurrent clients while reusing its buffers', () =>
    withSender(5 * CHUNK_BYTES + 777, {}, async ({ url, content, outcomes }) => {
      const ranges: Array<[number, number]> = [
        [0, content.length - 1],
        [1, CHUNK_BYTES],
        [CHUNK_BYTES - 1, 3 * CHUNK_BYTES + 1],
        [content.length - 1, content.length - 1],
        [17, 17 + 4096],
      ];
      // Several rounds of concurrent responses: a buffer handed back too early would mix their bytes.
      for (let round = 0; round < 3; round++) {
        const bodies = await Promise.all(ranges.flatMap(([start, end]) => [get(`${url}/?start=${start}&end=${end}`), get(`${url}/?start=${start}&end=${end}`)]));
        bodies.forEach((body, index) => {
          const [start, end] = ranges[Math.floor(index / 2)]!;
          expect(sha256(body), `${start}-${end}`).toBe(sha256(content.subarray(start, end + 1)));
        });
      }
      await waitFor(() => outcomes.length === ranges.length * 6, 5000, 'every transfer to settle');
      expect(outcomes.every((outcome) => outcome.finished)).toBe(true);
    }));

  it('cuts a client that stops reading once nothing moved for the idle timeout', () =>
    withSender(64 * CHUNK_BYTES, { idleTimeoutMs: 300 }, async ({ url, outcomes }) => {
      const request = httpRequest(url, { agent: false }, (response) => response.pause());
      request.on('error', () => {});
      request.end();
      const [outcome] = await waitFor(() => (outcomes.length === 1 ? outcomes : undefined), 10_000, 'the stalled transfer to be cut');
      expect(outcome).toMatchObject({ finished: false, reason: 'no progress for 300 ms' });
      request.destroy();
    }));

  it('ends at once, without error, when the client left before the first byte', () =>
    withSender(8 * CHUNK_BYTES, {}, async ({ url, outcomes }) => {
      for (let i = 0; i < 5; i++) {
        const request = httpRequest(url, { agent: false });
        request.on('error', () => {});
        request.end(() => request.destroy());
      }
      const settled = await waitFor(() => (outcomes.length === 5 ? outcomes : undefined), 5000, 'every abandoned transfer to settle');
      expect(settled.every((outcome) => !outcome.finished && outcome.bytes === 0)).toBe(true);
    }, true));

  it('cuts a transfer on demand, and the client sees a short body', () =>
    withSender(64 * CHUNK_BYTES, {}, async ({ url, content, transfers, outcomes }) => {
      const received = new Promise<{ bytes: number; complete: boolean }>((resolve) => {
        httpRequest(url, { agent: false }, (response) => {
          let bytes = 0;
          response.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (bytes >= CHUNK_BYTES && transfers[0]) transfers[0].cut('shutdown');
          });
          response.on('end', () => resolve({ bytes, complete: response.complete }));
          response.on('error', () => resolve({ bytes, complete: false }));
          response.on('aborted', () => resolve({ bytes, complete: false }));
        }).on('error', () => resolve({ bytes: 0, complete: false })).end();
      });
      const result = await received;
      expect(result.complete).toBe(false);
      expect(result.bytes).toBeLessThan(content.length);
      await waitFor(() => outcomes.length === 1, 5000, 'the transfer to settle');
      expect(outcomes[0]).toMatchObject({ finished: false, reason: 'shutdown' });
    }));
});
