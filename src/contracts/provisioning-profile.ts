// Provisioning profiles: what a venue's devices (optionally per product) get on first boot — Wi-Fi, SSH keys and
// password login, one user, time zone, keyboard, locale, files and first-boot commands. One schema and one set of
// rules for the server (storage, the config answer), the installer (which renders it for the image's first-boot
// mechanism), the dashboard's form and the CLI. Secrets (the Wi-Fi passphrase, the user's password hash) are
// write-only on the management side: answers say only whether they are set, and a change that omits one keeps it.
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { ProductType, RowId } from './domain.js';

const Strict = { additionalProperties: false } as const;
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

/** The limits the schemas below are built from (and the form's inputs and help). */
export const PROFILE_LIMITS = {
  ssidBytes: 32,
  passphraseMin: 8,
  passphraseMax: 63,
  keys: 32,
  files: 32,
  fileContent: 65_536,
  commands: 32,
  commandLength: 2000,
} as const;

/** Per-device variables, substituted by the server in file paths, contents, owners and commands. */
export const PROFILE_VARIABLES = ['hostname', 'kart_number', 'venue_code', 'serial', 'mac'] as const;
export type ProfileVariable = (typeof PROFILE_VARIABLES)[number];
export type ProfileVariableValues = Record<ProfileVariable, string>;
const VARIABLE_TOKEN = /\{([a-z_]+)\}/g;

/** Linux user and group names as useradd accepts them by default (Debian's NAME_REGEX). */
const NAME = '[a-z_][a-z0-9_-]{0,31}';
/** crypt(3) hashes chpasswd -e and cloud-init accept: SHA-512 ($6$, optionally with rounds) and yescrypt ($y$). */
export const PASSWORD_HASH_PATTERN = '^(\\$6\\$(rounds=[0-9]{4,9}\\$)?[./0-9A-Za-z]{1,16}\\$[./0-9A-Za-z]{86}|\\$y\\$[./0-9A-Za-z]{1,32}\\$[./0-9A-Za-z]{1,86}\\$[./0-9A-Za-z]{43})$';

export const ProfileWifi = Type.Object(
  {
    /** 1–32 bytes as UTF-8 (the byte count is checked by profileProblems), no control characters. */
    ssid: Type.String({ minLength: 1, maxLength: PROFILE_LIMITS.ssidBytes, pattern: '^[^\\x00-\\x1F\\x7F]+$' }),
    /** WPA2/WPA3-Personal: 8–63 printable ASCII characters. Write-only. */
    passphrase: Type.String({ minLength: PROFILE_LIMITS.passphraseMin, maxLength: PROFILE_LIMITS.passphraseMax, pattern: '^[\\x20-\\x7E]+$' }),
    /** ISO 3166-1 alpha-2 regulatory domain, e.g. DE: the radio stays off on some systems without one. */
    country: Type.String({ pattern: '^[A-Z]{2}$' }),
    hidden: Type.Boolean(),
  },
  Strict,
);

export const ProfileSsh = Type.Object(
  {
    /** OpenSSH public keys, one line each ("ssh-ed25519 AAAA… comment"). */
    authorized_keys: Type.Array(Type.String({ minLength: 1, maxLength: 16_384 }), { maxItems: PROFILE_LIMITS.keys }),
    password_login: Type.Boolean(),
  },
  Strict,
);

export const ProfileUser = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 32, pattern: `^${NAME}$` }),
    /** A crypt(3) hash (`openssl passwd -6` or `mkpasswd -m yescrypt`); null for a user who logs in by key only. Write-only. */
    password_hash: Nullable(Type.String({ maxLength: 256, pattern: PASSWORD_HASH_PATTERN })),
  },
  Strict,
);

export const ProfileKeyboard = Type.Object(
  {
    /** XKB layout, e.g. us, de, gb. */
    layout: Type.String({ minLength: 2, maxLength: 16, pattern: '^[a-z]{2,16}$' }),
    variant: Type.String({ maxLength: 32, pattern: '^[a-z0-9_-]*$', default: '' }),
  },
  Strict,
);

