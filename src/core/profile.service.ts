// Provisioning profiles: each change stores a new immutable revision; a device asking for its configuration is given
// the current revision of its venue's profile (the product's override if there is one) with its own variables
// substituted, and its deployment records that revision. Secrets never leave through the management side.
import type { Deployment, ProductType } from '../contracts/domain.js';
import { AppError } from '../contracts/errors.js';
import {
  profileInputProblems,
  type ProvisioningProfileInput,
  renderProfileForDevice,
  viewOfProfile,
  type DeviceProvisioning,
  type ProfileResponse,
  type ProvisioningProfile,
} from '../contracts/provisioning-profile.js';
import { isoOf, type CoreContext } from './context.js';
import type { ProfileRevision } from '../db/profile.repository.js';
import { normalizeVenueCode } from './venue.service.js';

function responseOf(venueCode: string, product: ProductType | null, revision: ProfileRevision | null): ProfileResponse {
  if (!revision) return { venue_code: venueCode, product_type: product, revision: null, profile: null };
  const { profile, ...info } = revision;
  return { venue_code: venueCode, product_type: product, revision: info, profile: viewOfProfile(profile) };
}

/** Checks shape (the CLI hands over files the HTTP schema never saw) and the rules; one 400 listing every problem. */
function checkInput(input: unknown): ProvisioningProfileInput {
  const problems = profileInputProblems(input);
  if (problems.length) {
    throw new AppError('VALIDATION', `The profile is not valid: ${problems.map((p) => `${p.field}: ${p.message}`).join(' ')}`, { problems });
  }
  return input as ProvisioningProfileInput;
}

/** The input with every omitted secret taken from the current revision; a Wi-Fi network needs its passphrase once. */
function withStoredSecrets(input: ProvisioningProfileInput, current: ProvisioningProfile | null): ProvisioningProfile {
  let wifi: ProvisioningProfile['wifi'] = null;
  if (input.wifi) {
    const passphrase = input.wifi.passphrase ?? current?.wifi?.passphrase;
    if (!passphrase) {
      throw new AppError('VALIDATION', 'The Wi-Fi network needs a passphrase (8–63 characters).', { problems: [{ field: 'wifi.passphrase', message: 'A passphrase is required.' }] });
    }
    wifi = { ...input.wifi, hidden: input.wifi.hidden ?? false, passphrase };
  }
  const user = input.user && {
    name: input.user.name,
    password_hash: input.user.password_hash !== undefined ? input.user.password_hash : (current?.user?.password_hash ?? null),
  };
  return { ...input, wifi, user };
}

export function createProfileService(ctx: CoreContext) {
  const { repos } = ctx;

  const venueOf = (code: string): string => {
    const normalized = normalizeVenueCode(code);
    if (!repos.venues.find(normalized)) throw new AppError('NOT_FOUND', `There is no venue ${normalized}.`);
    return normalized;
  };

  return {
    /** The current profile of a venue (product null) or of one product at it, secrets as set/not set. */
    get(venueCode: string, product: ProductType | null = null): ProfileResponse {
      const code = venueOf(venueCode);
      return responseOf(code, product, repos.profiles.latest(code, product));
    },

    /** Stores the change as the next revision. Omitted secrets keep their stored values. */
    set(venueCode: string, product: ProductType | null, input: unknown): ProfileResponse {
      const checked = checkInput(input);
      return ctx.write((emit) => {
        const code = venueOf(venueCode);
        const current = repos.profiles.latest(code, product);
        const revision = repos.profiles.insert({
          venue_code: code,
          product_type: product,
          revision: (current?.revision ?? 0) + 1,
          profile: withStoredSecrets(checked, current?.profile ?? null),
          created_at: isoOf(ctx.now()),
          created_by: ctx.actor(),
        });
        // Secrets are masked in the entry (audit.ts masks fields named like passphrases and password hashes).
        ctx.audit({ action: 'profile.update', target: `${code}${product ? `/${product}` : ''} revision ${revision.revision}`, details: checked });
        emit('venue_changed', { venue_code: code, deleted: false });
        return responseOf(code, product, revision);
      });
    },

    history: (venueCode: string) => repos.profiles.history(venueOf(venueCode)),

    /** The revision a deployment was given, or null when its venue had no profile then. */
    revisionOfDeployment(deploymentId: number) {
      const revision = repos.profiles.ofDeployment(deploymentId);
      if (!revision) return null;
      const { profile: _secrets, ...info } = revision;
      return info;
    },
  };
}
export type ProfileService = ReturnType<typeof createProfileService>;

/**
 * Inside the configuration answer's transaction: the profile for a new deployment (its product's override, else its
 * venue's), recorded against it, with the device's variables substituted. Null when the venue has no profile.
 */
export function provisionDeployment(ctx: CoreContext, deployment: Deployment, kartNumber: number | null): DeviceProvisioning | null {
  const revision = ctx.repos.profiles.latest(deployment.venue_code, deployment.product_type) ?? ctx.repos.profiles.latest(deployment.venue_code, null);
  if (!revision) return null;
  ctx.repos.profiles.recordForDeployment(deployment.id, revision.id);
  const rendered = renderProfileForDevice(revision.profile, {
    hostname: deployment.hostname,
    kart_number: kartNumber === null ? '' : String(kartNumber),
    venue_code: deployment.venue_code,
    serial: deployment.serial_number ?? '',
    mac: deployment.mac_address ?? '',
  });
  return { ...rendered, revision_id: revision.id, revision: revision.revision };
}
