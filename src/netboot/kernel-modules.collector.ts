// Picks kernel modules (with everything they depend on) out of a kernel's /lib/modules/<version> tree, for an
// initramfs overlay that /init loads in order. Raspberry Pi kernels have their Ethernet, SD and NVMe drivers
// built in and need none; a generic kernel (Debian's arm64 kernel under QEMU) needs its virtio drivers.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { createCpioArchive, type CpioEntry } from './cpio.writer.js';
import { readModinfo } from './elf.reader.js';

export const MODULE_LOAD_ORDER = 'usr/lib/modules/pitcrew/load.order';

/** Module names are compared as the kernel does: "-" and "_" are the same. */
function canonical(name: string): string {
  return name.replace(/-/g, '_');
}

async function indexModules(root: string): Promise<Map<string, string>> {
  const index = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.name.endsWith('.ko')) index.set(canonical(entry.name.slice(0, -3)), path);
    }
  };
  await walk(root);
  return index;
}

export interface CollectedModule { name: string; file: string; data: Buffer }

/** Returns `wanted` and their dependencies, dependencies first. Unknown names are an error. */
export async function collectKernelModules(modulesRoot: string, wanted: readonly string[]): Promise<CollectedModule[]> {
  const index = await indexModules(modulesRoot);
  if (index.size === 0) throw new Error(`no kernel modules (*.ko) under ${modulesRoot} (compressed modules are not supported)`);
  const ordered: CollectedModule[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = async (raw: string, chain: string[]): Promise<void> => {
    const name = canonical(raw);
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new Error(`kernel modules depend on each other in a loop: ${[...chain, name].join(' → ')}`);
    const file = index.get(name);
    if (!file) throw new Error(`kernel module "${raw}" is not in ${modulesRoot}${chain.length ? ` (needed by ${chain.at(-1)})` : ''}`);
    state.set(name, 'visiting');
    const data = await readFile(file);
    const depends = (readModinfo(data).get('depends')?.[0] ?? '').split(',').filter(Boolean);
    for (const dep of depends) await visit(dep, [...chain, name]);
    state.set(name, 'done');
    ordered.push({ name, file: relative(modulesRoot, file), data });
  };
  for (const name of wanted) await visit(name, []);
  return ordered;
}

/** An initramfs overlay (uncompressed cpio, to append after the base image) holding the modules and their order. */
export function createModulesOverlay(modules: readonly CollectedModule[], mtime: number): Buffer {
  const entries: CpioEntry[] = modules.map((m) => ({ kind: 'file', path: `usr/lib/modules/pitcrew/${m.name}.ko`, data: m.data }));
  entries.push({ kind: 'file', path: MODULE_LOAD_ORDER, data: Buffer.from(modules.map((m) => `${m.name}.ko\n`).join('')) });
  return createCpioArchive(entries, { mtime });
}
