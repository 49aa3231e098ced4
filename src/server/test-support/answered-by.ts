// Node's http server ignores what a request handler returns, so a rejected async handler would float away
// unhandled and leave its client waiting. This one answers 500 with the error instead.
import type { IncomingMessage, ServerResponse } from 'node:http';

export function answeredBy(handler: (request: IncomingMessage, response: ServerResponse) => Promise<void>) {
  return (request: IncomingMessage, response: ServerResponse): void => {
    handler(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end(`test server handler failed: ${(error as Error).message}`);
    });
  };
}
