// Creating a user and setting a user's password: the users tab's two dialogs.
import { useCallback, useState, type FormEvent } from 'react';
import type { Role, User } from '../../../../src/contracts/domain.js';
import { ROLES } from '../../../../src/contracts/domain.js';
import { USERNAME_PATTERN } from '../../../../src/contracts/api.js';
import { FIELD_LIMITS } from '../../../../src/contracts/limits.js';
import { api, describeError } from '../../api/api.client.js';
import { Field, useForm, useFormSubmit, type Errors } from '../form.js';
import { Modal } from '../modal.js';
import { useToast } from '../toast.provider.js';
import { Busy } from '../ui.js';

const USERNAME = new RegExp(USERNAME_PATTERN);
const ROLE_HELP: Record<Role, string> = {
  admin: 'everything, including users and tokens',
  operator: 'venues, pools, batches, images',
  viewer: 'read only',
};

type NewUser = { username: string; password: string; confirm: string; role: Role };
const validateUser = (v: NewUser): Errors<NewUser> => ({
  username: !v.username ? 'Choose a username.' : !USERNAME.test(v.username) ? 'Letters, digits, dot, dash and underscore; up to 64.' : undefined,
  password: v.password.length < FIELD_LIMITS.password.min ? `At least ${FIELD_LIMITS.password.min} characters.` : v.password.length > FIELD_LIMITS.password.max ? `At most ${FIELD_LIMITS.password.max} characters.` : undefined,
  confirm: v.confirm !== v.password ? 'The two passwords differ.' : undefined,
});

export function UserCreateModal({ onClose, onCreated }: { onClose: () => void; onCreated: () => void }) {
  const toast = useToast();
  const form = useForm<NewUser>({ username: '', password: '', confirm: '', role: 'operator' }, useCallback(validateUser, []));
  const { busy, error, submit } = useFormSubmit(form, async () => {
    await api.users.create({ username: form.values.username, password: form.values.password, role: form.values.role });
    toast.success(`User ${form.values.username} created.`);
    onCreated();
  });
  return (
    <Modal title="New user" onClose={onClose} testId="user-form" footer={<><button type="button" className="btn btn-outline-secondary" onClick={onClose}>Cancel</button><button type="submit" form="user-form" className="btn btn-primary" disabled={busy} data-testid="user-save"><Busy busy={busy}>Create user</Busy></button></>}>
      <form id="user-form" onSubmit={(event) => void submit(event)} noValidate>
        {error && <div className="alert alert-danger" role="alert" data-testid="user-form-error">{error}</div>}
        <Field label="Username" error={form.shown('username')}>
          {({ id, describedBy, className }) => <input id={id} aria-describedby={describedBy} className={className()} value={form.values.username} onChange={(e) => form.set('username', e.target.value)} autoComplete="off" data-autofocus data-testid="user-username" />}
        </Field>
        <Field label="Password" error={form.shown('password')}>
          {({ id, describedBy, className }) => <input id={id} type="password" aria-describedby={describedBy} className={className()} value={form.values.password} onChange={(e) => form.set('password', e.target.value)} autoComplete="new-password" data-testid="user-password" />}
        </Field>
        <Field label="Repeat password" error={form.shown('confirm')}>
          {({ id, describedBy, className }) => <input id={id} type="password" aria-describedby={describedBy} className={className()} value={form.values.confirm} onChange={(e) => form.set('confirm', e.target.value)} autoComplete="new-password" data-testid="user-confirm" />}
        </Field>
        <Field label="Role" className="mb-0" help={ROLE_HELP[form.values.role]}>
          {({ id, describedBy, className }) => (
            <select id={id} aria-describedby={describedBy} className={className('form-select')} value={form.values.role} onChange={(e) => form.set('role', e.target.value as Role)} data-testid="user-role">
              {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
            </select>
          )}
        </Field>
      </form>
    </Modal>
  );
}

export function PasswordModal({ user, onClose }: { user: User; onClose: () => void }) {
  const toast = useToast();
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const invalid = password.length > 0 && password.length < FIELD_LIMITS.password.min;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (password.length < FIELD_LIMITS.password.min) { setError(`At least ${FIELD_LIMITS.password.min} characters.`); return; }
    setBusy(true);
    try {
      await api.users.update(user.id, { password });
      toast.success(`Password of ${user.username} changed.`);
      onClose();
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title={`New password for ${user.username}`} size="sm" onClose={onClose} footer={<><button type="button" className="btn btn-outline-secondary" onClick={onClose}>Cancel</button><button type="submit" form="pw-form" className="btn btn-primary" disabled={busy}><Busy busy={busy}>Set password</Busy></button></>}>
      <form id="pw-form" onSubmit={(event) => void submit(event)} noValidate>
        {error && <div className="alert alert-danger py-2" role="alert">{error}</div>}
        <label htmlFor="new-password" className="form-label">Password</label>
        <input id="new-password" type="password" className={`form-control${invalid ? ' is-invalid' : ''}`} value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" autoFocus />
        <div className={invalid ? 'invalid-feedback d-block' : 'form-text'}>At least {FIELD_LIMITS.password.min} characters.</div>
      </form>
    </Modal>
  );
}
