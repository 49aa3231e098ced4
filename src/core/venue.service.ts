import type { Venue, VenueStats } from '../contracts/domain.js';
import type { VenueCreate, VenueUpdate } from '../contracts/api.js';
import { AppError } from '../contracts/errors.js';
import { FIELD_LIMITS } from '../contracts/limits.js';
import { isoOf, type CoreContext } from './context.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function normalizeVenueCode(code: string): string {
  const upper = code.trim().toUpperCase();
  if (!/^[A-Z0-9]{4}$/.test(upper)) throw new AppError('VALIDATION', `Venue code "${code.slice(0, 20)}" must be exactly 4 letters or digits (e.g. CORO).`);
  return upper;
}

function cleanName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length < 1 || trimmed.length > FIELD_LIMITS.venueName.max) throw new AppError('VALIDATION', `Venue name is required and at most ${FIELD_LIMITS.venueName.max} characters.`);
  return trimmed;
}

function cleanOptional(value: string | null | undefined, max: number, label: string): string | null {
  const trimmed = value?.trim();
  if (!trimmed) return null;
  if (trimmed.length > max) throw new AppError('VALIDATION', `${label} is at most ${max} characters.`);
  return trimmed;
}

function cleanEmail(value: string | null | undefined): string | null {
  const email = cleanOptional(value, FIELD_LIMITS.venueContactEmail.max, 'Contact email');
  if (email && !EMAIL.test(email)) throw new AppError('VALIDATION', `Contact email "${email}" is not a valid address.`);
  return email;
}

export function createVenueService(ctx: CoreContext) {
  const { repos } = ctx;

  function get(code: string): Venue {
    const normalized = normalizeVenueCode(code);
    const venue = repos.venues.find(normalized);
    if (!venue) throw new AppError('NOT_FOUND', `There is no venue ${normalized}.`);
    return venue;
  }

  return {
    get,
    list: (): Venue[] => repos.venues.list(),

    create(input: VenueCreate): Venue {
      const venue: Venue = {
        code: normalizeVenueCode(input.code),
        name: cleanName(input.name),
        location: cleanOptional(input.location, FIELD_LIMITS.venueLocation.max, 'Location'),
        contact_email: cleanEmail(input.contact_email),
        created_at: isoOf(ctx.now()),
      };
      return ctx.write((emit) => {
        if (repos.venues.find(venue.code)) throw new AppError('CONFLICT', `Venue ${venue.code} already exists.`);
        repos.venues.insert(venue);
        ctx.audit({ action: 'venue.create', target: venue.code, details: input });
        emit('venue_changed', { venue_code: venue.code, deleted: false });
        return venue;
      });
    },

    /** The code never changes; name, location and email can. */
    update(code: string, input: VenueUpdate): Venue {
      return ctx.write((emit) => {
        const current = get(code);
        const next: Venue = {
          ...current,
          name: input.name === undefined ? current.name : cleanName(input.name),
          location: input.location === undefined ? current.location : cleanOptional(input.location, FIELD_LIMITS.venueLocation.max, 'Location'),
          contact_email: input.contact_email === undefined ? current.contact_email : cleanEmail(input.contact_email),
        };
        repos.venues.update(next);
        ctx.audit({ action: 'venue.update', target: next.code, details: input });
        emit('venue_changed', { venue_code: next.code, deleted: false });
        return next;
      });
    },

    delete(code: string): void {
      ctx.write((emit) => {
        const venue = get(code);
        const usage = repos.venues.usage(venue.code);
        const reasons = [
          usage.assigned > 0 && `${usage.assigned} assigned hostname${usage.assigned === 1 ? '' : 's'}`,
          usage.open_batches > 0 && `${usage.open_batches} open batch${usage.open_batches === 1 ? '' : 'es'}`,
          usage.deployments > 0 && `deployment history (${usage.deployments})`,
        ].filter(Boolean);
        if (reasons.length > 0) throw new AppError('CONFLICT', `Venue ${venue.code} cannot be deleted: it has ${reasons.join(', ')}.`);
        repos.venues.delete(venue.code);
        ctx.audit({ action: 'venue.delete', target: venue.code });
        emit('venue_changed', { venue_code: venue.code, deleted: true });
      });
    },

    stats(code: string): VenueStats {
      const venue = get(code);
      const byProduct = repos.hostnames.counts(venue.code);
      const sum = (key: 'available' | 'assigned' | 'retired' | 'total') => byProduct.KXP2[key] + byProduct.RXP2[key];
      const reserved = repos.batches.reservedCount(venue.code, 'KXP2');
      return {
        available: sum('available'),
        assigned: sum('assigned'),
        retired: sum('retired'),
        total: sum('total'),
        unreserved: Math.max(0, byProduct.KXP2.available - reserved),
        by_product: byProduct,
      };
    },
  };
}
export type VenueService = ReturnType<typeof createVenueService>;
