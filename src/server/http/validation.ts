// Request validation. Bodies are checked strictly: unknown fields and wrong types are refused, never silently
// dropped or converted. Query strings and path parameters arrive as text, so only they are coerced to numbers.
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';

// ajv-formats is CommonJS with a default export; under NodeNext it arrives as the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

function createAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({
    removeAdditional: false,
    useDefaults: true,
    coerceTypes: coerce ? 'array' : false,
    allErrors: false,
    strict: false,
  });
  addFormats(ajv);
  return ajv;
}

const strictAjv = createAjv(false);
const coercingAjv = createAjv(true);

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? strictAjv : coercingAjv).compile(schema as object) as ReturnType<FastifySchemaCompiler<unknown>>;

const PART_NAMES: Record<string, string> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

/** One sentence a person can act on, naming the field: `Field "total_count" must be an integer.` */
export function describeValidationError(errors: ReadonlyArray<FastifySchemaValidationError | ErrorObject>, context: string): string {
  // In `anyOf` (a value or null) the most useful error is the first branch's; ajv's own "must match a schema in anyOf" says less.
  const error = errors.find((e) => e.keyword !== 'anyOf') ?? errors[0];
  const part = PART_NAMES[context] ?? context;
  if (!error) return `The request ${part} is not valid.`;
  const path = (error as ErrorObject).instancePath ?? (error as FastifySchemaValidationError).instancePath ?? '';
  const field = path.replace(/^\//, '').replaceAll('/', '.');
  const params = error.params as Record<string, unknown>;
  const named = (name: string) => (name ? `Field "${name}"` : `The ${part}`);
  switch (error.keyword) {
    case 'additionalProperties':
      return `Unknown field "${[field, params.additionalProperty].filter(Boolean).join('.')}" in the ${part}; remove it.`;
    case 'required':
      return `Field "${[field, params.missingProperty].filter(Boolean).join('.')}" is required in the ${part}.`;
    case 'type':
      return `${named(field)} must be ${article(String(params.type))}.`;
    case 'enum':
      return `${named(field)} must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}.`;
    case 'const':
      return `${named(field)} must be ${JSON.stringify(params.allowedValue)}.`;
    case 'pattern':
      return `${named(field)} has the wrong format.`;
    case 'format':
      return `${named(field)} must be a valid ${String(params.format)}${params.format === 'date' ? ' (YYYY-MM-DD)' : ''}.`;
    case 'minLength':
      return Number(params.limit) === 1 ? `${named(field)} must not be empty.` : `${named(field)} must be at least ${String(params.limit)} characters.`;
    case 'maxLength':
      return `${named(field)} must be at most ${String(params.limit)} characters.`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `${named(field)} must be ${String(params.comparison)} ${String(params.limit)}.`;
    case 'minItems':
      return `${named(field)} needs at least ${String(params.limit)} item(s).`;
    case 'maxItems':
      return `${named(field)} allows at most ${String(params.limit)} items.`;
    default:
      return `${named(field)} ${error.message ?? 'is not valid'}.`;
  }
}

function article(type: string): string {
  const words = type.split(',').map((t) => ({ integer: 'a whole number', number: 'a number', string: 'text', boolean: 'true or false', object: 'an object', array: 'a list', null: 'null' })[t] ?? t);
  return words.join(' or ');
}
