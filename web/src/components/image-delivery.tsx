// What a device costs the link for one image: the disk's mapped share and the compressed chunks on the wire, with
// the block map's findings behind a toggle. Images from before chunked delivery say they are still being prepared.
import type { MasterImage } from '../../../src/contracts/domain.js';
import { formatBytes } from '../../../src/contracts/format.js';

export function ImageDeliverySummary({ image }: { image: MasterImage }) {
  const { delivery } = image;
  if (!delivery) {
    return <div className="small text-body-secondary" data-testid={`image-delivery-${image.id}`}>Preparing chunks; devices get the raw image meanwhile.</div>;
  }
  return (
    <div className="small text-body-secondary" data-testid={`image-delivery-${image.id}`}>
      <div>
        <span title="Bytes written to each card: what the filesystems use, plus the partition table">
          written {formatBytes(delivery.mapped_bytes)} ({Math.round(delivery.mapped_ratio * 100)} %)
        </span>
        {' · '}
        <span title="Bytes each device downloads: the written bytes, zstd-compressed">
          sent {formatBytes(delivery.compressed_bytes)} ({delivery.wire_ratio.toFixed(1)}× less)
        </span>
      </div>
      <details>
        <summary>{delivery.block_map === 'filesystems' ? 'Block map from the filesystems' : <span className="text-warning-emphasis">Sent whole: no block map</span>}</summary>
        <ul className="mb-0 ps-3">
          {delivery.block_map_notes.map((note) => <li key={note}>{note}</li>)}
        </ul>
      </details>
    </div>
  );
}
