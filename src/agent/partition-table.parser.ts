// Reads the partition table from the image's first MiB — the block the writer holds back — so customisation
// can find the boot and root partitions before the table itself is on the disk. The parsing itself is shared with
// the server's block map (src/disk-layout, Node built-ins only); here its errors become the installer's.
import { detectFilesystem, parsePartitionTable as parseLayout, PartitionTableError, type PartitionEntry, type PartitionTable } from '../disk-layout/partition-table.js';
import { InstallerError } from './installer.errors.js';

export { detectFilesystem, type PartitionEntry, type PartitionTable };

export function parsePartitionTable(head: Buffer): PartitionTable {
  try {
    const { scheme, diskId, partitions } = parseLayout(head);
    return { scheme, diskId, partitions };
  } catch (error) {
    if (error instanceof PartitionTableError) throw new InstallerError('CUSTOMIZE', error.message, { cause: error });
    throw error;
  }
}
