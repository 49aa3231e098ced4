// Step 3: how the image travels: v2 (the mapped ranges as zstd chunks, from the server or other devices) when the
// server offers it, else the raw image; and the faults to inject, which may depend on that (tests, the simulator).
import type { ImageManifest } from '../../contracts/image-delivery.js';
import { formatBytes } from '../../contracts/format.js';
import { prepareChunked, type ChunkedDelivery } from '../chunked.delivery.js';
import { HOLD_BACK_BYTES } from '../disk.writer.js';
import type { FaultLayout, InstallerFaults, InstallerOptions } from '../installer.types.js';
import type { InstallRun } from './install-run.js';

export interface DeliveryChoice {
  /** Null: the raw image. */
  chunked: ChunkedDelivery | null;
  faults: InstallerFaults | undefined;
}

/** `stepOptions`: the run's options with the target resolved to the chosen disk. */
export async function chooseDelivery(run: InstallRun, stepOptions: InstallerOptions): Promise<DeliveryChoice> {
  const { options, result, reporter, emit, policy, config } = run;
  const size = config.image_size;
  const chunked = options.rawOnly ? null : await prepareChunked(config, stepOptions, emit, policy);
  result.delivery = chunked ? 'chunked' : 'raw';
  const swarm = chunked?.swarm ?? null;
  if (swarm) reporter.countSourcesWith(() => ({ bytes_from_peers: swarm.bytesFromPeers, bytes_from_server: swarm.bytesFromServer }));
  if (chunked) {
    result.decompressMethod = chunked.decompressor.method;
    const { manifest } = chunked;
    emit({
      type: 'delivery',
      delivery: 'chunked',
      detail: `image delivery v2: ${formatBytes(manifest.mapped_bytes)} mapped of ${formatBytes(size)}, ${formatBytes(manifest.compressed_bytes)} in ${manifest.chunks.length} zstd chunks (${chunked.decompressor.method})${swarm ? ', from other devices and the server' : ''}`,
    });
  } else {
    emit({ type: 'delivery', delivery: 'raw', detail: `raw image: ${formatBytes(size)}` });
  }
  const faults = typeof options.faults === 'function' ? options.faults(size, faultLayout(size, chunked?.manifest ?? null)) : options.faults;
  return { chunked, faults };
}

function faultLayout(size: number, manifest: ImageManifest | null): FaultLayout {
  if (!manifest) return { delivery: 'raw', wireBytes: size, writtenOffsetAt: (fraction) => Math.floor(size * fraction) };
  // Past the held-back first MiB, which reaches the disk only at the very end.
  const ranges = manifest.chunks
    .map((c) => ({ start: Math.max(c.offset, HOLD_BACK_BYTES), end: c.offset + c.raw_length }))
    .filter((r) => r.end > r.start);
  const total = ranges.reduce((sum, r) => sum + r.end - r.start, 0);
  return {
    delivery: 'chunked',
    wireBytes: manifest.compressed_bytes,
    writtenOffsetAt: (fraction) => {
      let left = Math.floor(total * fraction);
      for (const range of ranges) {
        if (left < range.end - range.start) return range.start + left;
        left -= range.end - range.start;
      }
      return Math.floor(size * fraction);
    },
  };
}
