import type { FastifyRequest } from 'fastify';
import type { ServerConfig } from '../config.js';

const HOST_HEADER = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/**
 * The base URL a device should use to reach this listener: PITCREW_DEVICE_URL when set, else the address the
 * device itself used (its Host header), else the local address the request arrived on.
 */
export function deviceBaseUrl(config: Pick<ServerConfig, 'deviceUrl'>, request: FastifyRequest): string {
  if (config.deviceUrl) return config.deviceUrl;
  const host = request.headers.host;
  if (host && HOST_HEADER.test(host)) return `${request.protocol}://${host}`;
  const address = request.socket.localAddress ?? '127.0.0.1';
  const shown = address.includes(':') ? `[${address.replace(/^::ffff:/, '')}]` : address;
  return `${request.protocol}://${address.startsWith('::ffff:') ? address.slice(7) : shown}:${request.socket.localPort}`;
}