export const ProfileFile = Type.Object(
  {
    /** Absolute, inside the root filesystem; may use the per-device variables. */
    path: Type.String({ minLength: 2, maxLength: 255 }),
    /** Octal permission bits, e.g. 0644. */
    mode: Type.String({ pattern: '^0?[0-7]{3}$' }),
    /** user or user:group; a user the profile creates is fine (ownership is applied on first boot). */
    owner: Type.String({ maxLength: 65, pattern: `^${NAME}(:${NAME})?$` }),
    content: Type.String({ maxLength: PROFILE_LIMITS.fileContent }),
  },
  Strict,
);


const profileShape = {
  wifi: Nullable(ProfileWifi),
  ssh: ProfileSsh,
  user: Nullable(ProfileUser),
  /** IANA time zone, e.g. Europe/Berlin. */
  time_zone: Nullable(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$' })),
  keyboard: Nullable(ProfileKeyboard),
  /** A UTF-8 locale, e.g. en_GB.UTF-8. */
  locale: Nullable(Type.String({ maxLength: 32, pattern: '^[a-z]{2,3}_[A-Z]{2}\\.UTF-8$' })),
  files: Type.Array(ProfileFile, { maxItems: PROFILE_LIMITS.files }),
  /** Shell commands run once, as root, on first boot after everything else (one line each). */
  commands: Type.Array(Type.String({ minLength: 1, maxLength: PROFILE_LIMITS.commandLength, pattern: '^[^\\r\\n]+$' }), { maxItems: PROFILE_LIMITS.commands }),
};

/** A complete profile, secrets included: what a revision stores and (variables substituted) what a device receives. */
export const ProvisioningProfile = Type.Object(profileShape, Strict);
export type ProvisioningProfile = Static<typeof ProvisioningProfile>;

/** A change from an operator: a secret left out keeps the stored one. */
export const ProvisioningProfileInput = Type.Object(
  {
    ...profileShape,
    wifi: Nullable(Type.Object({ ...ProfileWifi.properties, passphrase: Type.Optional(ProfileWifi.properties.passphrase), hidden: Type.Optional(Type.Boolean()) }, Strict)),
    user: Nullable(Type.Object({ ...ProfileUser.properties, password_hash: Type.Optional(ProfileUser.properties.password_hash) }, Strict)),
  },
  Strict,
);
export type ProvisioningProfileInput = Static<typeof ProvisioningProfileInput>;

/** What the management side shows: secrets only as set or not. */
export const ProvisioningProfileView = Type.Object({
  ...profileShape,
  wifi: Nullable(Type.Object({ ssid: ProfileWifi.properties.ssid, country: ProfileWifi.properties.country, hidden: Type.Boolean(), passphrase_set: Type.Boolean() })),
  user: Nullable(Type.Object({ name: ProfileUser.properties.name, password_hash_set: Type.Boolean() })),
});
export type ProvisioningProfileView = Static<typeof ProvisioningProfileView>;

export const ProfileScope = Type.Object({ product: Type.Optional(ProductType) }, Strict);

export const ProfileRevisionInfo = Type.Object({
  id: RowId(),
  venue_code: Type.String(),
  /** Null: the venue's profile for every product; else the override for that product. */
  product_type: Nullable(ProductType),
  revision: Type.Integer({ minimum: 1 }),
  created_at: Type.String(),
  created_by: Type.String(),
});
export type ProfileRevisionInfo = Static<typeof ProfileRevisionInfo>;

/** GET /api/venues/:code/profile/revisions: every revision of the venue's profiles, with how many deployments got each. */
export const ProfileRevisionList = Type.Object({ revisions: Type.Array(Type.Object({ ...ProfileRevisionInfo.properties, deployments: Type.Integer() })) });
export type ProfileRevisionList = Static<typeof ProfileRevisionList>;

/** GET /api/venues/:code/profile: the current revision, or nulls when the venue (or product) has none. */
export const ProfileResponse = Type.Object({
  venue_code: Type.String(),
  product_type: Nullable(ProductType),
  revision: Nullable(ProfileRevisionInfo),
  profile: Nullable(ProvisioningProfileView),
});
export type ProfileResponse = Static<typeof ProfileResponse>;

/** What a device receives in its config answer: the profile for its deployment, variables substituted. */
export const DeviceProvisioning = Type.Object({ ...profileShape, revision_id: RowId(), revision: Type.Integer({ minimum: 1 }) });
export type DeviceProvisioning = Static<typeof DeviceProvisioning>;

export const EMPTY_PROFILE: ProvisioningProfile = {
  wifi: null,
  ssh: { authorized_keys: [], password_login: false },
  user: null,
  time_zone: null,
  keyboard: null,
  locale: null,
  files: [],
  commands: [],
};

/** One problem with one field, `field` being a dotted path such as `files.2.path` (the form puts it beside that input). */
export interface ProfileProblem {
  field: string;
  message: string;
}

const SSH_KEY_TYPES = new Set([
  'ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com',
]);

/** Reads the length-prefixed strings of an SSH wire-format blob (RFC 4251); null if they do not fill it exactly. */
function sshWireStrings(bytes: Uint8Array): Uint8Array[] | null {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (at + 4 > bytes.length) return null;
    const length = ((bytes[at]! << 24) >>> 0) + (bytes[at + 1]! << 16) + (bytes[at + 2]! << 8) + bytes[at + 3]!;
    at += 4;
    if (at + length > bytes.length) return null;
    out.push(bytes.subarray(at, at + length));
    at += length;
  }
  return out;
}

