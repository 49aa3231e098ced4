import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { PRODUCT_TYPES } from '../../contracts/domain.js';
import { formatBytes } from '../../contracts/format.js';
import { withCore } from '../core-session.js';
import { printTable, say } from '../output.js';
import { oneOf, parseId } from '../parsers.js';

export function registerImageCommands(program: Command): void {
  const image = program.command('image').description('master images: add, list, activate, delete');

  image
    .command('add <file>')
    .description('register a local image file: copied into the image store and hashed (SHA-256) in one pass')
    .requiredOption('--product <type>', PRODUCT_TYPES.join('|'), oneOf(PRODUCT_TYPES, 'product'))
    .requiredOption('--version <version>', 'e.g. 2.1.0')
    .option('--description <text>')
    .option('--activate', 'make it the active image of its product')
    .action((file: string, options: { product: 'KXP2' | 'RXP2'; version: string; description?: string; activate?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const size = statSync(file, { throwIfNoEntry: false })?.size ?? 0;
        const bar = new SingleBar(
          { format: 'Hashing {bar} {percentage}% | {done} of {size} | {speed}', hideCursor: true, noTTYOutput: false, stopOnComplete: true },
          Presets.shades_classic,
        );
        const started = Date.now();
        const payload = (done: number) => ({ done: formatBytes(done), size: formatBytes(size), speed: `${formatBytes(done / Math.max(0.001, (Date.now() - started) / 1000))}/s` });
        if (process.stderr.isTTY) bar.start(Math.max(size, 1), 0, payload(0));
        let lastDraw = 0;
        try {
          const registered = await core.images.registerFile({ product_type: options.product, version: options.version, description: options.description }, file, {
            onProgress: (done) => {
              if (!process.stderr.isTTY || Date.now() - lastDraw < 100) return;
              lastDraw = Date.now();
              bar.update(done, payload(done));
            },
          });
          if (process.stderr.isTTY) bar.update(size, payload(size));
          bar.stop();
          say(`Registered ${registered.product_type} ${registered.version} as image ${registered.id}: ${registered.filename}, ${formatBytes(registered.size_bytes)}, sha256 ${registered.sha256}`);
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
          core.images.list().map((img) => ({ ...img, size: formatBytes(img.size_bytes), active: img.active ? 'yes' : '' })),
          ['id', 'product_type', 'version', 'active', 'size', 'sha256', 'filename', 'uploaded_at'],
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
