// The first-boot mechanisms an image can run, and which one a master image will use: detected by the installer on
// each card it writes (src/disk-layout/first-boot.detector.ts) and by the server when the image is registered, so an
// operator sees it before activating the image. One list for the agent, the server and the dashboard.
import { Type, type Static } from 'typebox';

export const FIRST_BOOT_FLAVOURS = ['rpi-preseed', 'cloud-init', 'firstrun', 'none'] as const;
export type FirstBootFlavour = (typeof FIRST_BOOT_FLAVOURS)[number];

/** Each mechanism in the operator's words: what it is and where the installer writes for it. */
export const FIRST_BOOT_FLAVOUR_LABELS: Record<FirstBootFlavour, string> = {
  'rpi-preseed': 'rpi-preseed (newest Raspberry Pi OS): rpi-preseed.toml on the boot partition',
  'cloud-init': 'cloud-init (Raspberry Pi OS Trixie and cloud images): user-data and meta-data on the boot partition',
  firstrun: "firstrun.sh (Raspberry Pi OS Bookworm, as Raspberry Pi Imager writes it), started from cmdline.txt",
  none: 'none found: the hostname goes only into /etc/hostname and /etc/hosts, and the provisioning profile into files and one-shot units',
};

/**
 * What inspecting a registered image found: the mechanism its cards will use, where its OS mounts the boot
 * partition, and what the installer will warn about on each deployment. `flavour` is null, with the `problem`, when
 * the image could not be read that far.
 */
export const FirstBootPreview = Type.Object({
  flavour: Type.Union([Type.Enum(FIRST_BOOT_FLAVOURS), Type.Null()]),
  boot_mount: Type.Union([Type.String(), Type.Null()]),
  warnings: Type.Array(Type.String()),
  problem: Type.Union([Type.String(), Type.Null()]),
});
export type FirstBootPreview = Static<typeof FirstBootPreview>;
