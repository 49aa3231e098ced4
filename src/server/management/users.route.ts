// User accounts (admins only): list, create, change role or password, remove.
import { Type } from 'typebox';
import { RowId } from '../../contracts/domain.js';
import { SuccessResponse, UserCreate, UserList, UserResponse, UserUpdate } from '../../contracts/api.js';
import { AppError } from '../../contracts/errors.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';

const IdParams = Type.Object({ id: RowId() });

export function registerUserRoutes(app: TypedApp, { accounts, endLiveSockets }: ServerDeps): void {
  app.get('/api/users', { schema: { response: { 200: UserList } }, config: { access: 'admin' } }, async () => ({ users: accounts.listUsers() }));

  app.post('/api/users', { schema: { body: UserCreate, response: { 201: UserResponse } }, config: { access: 'admin' } }, async (request, reply) => {
    const user = await accounts.createUser(request.body);
    return reply.code(201).send({ success: true as const, user });
  });

  app.put('/api/users/:id', { schema: { params: IdParams, body: UserUpdate, response: { 200: UserResponse } }, config: { access: 'admin' } }, async (request) => {
    if (request.body.password === undefined && request.body.role === undefined) throw new AppError('VALIDATION', 'Nothing to change: give a new password, a new role, or both.');
    const user = await accounts.updateUser(request.params.id, request.body);
    // A new password ends the user's sessions; a new role must apply to what their open dashboards receive.
    endLiveSockets({ userId: user.id });
    return { success: true as const, user };
  });

  app.delete('/api/users/:id', { schema: { params: IdParams, response: { 200: SuccessResponse } }, config: { access: 'admin' } }, async (request) => {
    if (request.principal?.user.id === request.params.id) throw new AppError('CONFLICT', 'You cannot remove your own account; ask another admin.');
    accounts.deleteUser(request.params.id);
    endLiveSockets({ userId: request.params.id });
    return { success: true as const };
  });
}
