// The content of a label sheet: the units of a batch or a venue that hold a hostname. Rendering (QR code, sheet
// layout) is the print page's.
import { AppError } from '../contracts/errors.js';
import type { LabelQuery, LabelSheet } from '../contracts/labels.js';
import type { PoolEntry } from '../contracts/domain.js';
import type { CoreContext } from './context.js';

const unitOf = (entry: PoolEntry) => ({
  hostname: entry.hostname,
  product_type: entry.product_type,
  venue_code: entry.venue_code,
  kart_number: entry.kart_number,
  serial_number: entry.serial_number,
  mac_address: entry.mac_address,
  batch_id: entry.batch_id,
});

export function createLabelService({ repos }: CoreContext) {
  return {
    sheet(query: LabelQuery): LabelSheet {
      if ((query.batch === undefined) === (query.venue === undefined)) throw new AppError('VALIDATION', 'Ask for the labels of one batch (batch=ID) or of one venue (venue=CODE).');
      if (query.batch !== undefined) {
        const batch = repos.batches.find(query.batch);
        if (!batch) throw new AppError('NOT_FOUND', `There is no batch ${query.batch}.`);
        const venue = repos.venues.find(batch.venue_code);
        const title = `Batch ${batch.id}${batch.name ? ` "${batch.name}"` : ''} — ${batch.product_type} at ${venue?.name ?? batch.venue_code} (${batch.venue_code})`;
        return { title, units: repos.hostnames.listHeld({ batchId: batch.id }).map(unitOf) };
      }
      const code = query.venue!.toUpperCase();
      const venue = repos.venues.find(code);
      if (!venue) throw new AppError('NOT_FOUND', `There is no venue ${code}.`);
      return { title: `${venue.name} (${venue.code})`, units: repos.hostnames.listHeld({ venueCode: venue.code }).map(unitOf) };
    },
  };
}