/** Why a line is not an OpenSSH public key (type, base64 blob whose own type matches, optional comment); null if it is. */
export function publicKeyProblem(line: string): string | null {
  const parts = line.trim().split(/\s+/);
  const [type, blob] = parts;
  if (/[\r\n]/.test(line.trim())) return 'one key per entry (no line breaks inside)';
  if (!type || !SSH_KEY_TYPES.has(type)) return `not an OpenSSH public key: it must start with a key type (${[...SSH_KEY_TYPES].slice(0, 3).join(', ')} …)`;
  if (!blob || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) return `the ${type} key has no base64 key data after its type`;
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.from(atob(blob), (c) => c.charCodeAt(0));
  } catch {
    return `the ${type} key data is not valid base64`;
  }
  const fields = sshWireStrings(bytes);
  if (!fields || fields.length < 2) return `the ${type} key data is cut short or malformed`;
  const inner = new TextDecoder().decode(fields[0]);
  if (inner !== type) return `the key data is for ${inner.slice(0, 40) || 'nothing'}, not ${type}`;
  if (type === 'ssh-ed25519' && (fields.length !== 2 || fields[1]!.length !== 32)) return 'the ssh-ed25519 key is not 32 bytes';
  if (type === 'ssh-rsa' && (fields.length !== 3 || fields[2]!.length < 128)) return 'the ssh-rsa key is malformed or shorter than 1024 bits';
  return null;
}

/** Where a file may not go: virtual filesystems, and the boot partition (FAT, not the root filesystem). */
const FORBIDDEN_PREFIXES = ['/proc', '/sys', '/dev', '/run', '/boot'];

/** Why a path is not an absolute file path inside the root filesystem; null if it is. */
export function filePathProblem(path: string): string | null {
  if (!path.startsWith('/')) return 'must be an absolute path (starting with /)';
  if (path.endsWith('/')) return 'must name a file, not a folder';
  if (/[\0\r\n\\]/.test(path)) return 'may not contain line breaks, backslashes or NUL';
  const segments = path.slice(1).split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) return 'must be a plain path without //, . or .. segments (it may not leave the root filesystem)';
  const prefix = FORBIDDEN_PREFIXES.find((p) => path === p || path.startsWith(`${p}/`));
  if (prefix) return `may not be under ${prefix} (${prefix === '/boot' ? 'the boot partition is not the root filesystem' : 'a virtual filesystem, rebuilt at every boot'})`;
  return null;
}

