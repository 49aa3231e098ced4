// The OpenAPI document, generated from the same TypeBox schemas the routes validate with, and a browsable UI at
// /api/docs. Both need a login like the rest of the API (the access hook sees them as ordinary GET routes).
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { TypedApp } from '../http/app-types.js';
import { PITCREW_VERSION } from '../../version.js';

/** Must run before any route is added: the document is built from the routes registered after it. */
export async function registerOpenApi(app: TypedApp): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Pitcrew management API',
        version: PITCREW_VERSION,
        description: 'Venues, kart-number pools, deployment batches, master images, deployments, users and tokens. '
          + 'Errors are `{success:false, error, code}`. The device API (/api/config, /api/status, /images) is on the device listener.',
      },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: 'pitcrew_session' },
          token: { type: 'http', scheme: 'bearer', description: 'An API token from `pitcrew token create` or POST /api/tokens' },
        },
      },
      security: [{ session: [] }, { token: [] }],
    },
  });
  await app.register(fastifySwaggerUi, {
    routePrefix: '/api/docs',
    staticCSP: true,
    // Pitcrew serves plain http: the plugin's `upgrade-insecure-requests` made a browser that opened the docs by the
    // server's IP fetch the page's own scripts over https, which nothing answers, and the page stayed blank. (Behind
    // a TLS proxy the page is https already and nothing needs upgrading.)
    transformStaticCSP: withoutInsecureUpgrade,
  });
}

/** The docs' Content-Security-Policy without the `upgrade-insecure-requests` directive. */
export const withoutInsecureUpgrade = (policy: string): string =>
  policy.split(';').map((directive) => directive.trim()).filter((directive) => directive && directive !== 'upgrade-insecure-requests').join('; ');
