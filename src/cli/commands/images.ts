import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { PRODUCT_TYPES, type MasterImage } from '../../contracts/domain.js';
import { formatBytes } from '../../contracts/format.js';
import { detectImageFormat, MAGIC_BYTES, SOURCE_SUFFIX } from '../../core/image-decompressor.js';
import { withCore } from '../core-session.js';
import { printTable, say } from '../output.js';
import { oneOf, parseId } from '../parsers.js';

export function registerImageCommands(program: Command): void {
  const image = program.command('image').description('master images: add, list, activate, delete');

  image
    .command('add <file>')
    .description('register a local image file (.img, or .img.xz, .img.gz, .img.zst decompressed on the way): copied into the image store and hashed (SHA-256) in one pass')
    .requiredOption('--product <type>', PRODUCT_TYPES.join('|'), oneOf(PRODUCT_TYPES, 'product'))
    .requiredOption('--version <version>', 'e.g. 2.1.0')
    .option('--description <text>')
    .option('--activate', 'make it the active image of its product')
    .action((file: string, options: { product: 'KXP2' | 'RXP2'; version: string; description?: string; activate?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const size = statSync(file, { throwIfNoEntry: false })?.size ?? 0;
        // The bar follows the file as read; a compressed one becomes a larger raw disk, counted beside it.
        const compressed = formatOf(file) !== 'raw';
        const bar = new SingleBar(
          { format: `${compressed ? 'Decompressing and hashing' : 'Hashing'} {bar} {percentage}% | {done} of {size} | {speed}${compressed ? ' | {raw} raw' : ''}`, hideCursor: true, noTTYOutput: false, stopOnComplete: true },
          Presets.shades_classic,
        );
        const started = Date.now();
        const payload = (done: number, raw = done) => ({ done: formatBytes(done), size: formatBytes(size), raw: formatBytes(raw), speed: `${formatBytes(done / Math.max(0.001, (Date.now() - started) / 1000))}/s` });
        if (process.stderr.isTTY) bar.start(Math.max(size, 1), 0, payload(0));
        let lastDraw = 0;
        try {
          const registered = await core.images.registerFile({ product_type: options.product, version: options.version, description: options.description }, file, {
            onProgress: (raw, done) => {
              if (!process.stderr.isTTY || Date.now() - lastDraw < 100) return;
              lastDraw = Date.now();
              bar.update(done, payload(done, raw));
            },
          });
          if (process.stderr.isTTY) bar.update(size, payload(size, registered.size_bytes));
          bar.stop();
          const from = registered.source_format === 'raw' ? '' : ` (from a ${formatBytes(size)} ${SOURCE_SUFFIX[registered.source_format]})`;
          say(`Registered ${registered.product_type} ${registered.version} as image ${registered.id}: ${registered.filename}, ${formatBytes(registered.size_bytes)}${from}, sha256 ${registered.sha256}`);
          if (registered.delivery) say(describeDelivery(registered.delivery));
          if (registered.same_content_as.length > 0) {
            say(`Warning: the same content (same SHA-256) is already registered as ${registered.same_content_as.map((o) => `${o.product_type} ${o.version} (image ${o.id})`).join(', ')}.`);
          }
          if (options.activate) say(`Image ${core.images.activate(registered.id).id} is now the active ${registered.product_type} image.`);
        } finally {
          bar.stop();
        }
      }),
    );

  image
    .command('list')
    .description('registered images')
    .action((_options, command: Command) =>
      withCore(command, (core) =>
        printTable(
          core.images.list().map((img) => ({
            ...img,
            size: formatBytes(img.size_bytes),
            active: img.active ? 'yes' : '',
            sent: img.delivery ? `${formatBytes(img.delivery.compressed_bytes)} (${img.delivery.wire_ratio.toFixed(1)}x less)` : 'raw only',
          })),
          ['id', 'product_type', 'version', 'active', 'size', 'sent', 'sha256', 'filename', 'uploaded_at'],
          'No images yet: add one with `pitcrew image add FILE --product KXP2 --version 1.0.0`.',
        ),
      ),
    );

  image
    .command('activate <id>')
    .description('make an image the one its product deploys')
    .action((id: string, _options, command: Command) =>
      withCore(command, (core) => {
        const activated = core.images.activate(parseId(id, 'image id'));
        say(`${activated.product_type} ${activated.version} (image ${activated.id}) is now active.`);
      }),
    );

  image
    .command('delete <id>')
    .description('delete an image that is not active, with its file')
    .action((id: string, _options, command: Command) =>
      withCore(command, async (core) => {
        await core.images.delete(parseId(id, 'image id'));
        say(`Deleted image ${id}.`);
      }),
    );
}

/** What the file's first bytes say it is (raw when it cannot be read: registration then reports why). */
function formatOf(file: string) {
  try {
    const fd = openSync(file, 'r');
    try {
      const head = Buffer.alloc(MAGIC_BYTES);
      return detectImageFormat(head.subarray(0, readSync(fd, head, 0, MAGIC_BYTES, 0)));
    } finally {
      closeSync(fd);
    }
  } catch {
    return 'raw';
  }
}

/** What each device costs the link for this image, and what the block map found. */
function describeDelivery(delivery: NonNullable<MasterImage['delivery']>): string {
  const map = delivery.block_map === 'filesystems' ? 'block map from the filesystems' : 'no block map: sent whole';
  return [
    `Each device is sent ${formatBytes(delivery.compressed_bytes)} (${delivery.wire_ratio.toFixed(1)}x less than the raw image) in ${delivery.chunk_count} chunk${delivery.chunk_count === 1 ? '' : 's'}`
      + ` and writes ${formatBytes(delivery.mapped_bytes)} (${Math.round(delivery.mapped_ratio * 100)} % of the disk); ${map}:`,
    ...delivery.block_map_notes.map((note) => `  ${note}`),
  ].join('\n');
}
