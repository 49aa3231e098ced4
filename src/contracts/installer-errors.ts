// The installer's failure codes. The installer throws them (src/agent/installer.errors.ts), its failed report carries
// the code beside the message (`error_code`), and the attention lane tells failures apart by it
// (src/contracts/attention.ts): words change from one installer version to the next, codes do not.
export const INSTALLER_ERROR_CODES = [
  'NETWORK', // connection refused, reset, timed out, stalled
  'HTTP', // the server answered with an error status
  'CONFIG_REFUSED', // /api/config said no (no active image, pool exhausted, …)
  'BAD_RESPONSE', // the server's answer does not have the expected shape
  'IMAGE_CHANGED', // the image behind the URL changed between two resumed requests
  'CHECKSUM_MISMATCH', // the downloaded bytes do not hash to the image's checksum
  'VERIFY_MISMATCH', // the bytes read back from the disk differ from what was written
  'TARGET', // the target disk is missing, too small, mounted or not writable
  'IO', // reading or writing the target failed
  'CUSTOMIZE', // first-boot customisation could not be written or checked
  'DEPLOYMENT_CLOSED', // the server already closed this deployment (409 on a report)
  'USAGE', // bad flags or settings
  'ABORTED',
] as const;

export type InstallerErrorCode = (typeof INSTALLER_ERROR_CODES)[number];

/** What a report's `error_code` may hold: a code of this list, or one a newer installer has that this server does not know. */
export const ERROR_CODE_PATTERN = '^[A-Z][A-Z0-9_]{0,39}$';
