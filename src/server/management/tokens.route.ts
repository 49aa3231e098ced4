// API tokens for scripts. Operators manage their own; admins see everyone's and can issue tokens for others
// (e.g. a viewer token for a metrics scraper). The secret is in the creation answer only.
import { Type } from 'typebox';
import { RowId } from '../../contracts/domain.js';
import { SuccessResponse, TokenCreate, TokenCreated, TokenList } from '../../contracts/api.js';
import { AppError } from '../../contracts/errors.js';
import { requireRole } from '../auth/access.hooks.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';

const IdParams = Type.Object({ id: RowId() });

export function registerTokenRoutes(app: TypedApp, { accounts, endLiveSockets }: ServerDeps): void {
  app.get('/api/tokens', { schema: { response: { 200: TokenList } }, config: { access: 'operator' } }, async (request) => {
    const { user } = request.principal!;
    return { tokens: accounts.listTokens(user.role === 'admin' ? undefined : user.id) };
  });

  app.post('/api/tokens', { schema: { body: TokenCreate, response: { 201: TokenCreated } }, config: { access: 'operator' } }, async (request, reply) => {
    const { user } = request.principal!;
    let owner = user;
    if (request.body.username !== undefined && request.body.username.toLowerCase() !== user.username.toLowerCase()) {
      requireRole(request, 'admin');
      const found = accounts.findUserByName(request.body.username);
      if (!found) throw new AppError('NOT_FOUND', `There is no user ${request.body.username}.`);
      owner = found;
    }
    const created = accounts.createToken(owner.id, request.body.name);
    return reply.code(201).send({ success: true as const, ...created });
  });

  app.delete('/api/tokens/:id', { schema: { params: IdParams, response: { 200: SuccessResponse } }, config: { access: 'operator' } }, async (request) => {
    const token = accounts.getToken(request.params.id);
    // Someone else's token is "not found" for an operator, so ids cannot be probed.
    if (token.user_id !== request.principal!.user.id && request.principal!.user.role !== 'admin') throw new AppError('NOT_FOUND', `There is no API token ${request.params.id}.`);
    accounts.revokeToken(token.id);
    endLiveSockets({ tokenId: token.id });
    return { success: true as const };
  });
}
