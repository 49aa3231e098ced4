// The kart-number pool of each venue: import, single-number actions, listing and manual assignment.
import type { PoolEntry, ProductType } from '../contracts/domain.js';
import type { HostnameAssignRequest, KartNumberImport, KartNumberImportResult, PagedResult, PoolQuery } from '../contracts/api.js';
import { AppError } from '../contracts/errors.js';
import { isoOf, type CoreContext, type Emit } from './context.js';
import { assignHostname, type Assignment } from './assignment.js';
import { normalizeIdentity } from './identity.js';
import { kartHostname, parseKartNumbers } from '../contracts/kart-numbers.js';
import { normalizeVenueCode } from './venue.service.js';

export function createPoolService(ctx: CoreContext) {
  const { repos } = ctx;

  const requireVenue = (code: string): string => {
    const normalized = normalizeVenueCode(code);
    if (!repos.venues.find(normalized)) throw new AppError('NOT_FOUND', `There is no venue ${normalized}.`);
    return normalized;
  };

  const requireEntry = (id: number): PoolEntry => {
    const entry = repos.hostnames.find(id);
    if (!entry) throw new AppError('NOT_FOUND', `There is no pool entry ${id}.`);
    return entry;
  };

  const announce = (emit: Emit, venue: string, product: ProductType, markStatsChanged: () => void) => {
    emit('pool_changed', { venue_code: venue, counts: repos.hostnames.counts(venue)[product] });
    markStatsChanged();
  };

  return {
    /** All or nothing: an invalid token anywhere imports nothing. Numbers already in the pool are skipped and counted. */
    importKartNumbers(input: KartNumberImport): KartNumberImportResult {
      const parsed = parseKartNumbers(input.numbers);
      return ctx.write((emit, markStatsChanged) => {
        const venue = requireVenue(input.venue_code);
        const existing = repos.hostnames.kartNumbers(venue);
        const created_at = isoOf(ctx.now());
        let added = 0;
        for (const kart_number of parsed.numbers) {
          if (existing.has(kart_number)) continue;
          repos.hostnames.insertKartNumber({ venue_code: venue, kart_number, hostname: kartHostname(venue, kart_number), created_at });
          added++;
        }
        const duplicates = parsed.repeated + (parsed.numbers.length - added);
        ctx.audit({ action: 'pool.import', target: venue, details: { numbers: input.numbers, added, duplicates } });
        if (added > 0) announce(emit, venue, 'KXP2', markStatsChanged);
        return { success: true as const, added, duplicates, message: `Added ${added} kart number${added === 1 ? '' : 's'} to ${venue}${duplicates ? `, skipped ${duplicates} duplicate${duplicates === 1 ? '' : 's'}` : ''}.` };
      });
    },

    list: (query: PoolQuery): PagedResult<PoolEntry> => repos.hostnames.list(query),
    get: requireEntry,

    /** Frees a hostname for another device. A released RXP2 name is removed: it only ever belonged to one serial. */
    release(id: number, action: 'pool.release' | 'hostname.release' = 'pool.release'): PoolEntry {
      return ctx.write((emit, markStatsChanged) => {
        const entry = requireEntry(id);
        if (entry.status !== 'assigned') throw new AppError('CONFLICT', `${entry.hostname} is ${entry.status}, not assigned; there is nothing to release.`);
        const released = entry.product_type === 'KXP2' ? repos.hostnames.setUnassigned(id, 'available') : (repos.hostnames.delete(id), { ...entry, status: 'available' as const });
        announce(emit, entry.venue_code, entry.product_type, markStatsChanged);
        ctx.audit({ action, target: entry.hostname });
        return released;
      });
    },

    releaseHostname(hostname: string): PoolEntry {
      const entry = repos.hostnames.findByHostname(hostname.trim().toUpperCase());
      if (!entry) throw new AppError('NOT_FOUND', `There is no hostname ${hostname}.`);
      return this.release(entry.id, 'hostname.release');
    },

    /** A retired number is never handed out again; a device holding it keeps running but loses the claim. */
    retire(id: number): PoolEntry {
      return ctx.write((emit, markStatsChanged) => {
        const entry = requireEntry(id);
        if (entry.status === 'retired') throw new AppError('CONFLICT', `${entry.hostname} is already retired.`);
        const retired = repos.hostnames.setUnassigned(id, 'retired');
        announce(emit, entry.venue_code, entry.product_type, markStatsChanged);
        ctx.audit({ action: 'pool.retire', target: entry.hostname });
        return retired;
      });
    },

    delete(id: number): void {
      ctx.write((emit, markStatsChanged) => {
        const entry = requireEntry(id);
        if (entry.status !== 'available') throw new AppError('CONFLICT', `${entry.hostname} is ${entry.status}; only available numbers can be deleted.`);
        const reserved = repos.batches.reservedCount(entry.venue_code, 'KXP2');
        if (repos.hostnames.availableKartCount(entry.venue_code) <= reserved) {
          throw new AppError('CONFLICT', `${entry.hostname} is needed by open batches at ${entry.venue_code} (${reserved} devices still to deploy).`);
        }
        repos.hostnames.delete(id);
        announce(emit, entry.venue_code, entry.product_type, markStatsChanged);
        ctx.audit({ action: 'pool.delete', target: entry.hostname });
      });
    },

    /** Manual assignment (the seed's /api/hostname/assign): same rules as a device asking, without a batch. */
    assign(input: HostnameAssignRequest): Assignment {
      const identity = normalizeIdentity(input);
      return ctx.write((emit, markStatsChanged) => {
        const venue = requireVenue(input.venue_code);
        const result = assignHostname(ctx, emit, { venue_code: venue, product_type: input.product_type, identity, batch: null });
        if (!result.reused) markStatsChanged();
        ctx.audit({ action: 'hostname.assign', target: result.entry.hostname, details: input });
        return result;
      });
    },
  };
}
export type PoolService = ReturnType<typeof createPoolService>;
