// Master images: list, show (with the generalisation steps its devices reported), change, activate, delete. Uploads
// stream through image-upload.route.ts.
import { Type } from 'typebox';
import { RowId } from '../../contracts/domain.js';
import { ImageDetail, ImageList, ImageResponse, ImageUpdate, SuccessResponse } from '../../contracts/api.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';

const IdParams = Type.Object({ id: RowId() });

export function registerImageRoutes(app: TypedApp, { core }: ServerDeps): void {
  app.get('/api/images', { schema: { response: { 200: ImageList } }, config: { access: 'viewer' } }, async () => ({ images: core.images.list() }));

  app.get('/api/images/:id', { schema: { params: IdParams, response: { 200: ImageDetail } }, config: { access: 'viewer' } }, async (request) => ({
    image: core.images.get(request.params.id),
    generalization: core.images.generalizationOf(request.params.id),
  }));

  app.put('/api/images/:id', { schema: { params: IdParams, body: ImageUpdate, response: { 200: ImageDetail } }, config: { access: 'operator' } }, async (request) => {
    const image = core.images.update(request.params.id, request.body);
    return { image, generalization: core.images.generalizationOf(image.id) };
  });

  app.post('/api/images/:id/activate', { schema: { params: IdParams, response: { 200: ImageResponse } }, config: { access: 'operator' } }, async (request) => {
    const image = core.images.activate(request.params.id);
    return { success: true as const, image, checksum: image.sha256, filename: image.filename };
  });

  app.delete('/api/images/:id', { schema: { params: IdParams, response: { 200: SuccessResponse } }, config: { access: 'operator' } }, async (request) => {
    await core.images.delete(request.params.id);
    return { success: true as const };
  });
}
