// `pitcrew netboot config|prepare|build`: everything a technician runs to let blank Raspberry Pi 4/5 boards
// network-boot into the Pitcrew installer.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { AppError } from '../../contracts/errors.js';
import { parseWholeNumber } from '../../contracts/numbers.js';
import { readSetting } from '../../server/config.js';
import { NETBOOT_LAYOUTS, NetbootConfigError, serverUrlFor, type NetbootLayout } from '../../netboot/dnsmasq.config.js';
import { resolveInstallerFiles } from '../../netboot/installer-files.js';
import {
  buildInstaller, buildUsbStick, netbootPaths, readSavedNetwork, resolveNetworkSettings, writeNetbootConfig,
} from '../../netboot/netboot.service.js';
import { prepareTftpTree, TftpPrepareError } from '../../netboot/tftp-tree.preparer.js';
import { INSTALLER_NODE_VERSION } from '../../netboot/node-runtime.fetcher.js';
import { dataDirOf } from '../core-session.js';
import { dataPaths } from '../../db/data-dir.js';
import { say } from '../output.js';

/** Domain errors of network boot are a person's mistake: one clear line, exit code 1. */
function asAppError(error: unknown): unknown {
  if (error instanceof NetbootConfigError || error instanceof TftpPrepareError) return new AppError('VALIDATION', error.message);
  return error;
}

async function guarded(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    throw asAppError(error);
  }
}

const integer = (name: string) => (value: string) => {
  const n = parseWholeNumber(value, { min: 0 });
  if (n === null) throw new AppError('VALIDATION', `${name} must be a whole number, not "${value}"`);
  return n;
};

/** The port installers reach the server on: the server's own setting, so network boot points where it listens. */
const devicePort = () => readSetting('devicePort');