const isTimeZone = (zone: string): boolean => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

function unknownVariables(text: string): string[] {
  return [...text.matchAll(VARIABLE_TOKEN)].map((m) => m[1]!).filter((name) => !(PROFILE_VARIABLES as readonly string[]).includes(name));
}

/**
 * The rules a schema cannot say: byte lengths, keys that parse, paths that stay inside the root filesystem, known
 * time zones and variables, no file twice, no root user. Run on schema-valid input (the form and the server both do).
 */
export function profileProblems(profile: ProvisioningProfileInput): ProfileProblem[] {
  const problems: ProfileProblem[] = [];
  const add = (field: string, message: string) => void problems.push({ field, message });
  if (profile.wifi && new TextEncoder().encode(profile.wifi.ssid).length > PROFILE_LIMITS.ssidBytes) add('wifi.ssid', `The SSID is at most ${PROFILE_LIMITS.ssidBytes} bytes as UTF-8.`);
  profile.ssh.authorized_keys.forEach((key, i) => {
    const problem = publicKeyProblem(key);
    if (problem) add(`ssh.authorized_keys.${i}`, `Key ${i + 1}: ${problem}.`);
  });
  if (profile.user?.name === 'root') add('user.name', 'The user may not be root (root is configured through the SSH keys).');
  if (profile.time_zone && !isTimeZone(profile.time_zone)) add('time_zone', `${profile.time_zone} is not a known time zone (e.g. Europe/Berlin, UTC).`);
  const seen = new Set<string>();
  profile.files.forEach((file, i) => {
    const problem = filePathProblem(file.path);
    if (problem) add(`files.${i}.path`, `File ${i + 1} (${file.path.slice(0, 80)}): the path ${problem}.`);
    if (seen.has(file.path)) add(`files.${i}.path`, `File ${i + 1}: ${file.path} is listed twice.`);
    seen.add(file.path);
    for (const [part, text] of [['path', file.path], ['owner', file.owner], ['content', file.content]] as const) {
      const unknown = unknownVariables(text);
      if (unknown.length) add(`files.${i}.${part}`, `File ${i + 1}: unknown variable {${unknown[0]}} (known: ${PROFILE_VARIABLES.map((v) => `{${v}}`).join(', ')}).`);
    }
  });
  profile.commands.forEach((command, i) => {
    const unknown = unknownVariables(command);
    if (unknown.length) add(`commands.${i}`, `Command ${i + 1}: unknown variable {${unknown[0]}} (known: ${PROFILE_VARIABLES.map((v) => `{${v}}`).join(', ')}).`);
  });
  return problems;
}

const substitute = (text: string, values: ProfileVariableValues): string =>
  text.replace(VARIABLE_TOKEN, (token, name: string) => ((PROFILE_VARIABLES as readonly string[]).includes(name) ? values[name as ProfileVariable] : token));

/** The profile as one device gets it: every variable in file paths, owners, contents and commands replaced. */
export function renderProfileForDevice(profile: ProvisioningProfile, values: ProfileVariableValues): ProvisioningProfile {
  return {
    ...profile,
    files: profile.files.map((file) => ({ ...file, path: substitute(file.path, values), owner: substitute(file.owner, values), content: substitute(file.content, values) })),
    commands: profile.commands.map((command) => substitute(command, values)),
  };
}

/** The management view of a stored profile: secrets replaced by whether they are set. */
export function viewOfProfile(profile: ProvisioningProfile): ProvisioningProfileView {
  return {
    ...profile,
    wifi: profile.wifi && { ssid: profile.wifi.ssid, country: profile.wifi.country, hidden: profile.wifi.hidden, passphrase_set: true },
    user: profile.user && { name: profile.user.name, password_hash_set: profile.user.password_hash !== null },
  };
}

/** A change that keeps everything as shown, secrets included (they are omitted, so the stored ones stay). */
export function inputOfView(view: ProvisioningProfileView | null): ProvisioningProfileInput {
  if (!view) return structuredClone(EMPTY_PROFILE);
  return {
    ...structuredClone(view),
    wifi: view.wifi && { ssid: view.wifi.ssid, country: view.wifi.country, hidden: view.wifi.hidden },
    user: view.user && { name: view.user.name },
  };
}

