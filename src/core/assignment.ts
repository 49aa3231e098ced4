// Hostname assignment: atomic (inside the caller's write transaction) and idempotent per device.
import type { Batch, PoolEntry, ProductType } from '../contracts/domain.js';
import { AppError } from '../contracts/errors.js';
import { isoOf, type CoreContext, type Emit } from './context.js';
import type { Identity } from './identity.js';
import { serialHostname } from '../contracts/kart-numbers.js';

export interface AssignRequest {
  venue_code: string;
  product_type: ProductType;
  identity: Identity;
  /** The batch serving this device, decremented when a new hostname is handed out. */
  batch: Pick<Batch, 'id'> | null;
}

export interface Assignment {
  entry: PoolEntry;
  /** True when the device already held this hostname and nothing new was consumed. */
  reused: boolean;
  batch: Batch | null;
}

/**
 * The hostname a device already holds, whichever of its identifiers it sends: a device is one device whether it
 * asks with its serial, its MAC or both. Must run inside the caller's write transaction. How an identity is resolved:
 * - The serial decides when a holder has it: it is the board's own (a MAC can move with a USB network adapter).
 *   That holder wins even when another entry holds the MAC (two holders: the serial's wins, the other is left as it
 *   is for an operator to release; nothing is taken away silently).
 * - Otherwise the MAC: among the entries holding it, those recorded without a serial first, then the oldest; an entry
 *   recorded with a *different* serial is another board and never matches.
 * - The identifiers the matched entry was missing are recorded on it (a MAC only where no other entry holds it), so
 *   the next request, with either identifier, finds it directly.
 */
export function findHeldHostname(ctx: CoreContext, identity: Identity): PoolEntry | undefined {
  const { hostnames } = ctx.repos;
  const { serial_number, mac_address } = identity;
  const macHolders = mac_address ? hostnames.findHeldByMac(mac_address) : [];
  const bySerial = serial_number ? hostnames.findHeldBySerial(serial_number) : undefined;
  const held = bySerial ?? macHolders.find((entry) => !serial_number || entry.serial_number === null || entry.serial_number === serial_number);
  if (!held) return undefined;
  const fillSerial = serial_number && held.serial_number === null;
  const fillMac = mac_address && held.mac_address === null && macHolders.every((entry) => entry.id === held.id);
  if (!fillSerial && !fillMac) return held;
  return hostnames.fillIdentity(held.id, { serial_number: fillSerial ? serial_number : null, mac_address: fillMac ? mac_address : null }) ?? held;
}

/** Must run inside `ctx.write`: the lookup, the claim and the batch decrement commit together or not at all. */
export function assignHostname(ctx: CoreContext, emit: Emit, request: AssignRequest): Assignment {
  const { repos } = ctx;
  const { identity, venue_code, product_type } = request;
  if (!identity.serial_number && !identity.mac_address) {
    throw new AppError('VALIDATION', 'A device must identify itself with a serial number or a MAC address.');
  }
  const held = findHeldHostname(ctx, identity);
  if (held) return { entry: held, reused: true, batch: request.batch ? (repos.batches.find(request.batch.id) ?? null) : null };

  const now = isoOf(ctx.now());
  const claim = { ...identity, assigned_at: now, batch_id: request.batch?.id ?? null };
  let entry: PoolEntry;
  if (product_type === 'KXP2') {
    // Without a batch, numbers promised to open batches stay theirs.
    if (!request.batch) {
      const available = repos.hostnames.availableKartCount(venue_code);
      const reserved = repos.batches.reservedCount(venue_code, 'KXP2');
      if (available > 0 && available <= reserved) {
        throw new AppError('POOL_EXHAUSTED', `All ${available} available kart numbers at ${venue_code} are reserved by open batches.`);
      }
    }
    const claimed = repos.hostnames.claimLowestKartNumber(venue_code, claim);
    if (!claimed) throw new AppError('POOL_EXHAUSTED', `No kart numbers are available at ${venue_code}: import more or release some.`);
    entry = claimed;
  } else {
    if (!identity.serial_number) throw new AppError('VALIDATION', 'An RXP2 hostname is made from the serial number, and none was given.');
    const hostname = serialHostname(venue_code, identity.serial_number);
    const existing = repos.hostnames.findByHostname(hostname);
    if (existing?.status === 'retired') throw new AppError('CONFLICT', `Hostname ${hostname} is retired and is never handed out again.`);
    if (existing) {
      throw new AppError('CONFLICT', `Hostname ${hostname} is already held by another device (serial ${existing.serial_number}); serials sharing their last 8 characters collide.`);
    }
    entry = repos.hostnames.insertAssigned({ ...claim, venue_code, product_type, hostname });
  }

  let batch: Batch | null = null;
  if (request.batch) {
    batch = repos.batches.decrement(request.batch.id) ?? null;
    // The batch was read in this same transaction as active with devices remaining, so this cannot miss.
    if (!batch) throw new Error(`Batch ${request.batch.id} could not be decremented`);
    // Its batch_progress goes out once the device's deployment exists (deployment.service.ts), so the counts include it.
  }
  emit('hostname_assigned', {
    hostname: entry.hostname,
    venue_code,
    product_type,
    mac_address: entry.mac_address,
    serial_number: entry.serial_number,
    batch_id: entry.batch_id,
    timestamp: now,
  });
  emit('pool_changed', { venue_code, counts: repos.hostnames.counts(venue_code)[product_type] });
  return { entry, reused: false, batch };
}
