// The venue page's provisioning profile: what its devices get on first boot, for all products or one product's
// override, and a form to change it. Secrets are write-only: the form shows only that they are set, and leaving
// their inputs empty keeps them. Every check is the contracts' own (profileInputProblems), so the form refuses
// exactly what the server would.
import { useMemo, useState, type FormEvent } from 'react';
import { PRODUCT_TYPES, type ProductType } from '../../../src/contracts/domain.js';
import {
  hintOfField,
  inputOfView,
  PROFILE_LIMITS,
  PROFILE_VARIABLES,
  profileInputProblems,
  type ProfileResponse,
  type ProvisioningProfileInput,
  type ProvisioningProfileView,
} from '../../../src/contracts/provisioning-profile.js';
import { api, describeError } from '../api/api.client.js';
import { useResource } from '../api/use-resource.js';
import { useLiveReload } from '../live/live.hooks.js';
import { formatDateTime } from '../../../src/contracts/format.js';
import { Field } from './form.js';
import { Modal } from './modal.js';
import { useToast } from './toast.provider.js';
import { Busy, ErrorAlert } from './ui.js';

interface FileDraft {
  path: string;
  mode: string;
  owner: string;
  content: string;
}

interface Draft {
  wifiOn: boolean;
  ssid: string;
  passphrase: string;
  country: string;
  hidden: boolean;
  keys: string;
  passwordLogin: boolean;
  userOn: boolean;
  userName: string;
  passwordHash: string;
  /** Remove the stored password: the user logs in by key only. */
  noPassword: boolean;
  timeZone: string;
  keyboardLayout: string;
  keyboardVariant: string;
  locale: string;
  files: FileDraft[];
  commands: string;
}

const lines = (text: string) => text.split('\n').map((line) => line.trim()).filter(Boolean);

function draftOf(view: ProvisioningProfileView | null): Draft {
  const profile = inputOfView(view);
  return {
    wifiOn: Boolean(profile.wifi),
    ssid: profile.wifi?.ssid ?? '',
    passphrase: '',
    country: profile.wifi?.country ?? '',
    hidden: profile.wifi?.hidden ?? false,
    keys: profile.ssh.authorized_keys.join('\n'),
    passwordLogin: profile.ssh.password_login,
    userOn: Boolean(profile.user),
    userName: profile.user?.name ?? '',
    passwordHash: '',
    noPassword: Boolean(view?.user && !view.user.password_hash_set),
    timeZone: profile.time_zone ?? '',
    keyboardLayout: profile.keyboard?.layout ?? '',
    keyboardVariant: profile.keyboard?.variant ?? '',
    locale: profile.locale ?? '',
    files: profile.files.map((file) => ({ ...file })),
    commands: profile.commands.join('\n'),
  };
}

/** The change to send: empty secret inputs are left out, so the stored secrets stay. */
function inputOf(draft: Draft): ProvisioningProfileInput {
  return {
    wifi: draft.wifiOn ? { ssid: draft.ssid, country: draft.country.trim(), hidden: draft.hidden, ...(draft.passphrase ? { passphrase: draft.passphrase } : {}) } : null,
    ssh: { authorized_keys: lines(draft.keys), password_login: draft.passwordLogin },
    user: draft.userOn ? { name: draft.userName.trim(), ...(draft.noPassword ? { password_hash: null } : draft.passwordHash.trim() ? { password_hash: draft.passwordHash.trim() } : {}) } : null,
    time_zone: draft.timeZone.trim() || null,
    keyboard: draft.keyboardLayout.trim() ? { layout: draft.keyboardLayout.trim(), variant: draft.keyboardVariant.trim() } : null,
    locale: draft.locale.trim() || null,
    files: draft.files,
    commands: lines(draft.commands),
  };
}

/** Problems by field, list entries folded into their input ("ssh.authorized_keys.1" shows under the keys). */
function problemsByField(draft: Draft, view: ProvisioningProfileView | null): Map<string, string> {
  const out = new Map<string, string>();
  const add = (field: string, message: string) => out.set(field, out.has(field) ? `${out.get(field)} ${message}` : message);
  const input = inputOf(draft);
  for (const { field, message } of profileInputProblems(input)) {
    const listItem = /^(ssh\.authorized_keys|commands)\.(\d+)$/.exec(field);
    if (listItem) add(listItem[1]!, message.startsWith('Key') ? message : `Line ${Number(listItem[2]) + 1}: ${message}`);
    else add(field, message);
  }
  if (draft.wifiOn && !draft.passphrase && !view?.wifi?.passphrase_set) add('wifi.passphrase', `A new network needs its passphrase: ${hintOfField('wifi.passphrase')}`);
  return out;
}

