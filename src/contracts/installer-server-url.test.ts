import { describe, expect, it } from 'vitest';
import { checkInstallerServerUrl } from './installer-server-url.js';

describe('the server URL an installer is given', () => {
  it('takes plain HTTP addresses the installer can reach', () => {
    for (const url of ['http://10.42.0.1:5001', 'http://10.42.0.1:5001/', 'http://pitcrew.local:5001', 'http://[fd00::1]:5001', 'http://user@host:5001/base_path-1']) {
      expect(checkInstallerServerUrl(url), url).toBeNull();
    }
  });

  it('refuses what is not a URL, not HTTP, or would be read as more than one word on the kernel command line', () => {
    expect(checkInstallerServerUrl('nonsense')).toMatch(/is not a URL/);
    expect(checkInstallerServerUrl('https://pitcrew.example')).toMatch(/must start with http:\/\//);
    expect(checkInstallerServerUrl('http://10.0.0.1:5001/ x')).toMatch(/spaces/);
    // A quote makes the kernel read the rest of the line as this one word; `$`, globs and `;` mean things to a shell.
    for (const url of ['http://10.0.0.1:5001/"', "http://10.0.0.1:5001/'", 'http://10.0.0.1:5001/$(reboot)', 'http://10.0.0.1:5001/*', 'http://10.0.0.1:5001/?a=1&b=2', 'http://10.0.0.1:5001/;x', 'http://10.0.0.1:5001/\\x', 'http://10.0.0.1:5001/#x', 'http://bücher.example:5001']) {
      expect(checkInstallerServerUrl(url), url).toMatch(/may hold only letters, digits and/);
    }
  });
});
