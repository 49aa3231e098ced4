import { describe, expect, it } from 'vitest';
import { Type } from 'typebox';
import { FIELD_LIMITS, integerLimitsOf, textLimitsOf } from './limits.js';
import { BatchCreate, VenueCreate } from './api.js';

describe('field limits', () => {
  it('come from the request schemas, optional and nullable fields included', () => {
    expect(FIELD_LIMITS.venueName).toEqual({ min: 1, max: (VenueCreate.properties.name as { maxLength?: number }).maxLength });
    expect(FIELD_LIMITS.venueLocation.max).toBe(200);
    expect(FIELD_LIMITS.batchDevices).toEqual({ min: 1, max: (BatchCreate.properties.total_count as { maximum?: number }).maximum });
    expect(FIELD_LIMITS.batchPriority).toEqual({ min: -1_000_000, max: 1_000_000 });
    expect(FIELD_LIMITS.password).toEqual({ min: 8, max: 1024 });
    expect(FIELD_LIMITS.listPage.min).toBe(1);
  });

  it('follow a schema when it changes', () => {
    expect(textLimitsOf(Type.Optional(Type.Union([Type.String({ minLength: 2, maxLength: 9 }), Type.Null()])))).toEqual({ min: 2, max: 9 });
    expect(integerLimitsOf(Type.Integer({ minimum: 3, maximum: 7 }))).toEqual({ min: 3, max: 7 });
  });

  it('refuse a schema without the bound, rather than guess one', () => {
    expect(() => textLimitsOf(Type.String())).toThrow(/maxLength/);
    expect(() => integerLimitsOf(Type.Integer({ minimum: 0 }))).toThrow(/maximum/);
  });
});
