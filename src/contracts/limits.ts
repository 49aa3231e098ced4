// Field limits as the request schemas define them. Forms, services and messages read them from here, so each limit
// is written once, in its TypeBox schema, and a change there reaches every check and every "at most N" sentence.
import { BatchCreate, ImageUploadFields, Page, TokenCreate, UserCreate, VenueCreate } from './api.js';

interface Bounds { min?: number; max?: number }
type JsonSchema = { minLength?: number; maxLength?: number; minimum?: number; maximum?: number; anyOf?: JsonSchema[] };

/** The bounds a (possibly optional or nullable) field's schema states; a missing bound is a schema change to notice. */
function boundsOf(schema: JsonSchema, min: 'minLength' | 'minimum', max: 'maxLength' | 'maximum'): Required<Bounds> {
  const own = schema.anyOf ? schema.anyOf.find((member) => member[max] !== undefined) : schema;
  const upper = own?.[max];
  if (upper === undefined) throw new Error(`The schema states no ${max}`);
  return { min: own?.[min] ?? (min === 'minLength' ? 0 : Number.MIN_SAFE_INTEGER), max: upper };
}

/** Shortest and longest text a field's schema allows. */
export const textLimitsOf = (schema: object): Required<Bounds> => boundsOf(schema, 'minLength', 'maxLength');
/** Smallest and largest whole number a field's schema allows. */
export const integerLimitsOf = (schema: object): Required<Bounds> => boundsOf(schema, 'minimum', 'maximum');

export const FIELD_LIMITS = {
  venueName: textLimitsOf(VenueCreate.properties.name),
  venueLocation: textLimitsOf(VenueCreate.properties.location),
  venueContactEmail: textLimitsOf(VenueCreate.properties.contact_email),
  batchDevices: integerLimitsOf(BatchCreate.properties.total_count),
  batchPriority: integerLimitsOf(BatchCreate.properties.priority),
  batchName: textLimitsOf(BatchCreate.properties.name),
  batchNotes: textLimitsOf(BatchCreate.properties.notes),
  peerLingerSeconds: integerLimitsOf(BatchCreate.properties.peer_linger_s),
  imageVersion: textLimitsOf(ImageUploadFields.properties.version),
  imageDescription: textLimitsOf(ImageUploadFields.properties.description),
  password: textLimitsOf(UserCreate.properties.password),
  tokenName: textLimitsOf(TokenCreate.properties.name),
  listPage: integerLimitsOf(Page.properties.page),
  listPageSize: integerLimitsOf(Page.properties.limit),
} as const;
