// POST /api/peers/announce: a device in one-to-many delivery says what it holds and learns its peers.
import { PeerAnnounce, PeerAnnounceResponse } from '../../contracts/peer-delivery.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';

export function registerPeerAnnounceRoute(app: TypedApp, { core, config }: ServerDeps): void {
  app.post(
    '/api/peers/announce',
    { schema: { body: PeerAnnounce, response: { 200: PeerAnnounceResponse } } },
    async (request) => {
      const { response, badPeers } = core.peers.announce(request.body, request.ip, { requireToken: config.requireDeploymentToken });
      for (const bad of badPeers) {
        request.log.warn(
          { reporter: bad.reporter, peer: bad.peer, chunk: bad.chunk, reason: bad.reason },
          `deployment ${bad.peer} sent chunk ${bad.chunk} that failed its hash; it is no longer handed out as a peer`,
        );
      }
      return response;
    },
  );
}
