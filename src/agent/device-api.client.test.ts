import { describe, expect, it } from 'vitest';
import { parseConfigResponse } from './device-api.client.js';
import { FULL_PROFILE } from '../contracts/test-support/profile-samples.js';

const CONFIG = {
  hostname: 'KXP2-CORO-007',
  product_type: 'KXP2',
  venue_code: 'CORO',
  image_url: 'http://10.42.0.1:5001/images/kxp2.img',
  image_size: 4096,
  image_checksum: 'A'.repeat(64),
  version: '1.0.0',
  timestamp: '2026-06-15T10:00:00.000Z',
  deployment_id: 7,
  batch_id: null,
  status_url: 'http://10.42.0.1:5001/api/status',
  image_manifest_url: null,
};
const provisioning = { ...FULL_PROFILE, revision_id: 3, revision: 2 };

describe('the configuration answer with a provisioning profile', () => {
  it('is taken with its profile, and without one from a server that predates profiles', () => {
    expect(parseConfigResponse({ ...CONFIG, provisioning }).provisioning).toEqual(provisioning);
    expect(parseConfigResponse(CONFIG).provisioning).toBeUndefined();
    expect(parseConfigResponse({ ...CONFIG, provisioning: null }).provisioning).toBeNull();
  });

  it('is refused before anything is written when a file path would leave the root filesystem', () => {
    const escaping = { ...provisioning, files: [{ ...FULL_PROFILE.files[0]!, path: '/etc/../../boot/firmware/config.txt' }] };
    expect(() => parseConfigResponse({ ...CONFIG, provisioning: escaping })).toThrow(/the provisioning profile's file "\/etc\/\.\.\/\.\.\/boot\/firmware\/config\.txt": the path must be a plain path/);
  });

  it('is refused when the profile is malformed', () => {
    expect(() => parseConfigResponse({ ...CONFIG, provisioning: { ...provisioning, wifi: { ...FULL_PROFILE.wifi!, passphrase: 'short' } } })).toThrow(/configuration answer is malformed \(\/provisioning/);
    expect(() => parseConfigResponse({ ...CONFIG, provisioning: { ...provisioning, commands: ['echo a\nrm -rf /'] } })).toThrow(/malformed/);
  });
});