/** What each field takes, in the operator's words (the form's help and the answer to a value the schema refuses). */
export const PROFILE_FIELD_HINTS: Record<string, string> = {
  'wifi.ssid': `1–${PROFILE_LIMITS.ssidBytes} bytes as UTF-8 (as many plain letters), no control characters.`,
  'wifi.passphrase': `${PROFILE_LIMITS.passphraseMin}–${PROFILE_LIMITS.passphraseMax} printable ASCII characters (WPA2/WPA3-Personal).`,
  'wifi.country': 'Two capital letters (ISO 3166), e.g. DE, GB, US.',
  'wifi.hidden': 'On or off.',
  'ssh.authorized_keys': `At most ${PROFILE_LIMITS.keys} keys.`,
  'ssh.authorized_keys.N': 'One OpenSSH public key per line, e.g. ssh-ed25519 AAAA… name.',
  'ssh.password_login': 'On or off.',
  'user.name': 'Lower-case letters, digits, - and _, starting with a letter or _; at most 32.',
  'user.password_hash': 'A crypt(3) hash starting with $6$ or $y$ (e.g. from openssl passwd -6), never the password itself.',
  time_zone: 'An IANA time zone, e.g. Europe/Berlin or UTC.',
  'keyboard.layout': 'An XKB layout in lower case, e.g. us, de, gb.',
  'keyboard.variant': 'Lower-case letters, digits, - and _; may be empty.',
  locale: 'A UTF-8 locale, e.g. en_GB.UTF-8.',
  files: `At most ${PROFILE_LIMITS.files} files.`,
  'files.N.path': 'An absolute path inside the root filesystem, e.g. /etc/kart/identity.conf.',
  'files.N.mode': 'Octal permissions, e.g. 0644 or 0600.',
  'files.N.owner': 'user or user:group, e.g. root or crew:crew.',
  'files.N.content': `At most ${PROFILE_LIMITS.fileContent} characters.`,
  commands: `At most ${PROFILE_LIMITS.commands} commands.`,
  'commands.N': `One line each, at most ${PROFILE_LIMITS.commandLength} characters.`,
};

export const hintOfField = (field: string): string => PROFILE_FIELD_HINTS[field.replace(/\.\d+(?=\.|$)/g, '.N')] ?? 'This value is not allowed here.';

/** Every problem with an operator's change: the schema's (as hints per field) and the rules'. */
export function profileInputProblems(input: unknown): ProfileProblem[] {
  if (Value.Check(ProvisioningProfileInput, input)) return profileProblems(input);
  const problems = new Map<string, string>();
  for (const error of Value.Errors(ProvisioningProfileInput, input)) {
    const field = error.instancePath.slice(1).replaceAll('/', '.');
    const params = error.params as { requiredProperties?: string[]; additionalProperties?: string[]; type?: string };
    // A nullable field fails its null branch and the union as well: the branch that names the problem is enough.
    if (error.keyword === 'anyOf' || (error.keyword === 'type' && params.type === 'null') || error.keyword === 'boolean') continue;
    if (error.keyword === 'required') {
      for (const name of params.requiredProperties ?? []) problems.set(field ? `${field}.${name}` : name, 'Required.');
    } else if (error.keyword === 'additionalProperties') {
      problems.set(field || '(profile)', `Unknown field ${(params.additionalProperties ?? []).map((n) => `"${n}"`).join(', ')}.`);
    } else if (!problems.has(field)) {
      problems.set(field, hintOfField(field));
    }
  }
  // The rules too, so a form shows every problem at once; on a shape this far off they may not apply at all.
  try {
    for (const { field, message } of profileProblems(input as ProvisioningProfileInput)) if (!problems.has(field)) problems.set(field, message);
  } catch {
    // The schema's problems say what to fix first.
  }
  return [...problems].map(([field, message]) => ({ field, message }));
}
