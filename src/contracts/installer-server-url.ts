// The one rule for the server URL an installer is given (netboot cmdline.txt, the USB stick, the dashboard's form):
// the installer fetches over plain HTTP with BusyBox wget and reads it from a kernel command line word, which the
// kernel and the installer's shell split on spaces and read quotes, globs and `$` in.

/** What a kernel command line word may hold without the kernel or a shell reading more into it. */
const COMMAND_LINE_SAFE = /^[A-Za-z0-9._~:/@%+,=[\]-]+$/;

/** What is wrong with the URL, for a person; null when the installer can use it. */
export function checkInstallerServerUrl(serverUrl: string): string | null {
  let url: URL;
  try {
    url = new URL(serverUrl);
  } catch {
    return `the server URL "${serverUrl}" is not a URL (e.g. http://10.42.0.1:5001)`;
  }
  if (url.protocol !== 'http:') return `the server URL must start with http:// (the installer has no TLS), not "${serverUrl}"`;
  if (/\s/.test(serverUrl)) return 'the server URL must not contain spaces';
  if (!COMMAND_LINE_SAFE.test(serverUrl)) return `the server URL may hold only letters, digits and . _ ~ : / @ % + , = [ ] -, not "${serverUrl}"`;
  return null;
}
