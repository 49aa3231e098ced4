// Provisioning profiles: a venue's (or one product's override at it), read with secrets as set/not set and changed
// by storing a new revision; the revision history; and which revision a deployment was given.
import { Type } from 'typebox';
import { ProductType, RowId, VenueCode } from '../../contracts/domain.js';
import { ProfileResponse, ProfileRevisionInfo, ProfileRevisionList, ProfileScope, ProvisioningProfileInput } from '../../contracts/provisioning-profile.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';

const CodeParams = Type.Object({ code: VenueCode });
const IdParams = Type.Object({ id: RowId() });
const DeploymentProfile = Type.Object({ deployment_id: Type.Integer(), revision: Type.Union([ProfileRevisionInfo, Type.Null()]) });

export function registerProfileRoutes(app: TypedApp, { core }: ServerDeps): void {
  app.get('/api/venues/:code/profile', { schema: { params: CodeParams, querystring: ProfileScope, response: { 200: ProfileResponse } }, config: { access: 'viewer' } }, async (request) =>
    core.profiles.get(request.params.code, request.query.product ?? null),
  );

  app.put(
    '/api/venues/:code/profile',
    { schema: { params: CodeParams, querystring: ProfileScope, body: ProvisioningProfileInput, response: { 200: ProfileResponse } }, config: { access: 'operator' } },
    async (request) => {
      const product: ProductType | null = request.query.product ?? null;
      return core.profiles.set(request.params.code, product, request.body);
    },
  );

  app.get('/api/venues/:code/profile/revisions', { schema: { params: CodeParams, response: { 200: ProfileRevisionList } }, config: { access: 'viewer' } }, async (request) => ({
    revisions: core.profiles.history(request.params.code),
  }));

  app.get('/api/deployments/:id/profile', { schema: { params: IdParams, response: { 200: DeploymentProfile } }, config: { access: 'viewer' } }, async (request) => {
    const deployment = core.deployments.get(request.params.id);
    return { deployment_id: deployment.id, revision: core.profiles.revisionOfDeployment(deployment.id) };
  });
}
