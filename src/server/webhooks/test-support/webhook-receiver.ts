// A real HTTP receiver for webhook tests: node:http on an ephemeral loopback port, recording every request and
// answering what the test tells it to (fail the first attempt, never answer, …).
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  /** When it arrived, ms since the epoch. */
  at: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What to answer a request (the how-manieth this is, from 1): a status code, or 'hang' to never answer. */
export type Responder = (request: ReceivedRequest, count: number) => number | 'hang';

export interface WebhookReceiver {
  url: string;
  received: ReceivedRequest[];
  respond: Responder;
  close(): Promise<void>;
}

export async function startWebhookReceiver(respond: Responder = () => 200): Promise<WebhookReceiver> {
  const hanging: ServerResponse[] = [];
  const server = createServer((request, response) => {
    const at = Date.now();
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const received = { at, method: request.method ?? '', path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString('utf8') };
      receiver.received.push(received);
      const answer = receiver.respond(received, receiver.received.length);
      if (answer === 'hang') return void hanging.push(response);
      response.writeHead(answer, { 'content-type': 'text/plain' }).end(answer >= 400 ? `receiver says no (${answer})` : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const receiver: WebhookReceiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received: [],
    respond,
    close: async () => {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return receiver;
}
