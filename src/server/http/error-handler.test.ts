import Fastify from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../contracts/errors.js';
import { installErrorHandling } from './error-handler.js';
import { validatorCompiler } from './validation.js';
import type { TypedApp } from './app-types.js';

let app: TypedApp;
const logged: unknown[] = [];
beforeEach(async () => {
  logged.length = 0;
  app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => void logged.push(JSON.parse(line)) } } }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  installErrorHandling(app);
  app.get('/bug', async () => {
    throw new Error('secret internals at /srv/pitcrew');
  });
  app.get('/full/:code', async (request) => {
    const { code } = request.params as { code: string };
    // As better-sqlite3 and node:fs raise them; ENOSPC also arrives wrapped as a cause.
    const error = Object.assign(new Error(code === 'SQLITE_FULL' ? 'database or disk is full' : `${code}: no space left on device, write`), { code });
    throw code === 'wrapped' ? new Error('upload failed', { cause: Object.assign(new Error('no space'), { code: 'ENOSPC' }) }) : error;
  });
  app.get('/conflict', async () => {
    throw new AppError('CONFLICT', 'Venue CORO already exists.', { code: 'CORO' });
  });
  app.post('/strict', { schema: { body: Type.Object({ n: Type.Integer(), nested: Type.Optional(Type.Object({ a: Type.String() }, { additionalProperties: false })) }, { additionalProperties: false }) } }, async (request) => request.body);
  app.get('/query', { schema: { querystring: Type.Object({ n: Type.Integer() }) } }, async (request) => request.query);
  await app.ready();
});
afterEach(async () => app.close());

describe('error answers', () => {
  it('turns an unexpected error into a logged 500 that reveals nothing', async () => {
    const answer = await app.inject({ method: 'GET', url: '/bug' });
    expect(answer.statusCode).toBe(500);
    expect(answer.json()).toEqual({ success: false, error: 'Internal server error: this is a bug in Pitcrew and has been logged.', code: 'INTERNAL' });
    expect(answer.body).not.toContain('/srv/pitcrew');
    expect(JSON.stringify(logged)).toContain('secret internals at /srv/pitcrew');
  });

  it('answers a full disk (SQLITE_FULL, ENOSPC, EDQUOT, also as a cause) with a plain 507, logged once as an operator problem', async () => {
    logged.length = 0;
    app.log.level = 'warn';
    for (const code of ['SQLITE_FULL', 'ENOSPC', 'EDQUOT', 'wrapped', 'SQLITE_FULL']) {
      const answer = await app.inject({ method: 'GET', url: `/full/${code}` });
      expect(answer.statusCode).toBe(507);
      expect(answer.json()).toEqual({ success: false, error: expect.stringMatching(/disk is full.*free some space/), code: 'INSUFFICIENT_STORAGE' });
      expect(answer.body).not.toMatch(/bug|no space left/);
    }
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 40, code: 'SQLITE_FULL', msg: expect.stringContaining('disk is full') });
    expect(JSON.stringify(logged)).not.toContain('stack');
  });

  it('answers an AppError with its own status, message, code and details', async () => {
    const answer = await app.inject({ method: 'GET', url: '/conflict' });
    expect(answer.statusCode).toBe(409);
    expect(answer.json()).toEqual({ success: false, error: 'Venue CORO already exists.', code: 'CONFLICT', details: { code: 'CORO' } });
  });

  it('rejects unknown fields and wrong types in bodies instead of dropping or converting them, but coerces query strings', async () => {
    expect((await app.inject({ method: 'POST', url: '/strict', payload: { n: 1, extra: 2 } })).json().error).toBe('Unknown field "extra" in the body; remove it.');
    expect((await app.inject({ method: 'POST', url: '/strict', payload: { n: 1, nested: { a: 'x', b: 1 } } })).json().error).toBe('Unknown field "nested.b" in the body; remove it.');
    expect((await app.inject({ method: 'POST', url: '/strict', payload: { n: '1' } })).json().error).toBe('Field "n" must be a whole number.');
    expect((await app.inject({ method: 'POST', url: '/strict', payload: { n: 1 } })).json()).toEqual({ n: 1 });
    expect((await app.inject({ method: 'GET', url: '/query?n=7' })).json()).toEqual({ n: 7 });
    expect((await app.inject({ method: 'GET', url: '/query?n=seven' })).json().error).toBe('Field "n" must be a whole number.');
  });

  it('answers malformed JSON, a wrong content type and unknown routes with a 4xx a person can act on', async () => {
    const bad = await app.inject({ method: 'POST', url: '/strict', headers: { 'content-type': 'application/json' }, payload: '{"n":' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'VALIDATION', error: 'The request body is not valid JSON.' });
    const type = await app.inject({ method: 'POST', url: '/strict', headers: { 'content-type': 'text/csv' }, payload: 'n\n1' });
    expect(type.statusCode).toBe(415);
    expect(type.json().error).toMatch(/text\/csv is not accepted here; send application\/json/);
    const missing = await app.inject({ method: 'DELETE', url: '/nowhere?x=1' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ success: false, error: 'There is no DELETE /nowhere here.', code: 'NOT_FOUND' });
  });
});
