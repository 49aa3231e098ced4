// Step 1: who am I, what do I install? The server's configuration answer, asked for with the usual retries.
import type { ConfigResponse } from '../../contracts/device-api.js';
import { fetchConfig } from '../device-api.client.js';
import { describeError } from '../installer.errors.js';
import type { RetryPolicy } from '../retry.policy.js';
import type { InstallerEvent, InstallerOptions } from '../installer.types.js';

export function requestConfiguration(options: InstallerOptions, policy: RetryPolicy, emit: (event: InstallerEvent) => void): Promise<ConfigResponse> {
  return fetchConfig(
    options.serverUrl,
    {
      product_type: options.productType ?? null,
      venue_code: options.venueCode ?? null,
      serial_number: options.identity.serial,
      mac_address: options.identity.mac,
      model: options.identity.model,
      timestamp: (options.now ?? Date.now)() / 1000,
    },
    {
      policy,
      signal: options.signal,
      deviceToken: options.deviceToken,
      onRetry: (n) => emit({ type: 'retry', what: 'configuration', attempt: n.attempt, delayMs: n.delayMs, reason: describeError(n.error) }),
    },
  );
}