function ProfileSummary({ answer }: { answer: ProfileResponse }) {
  const p = answer.profile;
  if (!p || !answer.revision) return null;
  const row = (label: string, value: React.ReactNode, testId: string) => (
    <>
      <dt className="col-5 col-sm-4">{label}</dt>
      <dd className="col-7 col-sm-8 text-break" data-testid={testId}>{value ?? '—'}</dd>
    </>
  );
  return (
    <dl className="row mb-0 small">
      {row('Revision', `${answer.revision.revision} · ${formatDateTime(answer.revision.created_at)} by ${answer.revision.created_by}`, 'profile-show-revision')}
      {row('Wi-Fi', p.wifi ? `${p.wifi.ssid} (${p.wifi.country}${p.wifi.hidden ? ', hidden' : ''}) · passphrase ${p.wifi.passphrase_set ? 'set' : 'not set'}` : null, 'profile-show-wifi')}
      {row('SSH', `${p.ssh.authorized_keys.length} key${p.ssh.authorized_keys.length === 1 ? '' : 's'} · password login ${p.ssh.password_login ? 'on' : 'off'}`, 'profile-show-ssh')}
      {row('User', p.user ? `${p.user.name} · password ${p.user.password_hash_set ? 'set' : 'none (key login only)'}` : null, 'profile-show-user')}
      {row('Time zone', p.time_zone, 'profile-show-time-zone')}
      {row('Keyboard', p.keyboard ? `${p.keyboard.layout}${p.keyboard.variant ? ` (${p.keyboard.variant})` : ''}` : null, 'profile-show-keyboard')}
      {row('Locale', p.locale, 'profile-show-locale')}
      {row('Files', p.files.length ? p.files.map((f) => f.path).join(', ') : null, 'profile-show-files')}
      {row('Commands', p.commands.length || null, 'profile-show-commands')}
    </dl>
  );
}

export function ProvisioningProfileCard({ code, canWrite }: { code: string; canWrite: boolean }) {
  const [product, setProduct] = useState<ProductType | null>(null);
  const [editing, setEditing] = useState(false);
  const profile = useResource((signal) => api.profiles.get(code, product, signal), [code, product]);
  const revisions = useResource((signal) => api.profiles.revisions(code, signal), [code]);
  const history = (revisions.data?.revisions ?? []).filter((r) => r.product_type === product).slice(0, 5);
  // A change by someone else (stored as venue_changed), and devices of this venue receiving a revision.
  const forThisVenue = (_name: string, payload: unknown) => {
    const p = payload as { venue_code?: string; deployment?: { venue_code: string } };
    return (p.venue_code ?? p.deployment?.venue_code) === code;
  };
  useLiveReload(['venue_changed'], profile.reload, { when: forThisVenue });
  useLiveReload(['venue_changed', 'deployment_status'], revisions.reload, { when: forThisVenue, delayMs: 1000 });
  const scope = product ? `${product} override` : 'all products';

  return (
    <div className="card shadow-sm border-0" data-testid="venue-profile">
      <div className="card-header bg-transparent d-flex flex-wrap gap-2 justify-content-between align-items-center">
        <h2 className="h6 mb-0">Provisioning profile</h2>
        <div className="btn-group btn-group-sm" role="group" aria-label="Profile for">
          {[null, ...PRODUCT_TYPES].map((option) => (
            <button key={option ?? 'all'} type="button" className={`btn ${product === option ? 'btn-secondary' : 'btn-outline-secondary'}`} aria-pressed={product === option} onClick={() => setProduct(option)} data-testid={`profile-scope-${option ?? 'all'}`}>
              {option ?? 'All products'}
            </button>
          ))}
        </div>
      </div>
      <div className="card-body">
        <ErrorAlert error={profile.error} onRetry={profile.reload} />
        {profile.data && !profile.data.revision && (
          <p className="small text-body-secondary" data-testid="profile-empty">
            {product ? `No ${product} override: ${product} devices get the venue's profile for all products.` : 'No profile yet: devices boot with the image\'s own settings (the hostname is always set).'}
          </p>
        )}
        {profile.data && <ProfileSummary answer={profile.data} />}
        {history.length > 0 && (
          <div className="mt-3">
            <h3 className="h6 small text-body-secondary text-uppercase mb-1">Revisions given to devices</h3>
            <ul className="list-unstyled small mb-0" data-testid="profile-history">
              {history.map((r) => (
                <li key={r.id} data-testid={`profile-history-${r.revision}`}>
                  Revision {r.revision}: {r.deployments} deployment{r.deployments === 1 ? '' : 's'} · {formatDateTime(r.created_at)} by {r.created_by}
                </li>
              ))}
            </ul>
          </div>
        )}
        {canWrite && profile.data && (
          <button type="button" className="btn btn-outline-primary btn-sm mt-3" onClick={() => setEditing(true)} data-testid="profile-edit">
            {profile.data.revision ? `Edit profile (${scope})` : `Create profile (${scope})`}
          </button>
        )}
      </div>
      {editing && profile.data && (
        <ProfileFormModal code={code} product={product} current={profile.data} onClose={() => setEditing(false)} onSaved={() => { setEditing(false); profile.reload(); revisions.reload(); }} />
      )}
    </div>
  );
}

