import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../disk-layout/test-support/disk-image.builder.js';
import { describeBootOrder, parseBootloaderConfig, parseBootOrder, readBootloaderState } from './bootloader-state.reader.js';
import { buildFakeBoard, eepromConfig } from './test-support/fake-board.js';

describe('BOOT_ORDER', () => {
  it('reads the modes from the lowest nibble up, to the restart or stop', () => {
    expect(parseBootOrder('0xf21')).toEqual({ value: '0xf21', modes: [1, 2], then: 'restart' });
    expect(parseBootOrder('0xf216')).toEqual({ value: '0xf216', modes: [6, 1, 2], then: 'restart' });
    expect(parseBootOrder('F416')).toMatchObject({ modes: [6, 1, 4], then: 'restart' });
    expect(parseBootOrder('0xe1')).toMatchObject({ modes: [1], then: 'stop' });
    // Digits beyond a restart are never reached.
    expect(parseBootOrder('0x4f21')).toMatchObject({ modes: [1, 2], then: 'restart' });
    // Without a terminator the 32-bit value goes on with zeros: SD CARD DETECT, which waits.
    expect(parseBootOrder('0x21')).toMatchObject({ modes: [1, 2], then: 'wait' });
  });

  it('describes an order in words', () => {
    expect(describeBootOrder(parseBootOrder('0xf216'))).toBe('0xf216 (NVMe, SD card/eMMC, network, then again)');
    expect(describeBootOrder(parseBootOrder('0xf7'))).toBe('0xf7 (HTTP, then again)');
  });

  it('refuses what is not a boot order', () => {
    expect(() => parseBootOrder('0x')).toThrow(/not a hexadecimal number of at most 8 digits/);
    expect(() => parseBootOrder('network')).toThrow(/not a hexadecimal number/);
    expect(() => parseBootOrder('0x1f2f2f2f2')).toThrow(/at most 8 digits/);
    expect(() => parseBootOrder('0xf91')).toThrow(/holds 9, which is no boot mode/);
  });
});

describe('the bootloader configuration', () => {
  it('takes BOOT_ORDER and PCIE_PROBE from sections that always apply, the last one winning', () => {
    expect(parseBootloaderConfig('[all]\nBOOT_UART=1\nBOOT_ORDER=0xf41\nBOOT_ORDER=0xf21 # network after the card\nPCIE_PROBE=1\n')).toEqual({
      bootOrder: '0xf21',
      conditionalBootOrder: false,
      pcieProbe: true,
    });
    expect(parseBootloaderConfig('BOOT_ORDER=0xf216\n[none]\nBOOT_ORDER=0xf1\nPCIE_PROBE=1\n')).toEqual({ bootOrder: '0xf216', conditionalBootOrder: false, pcieProbe: false });
  });

  it('notices a BOOT_ORDER under a filter it cannot evaluate', () => {
    expect(parseBootloaderConfig('[all]\nBOOT_ORDER=0xf21\n[gpio4=0]\nBOOT_ORDER=0xf12\n')).toMatchObject({ bootOrder: '0xf21', conditionalBootOrder: true });
  });
});

describe('readBootloaderState from the device tree and the configuration copy', () => {
  let root: string;
  beforeEach(async () => { root = await makeTempDir(); });
  afterEach(async () => { await rm(root, { recursive: true, force: true }); });

  it('reads the boot order from the blconfig NVMEM device and the boot mode as a big-endian cell', async () => {
    await buildFakeBoard(root, { disks: [], bootMode: 2, bootloaderConfig: eepromConfig('0xf216', ['PCIE_PROBE=1']) });
    expect(await readBootloaderState(root)).toEqual({ bootOrder: parseBootOrder('0xf216'), unknownBecause: null, bootMode: 2, pcieProbe: true });
  });

  it('says why the order is unknown: not a Raspberry Pi, no configuration copy, none set, conditional or malformed', async () => {
    expect(await readBootloaderState(root)).toMatchObject({ bootOrder: null, bootMode: null, unknownBecause: expect.stringMatching(/not a Raspberry Pi 4\/5 bootloader/) });

    await buildFakeBoard(root, { disks: [], bootMode: 2 });
    expect(await readBootloaderState(root)).toMatchObject({ bootOrder: null, bootMode: 2, unknownBecause: expect.stringMatching(/no blconfig NVMEM device/) });

    const cases: Array<[string, RegExp]> = [
      [eepromConfig(null), /sets no BOOT_ORDER/],
      [eepromConfig('0xf21', ['[gpio8=0]', 'BOOT_ORDER=0xf12']), /conditional section/],
      [eepromConfig('0xfx1'), /not a hexadecimal number/],
    ];
    for (const [config, why] of cases) {
      const board = await makeTempDir();
      await buildFakeBoard(board, { disks: [], bootMode: 2, bootloaderConfig: config });
      expect(await readBootloaderState(board)).toMatchObject({ bootOrder: null, bootMode: 2, unknownBecause: expect.stringMatching(why) });
      await rm(board, { recursive: true, force: true });
    }
  });

  it('ignores an alias that leads nowhere and a boot-mode cell of the wrong size', async () => {
    await buildFakeBoard(root, { disks: [], bootMode: 2, bootloaderConfig: eepromConfig('0xf21') });
    await writeFile(join(root, 'sys/firmware/devicetree/base/aliases/blconfig'), '/reserved-memory/gone@0\0');
    await writeFile(join(root, 'sys/firmware/devicetree/base/chosen/bootloader/boot-mode'), Buffer.from([0, 2]));
    expect(await readBootloaderState(root)).toMatchObject({ bootOrder: null, bootMode: null });
  });
});
