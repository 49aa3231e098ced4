// Administration: who may sign in and with which role, API tokens for scripts, and the audit log of changes.
import { useCallback, useState, type FormEvent } from 'react';
import type { Role, User } from '../../../src/contracts/domain.js';
import { ROLES } from '../../../src/contracts/domain.js';
import { USERNAME_PATTERN } from '../../../src/contracts/api.js';
import { api, describeError } from '../api/api.client.js';
import { useResource } from '../api/use-resource.js';
import { useAuth } from '../auth/auth.context.js';
import { Field, useForm, type Errors } from '../components/form.js';
import { formatAgo, formatDateTime } from '../components/format.js';
import { Modal, useConfirm } from '../components/modal.js';
import { useToast } from '../components/toast.provider.js';
import { Busy, EmptyState, ErrorAlert, Loading, PageHeader, Pagination } from '../components/ui.js';

const USERNAME = new RegExp(USERNAME_PATTERN);
const ROLE_HELP: Record<Role, string> = {
  admin: 'everything, including users and tokens',
  operator: 'venues, pools, batches, images',
  viewer: 'read only',
};

type NewUser = { username: string; password: string; confirm: string; role: Role };
const validateUser = (v: NewUser): Errors<NewUser> => ({
  username: !v.username ? 'Choose a username.' : !USERNAME.test(v.username) ? 'Letters, digits, dot, dash and underscore; up to 64.' : undefined,
  password: v.password.length < 8 ? 'At least 8 characters.' : undefined,
  confirm: v.confirm !== v.password ? 'The two passwords differ.' : undefined,
});

function UserCreateModal({ onClose, onCreated }: { onClose: () => void; onCreated: () => void }) {
  const toast = useToast();
  const form = useForm<NewUser>({ username: '', password: '', confirm: '', role: 'operator' }, useCallback(validateUser, []));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    form.markSubmitted();
    if (!form.isValid) return;
    setBusy(true);
    setError(null);
    try {
      await api.users.create({ username: form.values.username, password: form.values.password, role: form.values.role });
      toast.success(`User ${form.values.username} created.`);
      onCreated();
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy(false);
    }
  };
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

function PasswordModal({ user, onClose }: { user: User; onClose: () => void }) {
  const toast = useToast();
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const invalid = password.length > 0 && password.length < 8;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (password.length < 8) { setError('At least 8 characters.'); return; }
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
        <div className={invalid ? 'invalid-feedback d-block' : 'form-text'}>At least 8 characters.</div>
      </form>
    </Modal>
  );
}