function ProfileFormModal({ code, product, current, onClose, onSaved }: { code: string; product: ProductType | null; current: ProfileResponse; onClose: () => void; onSaved: () => void }) {
  const toast = useToast();
  const view = current.profile;
  const [draft, setDraft] = useState<Draft>(() => draftOf(view));
  const [touched, setTouched] = useState<Set<string>>(new Set());
  const [submitted, setSubmitted] = useState(false);
  const [busy, setBusy] = useState(false);
  const [serverError, setServerError] = useState<string | null>(null);
  const problems = useMemo(() => problemsByField(draft, view), [draft, view]);

  const update = (field: string, change: Partial<Draft>) => {
    setDraft((d) => ({ ...d, ...change }));
    setTouched((t) => new Set(t).add(field));
  };
  /** A field's problem, once it was touched or the form submitted. */
  const shown = (field: string) => (submitted || touched.has(field) ? problems.get(field) : undefined);
  const setFile = (index: number, change: Partial<FileDraft>) => {
    setDraft((d) => ({ ...d, files: d.files.map((f, i) => (i === index ? { ...f, ...change } : f)) }));
    setTouched((t) => new Set(t).add(`files.${index}`));
  };
  const fileProblem = (index: number, part: keyof FileDraft) => (submitted || touched.has(`files.${index}`) ? problems.get(`files.${index}.${part}`) : undefined);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSubmitted(true);
    if (problems.size > 0) return;
    setBusy(true);
    setServerError(null);
    try {
      const saved = await api.profiles.set(code, product, inputOf(draft));
      toast.success(`Profile revision ${saved.revision?.revision} stored for ${code}${product ? ` ${product}` : ''}.`);
      onSaved();
    } catch (error) {
      setServerError(describeError(error));
    } finally {
      setBusy(false);
    }
  };

  const secretPlaceholder = (isSet: boolean, otherwise: string) => (isSet ? 'set — type to replace' : otherwise);
  const variables = PROFILE_VARIABLES.map((v) => `{${v}}`).join(' ');

  return (
    <Modal
      title={`Provisioning profile · ${code}${product ? ` · ${product}` : ''}`}
      onClose={onClose}
      size="lg"
      testId="profile-form"
      footer={
        <>
          <button type="button" className="btn btn-outline-secondary" onClick={onClose}>Cancel</button>
          <button type="submit" form="profile-form" className="btn btn-primary" disabled={busy || (submitted && problems.size > 0)} data-testid="profile-save">
            <Busy busy={busy}>Save as new revision</Busy>
          </button>
        </>
      }
    >
      <form id="profile-form" onSubmit={(event) => void submit(event)} noValidate autoComplete="off">
        {serverError && <div className="alert alert-danger" role="alert" data-testid="profile-form-error">{serverError}</div>}
        <p className="small text-body-secondary">
          Devices already written keep the revision they got; the next ones get this one. File paths, owners, contents and commands may use {variables}, filled in per device.
        </p>

        <fieldset className="mb-3">
          <legend className="h6">Wi-Fi</legend>
          <div className="form-check form-switch mb-2">
            <input id="profile-wifi-on" className="form-check-input" type="checkbox" checked={draft.wifiOn} onChange={(e) => update('wifi', { wifiOn: e.target.checked })} data-testid="profile-wifi-on" />
            <label htmlFor="profile-wifi-on" className="form-check-label">Join a Wi-Fi network</label>
          </div>
          {draft.wifiOn && (
            <div className="row g-2">
              <Field label="Network name (SSID)" error={shown('wifi.ssid')} className="col-md-5" testId="profile-ssid">
                {({ id, describedBy, className }) => <input id={id} aria-describedby={describedBy} className={className()} value={draft.ssid} maxLength={PROFILE_LIMITS.ssidBytes} onChange={(e) => update('wifi.ssid', { ssid: e.target.value })} data-testid="profile-ssid" />}
              </Field>
              <Field label="Passphrase" error={shown('wifi.passphrase')} className="col-md-5" help={hintOfField('wifi.passphrase')} testId="profile-passphrase">
                {({ id, describedBy, className }) => (
                  <input id={id} type="password" aria-describedby={describedBy} className={className()} value={draft.passphrase} maxLength={PROFILE_LIMITS.passphraseMax} placeholder={secretPlaceholder(Boolean(view?.wifi?.passphrase_set), 'required')} autoComplete="new-password" onChange={(e) => update('wifi.passphrase', { passphrase: e.target.value })} data-testid="profile-passphrase" />
                )}
              </Field>
              <Field label="Country" error={shown('wifi.country')} className="col-md-2" testId="profile-country">
                {({ id, describedBy, className }) => <input id={id} aria-describedby={describedBy} className={`${className()} text-uppercase`} value={draft.country} maxLength={2} placeholder="DE" onChange={(e) => update('wifi.country', { country: e.target.value.toUpperCase() })} data-testid="profile-country" />}
              </Field>
              <div className="form-check ms-1">
                <input id="profile-hidden" className="form-check-input" type="checkbox" checked={draft.hidden} onChange={(e) => update('wifi', { hidden: e.target.checked })} />
                <label htmlFor="profile-hidden" className="form-check-label small">Hidden network</label>
              </div>
            </div>
          )}
        </fieldset>

        <fieldset className="mb-3">
          <legend className="h6">SSH</legend>
          <Field label="Authorized public keys" error={shown('ssh.authorized_keys')} help={`One per line, at most ${PROFILE_LIMITS.keys}; they go to the user below, or to root without one.`} testId="profile-keys">
            {({ id, describedBy, className }) => <textarea id={id} aria-describedby={describedBy} className={`${className()} font-monospace small`} rows={3} value={draft.keys} onChange={(e) => update('ssh.authorized_keys', { keys: e.target.value })} placeholder="ssh-ed25519 AAAA… technician@laptop" data-testid="profile-keys" />}
          </Field>
          <div className="form-check form-switch">
            <input id="profile-password-login" className="form-check-input" type="checkbox" checked={draft.passwordLogin} onChange={(e) => update('ssh', { passwordLogin: e.target.checked })} data-testid="profile-password-login" />
            <label htmlFor="profile-password-login" className="form-check-label">Allow SSH password login</label>
          </div>
        </fieldset>

        <fieldset className="mb-3">
          <legend className="h6">User</legend>
          <div className="form-check form-switch mb-2">
            <input id="profile-user-on" className="form-check-input" type="checkbox" checked={draft.userOn} onChange={(e) => update('user', { userOn: e.target.checked })} data-testid="profile-user-on" />
            <label htmlFor="profile-user-on" className="form-check-label">Create a user</label>
          </div>
          {draft.userOn && (
            <div className="row g-2">
              <Field label="Name" error={shown('user.name')} className="col-md-4" testId="profile-user-name">
                {({ id, describedBy, className }) => <input id={id} aria-describedby={describedBy} className={`${className()} font-monospace`} value={draft.userName} maxLength={32} onChange={(e) => update('user.name', { userName: e.target.value })} data-testid="profile-user-name" />}
              </Field>
              <Field label="Password hash" error={shown('user.password_hash')} className="col-md-8" help={hintOfField('user.password_hash')} testId="profile-password-hash">
                {({ id, describedBy, className }) => (
                  <input id={id} type="password" aria-describedby={describedBy} className={`${className()} font-monospace`} value={draft.passwordHash} disabled={draft.noPassword} placeholder={secretPlaceholder(Boolean(view?.user?.password_hash_set), '$6$… or $y$…')} autoComplete="new-password" onChange={(e) => update('user.password_hash', { passwordHash: e.target.value })} data-testid="profile-password-hash" />
                )}
              </Field>
              <div className="form-check ms-1">
                <input id="profile-no-password" className="form-check-input" type="checkbox" checked={draft.noPassword} onChange={(e) => update('user.password_hash', { noPassword: e.target.checked, passwordHash: '' })} data-testid="profile-no-password" />
                <label htmlFor="profile-no-password" className="form-check-label small">No password (key login only)</label>
              </div>
            </div>
          )}
        </fieldset>

        <fieldset className="mb-3">
          <legend className="h6">Regional settings <span className="small text-body-secondary fw-normal">(empty: the image's own)</span></legend>
          <div className="row g-2">
            <Field label="Time zone" error={shown('time_zone')} className="col-md-4" testId="profile-time-zone">
              {({ id, describedBy, className }) => <input id={id} aria-describedby={describedBy} className={className()} value={draft.timeZone} placeholder="Europe/Berlin" onChange={(e) => update('time_zone', { timeZone: e.target.value })} data-testid="profile-time-zone" />}
            </Field>
            <Field label="Keyboard layout" error={shown('keyboard.layout')} className="col-md-2" testId="profile-keyboard">
              {({ id, describedBy, className }) => <input id={id} aria-describedby={describedBy} className={className()} value={draft.keyboardLayout} placeholder="us" onChange={(e) => update('keyboard.layout', { keyboardLayout: e.target.value })} data-testid="profile-keyboard" />}
            </Field>
            <Field label="Variant" error={shown('keyboard.variant')} className="col-md-2">
              {({ id, describedBy, className }) => <input id={id} aria-describedby={describedBy} className={className()} value={draft.keyboardVariant} onChange={(e) => update('keyboard.variant', { keyboardVariant: e.target.value })} />}
            </Field>
            <Field label="Locale" error={shown('locale')} className="col-md-4" testId="profile-locale">
              {({ id, describedBy, className }) => <input id={id} aria-describedby={describedBy} className={className()} value={draft.locale} placeholder="en_GB.UTF-8" onChange={(e) => update('locale', { locale: e.target.value })} data-testid="profile-locale" />}
            </Field>
          </div>
        </fieldset>

        <fieldset className="mb-3">
          <legend className="h6">Files</legend>
          {draft.files.map((file, index) => (
            <div key={index} className="border rounded p-2 mb-2" data-testid={`profile-file-${index}`}>
              <div className="row g-2">
                <Field label="Path" error={fileProblem(index, 'path')} className="col-md-6" testId={`profile-file-${index}-path`}>
                  {({ id, describedBy, className }) => <input id={id} aria-describedby={describedBy} className={`${className()} font-monospace`} value={file.path} placeholder="/etc/kart/identity.conf" onChange={(e) => setFile(index, { path: e.target.value })} data-testid={`profile-file-${index}-path`} />}
                </Field>
                <Field label="Mode" error={fileProblem(index, 'mode')} className="col-md-2" testId={`profile-file-${index}-mode`}>
                  {({ id, describedBy, className }) => <input id={id} aria-describedby={describedBy} className={`${className()} font-monospace`} value={file.mode} onChange={(e) => setFile(index, { mode: e.target.value })} data-testid={`profile-file-${index}-mode`} />}
                </Field>
                <Field label="Owner" error={fileProblem(index, 'owner')} className="col-md-3" testId={`profile-file-${index}-owner`}>
                  {({ id, describedBy, className }) => <input id={id} aria-describedby={describedBy} className={`${className()} font-monospace`} value={file.owner} onChange={(e) => setFile(index, { owner: e.target.value })} data-testid={`profile-file-${index}-owner`} />}
                </Field>
                <div className="col-md-1 d-flex align-items-end mb-3">
                  <button type="button" className="btn btn-outline-danger btn-sm" aria-label={`Remove file ${index + 1}`} onClick={() => update('files', { files: draft.files.filter((_, i) => i !== index) })}>×</button>
                </div>
              </div>
              <Field label="Content" error={fileProblem(index, 'content')} className="mb-0" testId={`profile-file-${index}-content`}>
                {({ id, describedBy, className }) => <textarea id={id} aria-describedby={describedBy} className={`${className()} font-monospace small`} rows={3} maxLength={PROFILE_LIMITS.fileContent} value={file.content} onChange={(e) => setFile(index, { content: e.target.value })} data-testid={`profile-file-${index}-content`} />}
              </Field>
            </div>
          ))}
          {shown('files') && <div className="invalid-feedback d-block">{problems.get('files')}</div>}
          <button type="button" className="btn btn-outline-secondary btn-sm" disabled={draft.files.length >= PROFILE_LIMITS.files} onClick={() => update('files', { files: [...draft.files, { path: '', mode: '0644', owner: 'root', content: '' }] })} data-testid="profile-add-file">
            Add a file
          </button>
        </fieldset>

        <Field label="First-boot commands" error={shown('commands')} help={`One per line, run once as root after everything else, at most ${PROFILE_LIMITS.commands}. Variables: ${variables}.`} testId="profile-commands">
          {({ id, describedBy, className }) => <textarea id={id} aria-describedby={describedBy} className={`${className()} font-monospace small`} rows={3} value={draft.commands} onChange={(e) => update('commands', { commands: e.target.value })} data-testid="profile-commands" />}
        </Field>
      </form>
    </Modal>
  );
}
