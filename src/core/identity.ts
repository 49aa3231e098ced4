// How a device is recognised: by its serial, its MAC or both (see findHeldHostname in assignment.ts). Both are
// normalised once, here.
import { AppError } from '../contracts/errors.js';
import { MAC_PATTERN } from '../contracts/device-api.js';

export interface Identity {
  serial_number: string | null;
  mac_address: string | null;
}

const MAC = new RegExp(MAC_PATTERN);

/** Pi serials are hex; kept lower-case so `10000000ABC` and `10000000abc` are one device. */
export function normalizeSerial(serial: string | null | undefined): string | null {
  const trimmed = serial?.trim();
  if (!trimmed) return null;
  if (!/^[A-Za-z0-9]{1,64}$/.test(trimmed)) throw new AppError('VALIDATION', `Serial number "${trimmed.slice(0, 64)}" must be letters and digits only.`);
  return trimmed.toLowerCase();
}

export function normalizeMac(mac: string | null | undefined): string | null {
  const trimmed = mac?.trim();
  if (!trimmed) return null;
  if (!MAC.test(trimmed)) throw new AppError('VALIDATION', `MAC address "${trimmed.slice(0, 64)}" is not of the form aa:bb:cc:dd:ee:ff.`);
  return trimmed.toLowerCase().replaceAll('-', ':');
}

export function normalizeIdentity(input: { serial_number?: string | null; mac_address?: string | null }): Identity {
  return { serial_number: normalizeSerial(input.serial_number), mac_address: normalizeMac(input.mac_address) };
}