function UsersTab() {
  const { user: me } = useAuth();
  const toast = useToast();
  const confirm = useConfirm();
  const users = useResource((signal) => api.users.list(signal), []);
  const [creating, setCreating] = useState(false);
  const [passwordFor, setPasswordFor] = useState<User | null>(null);

  const changeRole = async (user: User, role: Role) => {
    try {
      await api.users.update(user.id, { role });
      toast.success(`${user.username} is now ${role === 'admin' ? 'an' : 'a'} ${role}.`);
    } catch (error) {
      toast.error(error, 'Role not changed');
    } finally {
      users.reload();
    }
  };
  const remove = async (user: User) => {
    if (!(await confirm({ title: `Delete user ${user.username}?`, body: 'Their sessions and API tokens stop working at once.', confirmLabel: 'Delete user' }))) return;
    try {
      await api.users.remove(user.id);
      toast.success(`User ${user.username} deleted.`);
      users.reload();
    } catch (error) {
      toast.error(error, 'User not deleted');
    }
  };

  return (
    <>
      <div className="d-flex justify-content-end mb-2"><button type="button" className="btn btn-primary" onClick={() => setCreating(true)} data-testid="user-create">New user</button></div>
      <ErrorAlert error={users.error} onRetry={users.reload} />
      {users.loading ? <Loading /> : (
        <div className="card shadow-sm border-0"><div className="table-responsive">
          <table className="table align-middle mb-0" data-testid="users-table">
            <thead><tr><th scope="col">Username</th><th scope="col">Role</th><th scope="col" className="d-none d-md-table-cell">Created</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {users.data?.users.map((u) => (
                <tr key={u.id} data-testid={`user-row-${u.username}`}>
                  <td className="fw-semibold">{u.username}{u.id === me?.id && <span className="badge text-bg-light ms-2">you</span>}</td>
                  <td>
                    <label className="visually-hidden" htmlFor={`role-${u.id}`}>Role of {u.username}</label>
                    <select id={`role-${u.id}`} className="form-select form-select-sm w-auto" value={u.role} disabled={u.id === me?.id} onChange={(e) => void changeRole(u, e.target.value as Role)} data-testid={`user-role-${u.username}`}>
                      {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
                    </select>
                  </td>
                  <td className="d-none d-md-table-cell small">{formatDateTime(u.created_at)}</td>
                  <td className="text-end text-nowrap">
                    <button type="button" className="btn btn-sm btn-outline-secondary me-1" onClick={() => setPasswordFor(u)}>Password</button>
                    {u.id !== me?.id && <button type="button" className="btn btn-sm btn-outline-danger" onClick={() => void remove(u)} data-testid={`user-delete-${u.username}`}>Delete</button>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div></div>
      )}
      {creating && <UserCreateModal onClose={() => setCreating(false)} onCreated={() => { setCreating(false); users.reload(); }} />}
      {passwordFor && <PasswordModal user={passwordFor} onClose={() => setPasswordFor(null)} />}
    </>
  );
}

function TokensTab() {
  const toast = useToast();
  const confirm = useConfirm();
  const tokens = useResource((signal) => api.tokens.list(signal), []);
  const users = useResource((signal) => api.users.list(signal), []);
  const [name, setName] = useState('');
  const [owner, setOwner] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const nameError = name.length > 100 ? 'At most 100 characters.' : null;

  const create = async (event: FormEvent) => {
    event.preventDefault();
    if (!name.trim()) { setError('Name the token after the script or machine that will use it.'); return; }
    setBusy(true);
    setError(null);
    try {
      const created = await api.tokens.create({ name: name.trim(), ...(owner ? { username: owner } : {}) });
      setSecret({ name: created.token.name, secret: created.secret });
      setName('');
      tokens.reload();
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (id: number, tokenName: string) => {
    if (!(await confirm({ title: `Revoke token “${tokenName}”?`, body: 'Scripts using it are refused from now on.', confirmLabel: 'Revoke' }))) return;
    try {
      await api.tokens.revoke(id);
      toast.success(`Token “${tokenName}” revoked.`);
      tokens.reload();
    } catch (caught) {
      toast.error(caught, 'Token not revoked');
    }
  };

  return (
    <>
      <form className="card shadow-sm border-0 mb-3" onSubmit={(event) => void create(event)} noValidate>
        <div className="card-body">
          <div className="row g-2 align-items-end">
            <div className="col-12 col-md-5">
              <label htmlFor="token-name" className="form-label small mb-1">Token name</label>
              <input id="token-name" className={`form-control${nameError ? ' is-invalid' : ''}`} placeholder="e.g. provisioning script" value={name} onChange={(e) => { setName(e.target.value); setError(null); }} data-testid="token-name" />
            </div>
            <div className="col-8 col-md-4">
              <label htmlFor="token-owner" className="form-label small mb-1">Acts as</label>
              <select id="token-owner" className="form-select" value={owner} onChange={(e) => setOwner(e.target.value)}>
                <option value="">me</option>
                {users.data?.users.map((u) => <option key={u.id} value={u.username}>{u.username} ({u.role})</option>)}
              </select>
            </div>
            <div className="col-4 col-md-3"><button type="submit" className="btn btn-primary w-100" disabled={busy || Boolean(nameError)} data-testid="token-create"><Busy busy={busy}>Create token</Busy></button></div>
          </div>
          {(error || nameError) && <div className="text-danger small mt-1" role="alert">{error ?? nameError}</div>}
        </div>
      </form>
      {secret && (
        <div className="alert alert-warning" role="status" data-testid="token-secret-box">
          <div className="fw-semibold">Copy the token “{secret.name}” now — it is shown only once.</div>
          <code className="d-block text-break my-2 fs-6" data-testid="token-secret">{secret.secret}</code>
          <div className="d-flex gap-2">
            <button type="button" className="btn btn-sm btn-outline-dark" onClick={() => void navigator.clipboard?.writeText(secret.secret).then(() => toast.success('Token copied.'))}>Copy</button>
            <button type="button" className="btn btn-sm btn-link" onClick={() => setSecret(null)}>I have stored it</button>
          </div>
          <div className="small mt-2">Use it as <code>Authorization: Bearer …</code>.</div>
        </div>
      )}
      <ErrorAlert error={tokens.error} onRetry={tokens.reload} />
      {tokens.loading ? <Loading /> : (tokens.data?.tokens.length ?? 0) === 0 ? (
        <EmptyState title="No API tokens">Scripts and the command line on other machines authenticate with a token. Create one above.</EmptyState>
      ) : (
        <div className="card shadow-sm border-0"><div className="table-responsive">
          <table className="table align-middle mb-0" data-testid="tokens-table">
            <thead><tr><th scope="col">Name</th><th scope="col">Acts as</th><th scope="col">Starts with</th><th scope="col" className="d-none d-md-table-cell">Created</th><th scope="col">Last used</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {tokens.data?.tokens.map((t) => (
                <tr key={t.id} data-testid={`token-row-${t.id}`}>
                  <td>{t.name}</td><td>{t.username}</td><td><code>{t.prefix}…</code></td>
                  <td className="d-none d-md-table-cell small">{formatDateTime(t.created_at)}</td>
                  <td className="small">{t.last_used_at ? formatAgo(t.last_used_at) : 'never'}</td>
                  <td className="text-end"><button type="button" className="btn btn-sm btn-outline-danger" onClick={() => void revoke(t.id, t.name)} data-testid={`token-revoke-${t.id}`}>Revoke</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div></div>
      )}
    </>
  );
}

function AuditTab() {
  const [page, setPage] = useState(1);
  const [limit, setLimit] = useState(50);
  const audit = useResource((signal) => api.audit({ page, limit }, signal), [page, limit]);
  return (
    <>
      <ErrorAlert error={audit.error} onRetry={audit.reload} />
      {audit.loading ? <Loading /> : (audit.data?.items.length ?? 0) === 0 ? <EmptyState title="Nothing recorded yet">Every change, from the dashboard, the API or the pitcrew command, is written here with who made it.</EmptyState> : (
        <div className="card shadow-sm border-0">
          <div className="table-responsive">
            <table className="table table-sm align-middle mb-0" data-testid="audit-table">
              <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Target</th><th scope="col" className="d-none d-lg-table-cell">Details</th></tr></thead>
              <tbody>
                {audit.data?.items.map((a) => (
                  <tr key={a.id}>
                    <td className="small text-nowrap">{formatDateTime(a.at)}</td>
                    <td>{a.actor}</td>
                    <td><code>{a.action}</code></td>
                    <td className="small">{a.target ?? '—'}</td>
                    <td className="d-none d-lg-table-cell small text-break text-body-secondary" style={{ maxWidth: 420 }}>{a.details && a.details !== '{}' ? a.details : ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="card-body pt-0">{audit.data && <Pagination page={page} limit={limit} total={audit.data.total} onPage={setPage} onLimit={(l) => { setLimit(l); setPage(1); }} testId="audit-pagination" />}</div>
        </div>
      )}
    </>
  );
}

const TABS = [
  { id: 'users', label: 'Users' },
  { id: 'tokens', label: 'API tokens' },
  { id: 'audit', label: 'Audit log' },
] as const;

export function UsersPage() {
  const [tab, setTab] = useState<(typeof TABS)[number]['id']>('users');
  return (
    <>
      <PageHeader title="Users & access" subtitle="Accounts, API tokens for scripts, and who changed what" />
      <ul className="nav nav-tabs mb-3" role="tablist">
        {TABS.map((t) => (
          <li className="nav-item" role="presentation" key={t.id}>
            <button type="button" role="tab" aria-selected={tab === t.id} className={`nav-link${tab === t.id ? ' active' : ''}`} onClick={() => setTab(t.id)} data-testid={`tab-${t.id}`}>{t.label}</button>
          </li>
        ))}
      </ul>
      <div role="tabpanel">
        {tab === 'users' && <UsersTab />}
        {tab === 'tokens' && <TokensTab />}
        {tab === 'audit' && <AuditTab />}
      </div>
    </>
  );
}