export function registerNetbootCommand(program: Command): void {
  const netboot = program
    .command('netboot')
    .description('network boot for blank Raspberry Pi 4/5 boards: dnsmasq settings, TFTP folder, installer, USB stick');

  netboot
    .command('config')
    .description('write the dnsmasq configuration `pitcrew serve --netboot` runs')
    .requiredOption('--interface <name>', 'network interface facing the Pis, e.g. eth1')
    .option('--layout <layout>', 'dedicated: Pitcrew hands out addresses; proxy: the venue DHCP server does', 'dedicated')
    .option('--server-address <ip>', "this server's IPv4 address on that interface (default: the interface's own)")
    .option('--prefix <bits>', 'subnet prefix length, e.g. 24 (default: the interface\'s own)', integer('--prefix'))
    .option('--range-start <ip>', 'dedicated layout: first address handed out')
    .option('--range-end <ip>', 'dedicated layout: last address handed out')
    .option('--lease-time <time>', 'dedicated layout: lease time such as 1h or 30m', '1h')
    .option('--tftp-root <dir>', 'folder served over TFTP (default: <data>/netboot/tftp)')
    .option('--output <file>', 'write the configuration here instead of <data>/netboot/dnsmasq.conf')
    .option('--print', 'also print the configuration')
    .option('--allow-missing-interface', 'the interface is not on this machine yet (needs --server-address)')
    .action(async (options: {
      interface: string; layout: string; serverAddress?: string; prefix?: number; rangeStart?: string; rangeEnd?: string;
      leaseTime: string; tftpRoot?: string; output?: string; print?: boolean; allowMissingInterface?: boolean;
    }, command: Command) => guarded(async () => {
      if (!(NETBOOT_LAYOUTS as readonly string[]).includes(options.layout)) {
        throw new AppError('VALIDATION', `--layout must be ${NETBOOT_LAYOUTS.join(' or ')}, not "${options.layout}"`);
      }
      const dataDir = dataPaths(dataDirOf(command)).root;
      const network = resolveNetworkSettings(dataDir, {
        layout: options.layout as NetbootLayout,
        interface: options.interface,
        serverAddress: options.serverAddress,
        prefixLength: options.prefix,
        rangeStart: options.rangeStart,
        rangeEnd: options.rangeEnd,
        leaseTime: options.layout === 'dedicated' ? options.leaseTime : undefined,
        tftpRoot: options.tftpRoot,
        allowMissingInterface: options.allowMissingInterface,
      });
      const written = await writeNetbootConfig(dataDir, network, options.output);
      if (options.print) process.stdout.write(written.text);
      say(`Wrote ${written.configFile}`);
      say(`  ${network.layout === 'dedicated'
        ? `dedicated network on ${network.interface}: addresses ${network.range!.start}–${network.range!.end}, no gateway, no DNS`
        : `proxy DHCP on ${network.interface} (${network.network}/${network.prefixLength}): the venue DHCP server hands out addresses`}`);
      say(`  TFTP folder ${network.tftpRoot}; installers will reach Pitcrew at ${serverUrlFor(network.serverAddress, devicePort())}`);
      for (const warning of written.warnings) say(`  warning: ${warning}`);
      say('Next: `pitcrew netboot build`, `pitcrew netboot prepare --image <raspios.img>`, then `pitcrew serve --netboot`.');
    }));

  netboot
    .command('build')
    .description('build the installer (arm64 initramfs from Debian packages, and Node for arm64) reproducibly')
    .option('--node-version <version>', `Node.js version the installer runs (default: ${INSTALLER_NODE_VERSION}, whose zlib has zstd)`)
    .option('--cache-dir <dir>', 'where downloaded packages are kept between builds (default: <data>/netboot/cache)')
    .option('--apt-sources <file>', 'apt sources file to fetch arm64 packages from (default: this machine\'s)')
    .action(async (options: { nodeVersion?: string; cacheDir?: string; aptSources?: string }, command: Command) => guarded(async () => {
      const dataDir = dataPaths(dataDirOf(command)).root;
      const summary = await buildInstaller({
        dataDir,
        nodeVersion: options.nodeVersion,
        cacheDir: options.cacheDir,
        sourcesFile: options.aptSources ? resolve(options.aptSources) : undefined,
        log: (line) => say(line),
      });
      say(`Node ${summary.node.version} for arm64: ${summary.node.file} (${(summary.node.size / 1048576).toFixed(1)} MiB)`);
      say(`Build manifest (package versions and checksums): ${summary.manifestFile}`);
      if (!summary.agentBundle) say('warning: the agent bundle is not built yet (npm run build): installers will find nothing to run');
      say('Next: `pitcrew netboot prepare --image <raspios.img>` copies the initramfs into the TFTP folder.');
    }));

  netboot
    .command('prepare')
    .description('fill the TFTP folder from a Raspberry Pi OS image\'s boot partition (read in place, not mounted)')
    .requiredOption('--image <file>', 'a 64-bit Raspberry Pi OS .img (decompressed)')
    .option('--server-url <url>', 'device listener the installers use (default: from `netboot config`, port $PITCREW_DEVICE_PORT or 5001)')
    .option('--tftp-root <dir>', 'TFTP folder (default: the one in the saved configuration)')
    .option('--cmdline <word...>', 'extra kernel command line words, e.g. pitcrew.venue=CORO pitcrew.shell')
    .option('--kernel-modules <name...>', 'kernel modules for the installer from the image, e.g. r8152 ax88179_178a for USB Ethernet adapters')
    .action(async (options: { image: string; serverUrl?: string; tftpRoot?: string; cmdline?: string[]; kernelModules?: string[] }, command: Command) => guarded(async () => {
      const dataDir = dataPaths(dataDirOf(command)).root;
      const paths = netbootPaths(dataDir);
      const saved = await readSavedNetwork(dataDir);
      const serverUrl = options.serverUrl ?? (saved ? serverUrlFor(saved.serverAddress, devicePort()) : null);
      if (!serverUrl) throw new AppError('VALIDATION', 'no server URL: run `pitcrew netboot config` first or pass --server-url http://<address>:5001');
      const result = await prepareTftpTree({
        image: resolve(options.image),
        outDir: resolve(options.tftpRoot ?? saved?.tftpRoot ?? paths.tftpRoot),
        serverUrl,
        initramfs: paths.initramfs,
        extraCmdline: options.cmdline,
        kernelModules: options.kernelModules?.flatMap((names) => names.split(',')).filter(Boolean),
      });
      say(`Prepared ${result.outDir}: ${result.files.length} files (Pi 4 kernel ${result.kernels.pi4}, Pi 5 kernel ${result.kernels.pi5})`);
      say(`  cmdline.txt: ${result.cmdline}`);
      for (const added of result.modules) say(`  kernel modules for ${added.kernel} (${added.version}): ${added.names.join(', ')}`);
      for (const warning of result.warnings) say(`  warning: ${warning}`);
      const installer = await resolveInstallerFiles({ dataDir });
      for (const missing of installer.missing) say(`  warning: the device listener cannot serve ${missing.name} yet: ${missing.hint}`);
    }));

  netboot
    .command('usb-image')
    .description('write the installer as a USB stick image (.img), for boards set up to boot USB but not the network')
    .requiredOption('-o, --output <file>', 'the .img file to write (e.g. pitcrew-installer-usb.img); replaced if it exists')
    .option('--server-url <url>', 'device listener as the boards reach it where the stick is used (default: the TFTP folder\'s cmdline.txt)')
    .option('--tftp-root <dir>', 'prepared TFTP folder to take the boot files from (default: the one in the saved configuration)')
    .option('--cmdline <word...>', 'more kernel command line words, e.g. pitcrew.venue=CORO pitcrew.stick-wait=120')
    .action(async (options: { output: string; serverUrl?: string; tftpRoot?: string; cmdline?: string[] }, command: Command) => guarded(async () => {
      const stick = await buildUsbStick({
        dataDir: dataPaths(dataDirOf(command)).root,
        tftpDir: options.tftpRoot ? resolve(options.tftpRoot) : undefined,
        output: resolve(options.output),
        serverUrl: options.serverUrl,
        extraCmdline: options.cmdline,
      });
      say(`Wrote ${stick.output} (${(stick.sizeBytes / 1048576).toFixed(0)} MiB, disk identifier ${stick.diskId}): installers will reach Pitcrew at ${stick.serverUrl}`);
      say(`  cmdline.txt: ${stick.cmdline}`);
      say('Next: write it to a USB stick (Raspberry Pi Imager: "Use custom"; or `sudo dd if=<file> of=/dev/sdX bs=4M conv=fsync`),');
      say('  plug it into a board with an empty SD card or NVMe drive, and power the board on.');
    }));
}
