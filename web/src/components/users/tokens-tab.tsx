// API tokens for scripts and scrapers: created with their secret shown once, revoked at any time.
import { useState, type FormEvent } from 'react';
import { FIELD_LIMITS } from '../../../../src/contracts/limits.js';
import { formatAgo, formatDateTime } from '../../../../src/contracts/format.js';
import { api, describeError } from '../../api/api.client.js';
import { useResource } from '../../api/use-resource.js';
import { useConfirm } from '../modal.js';
import { useToast } from '../toast.provider.js';
import { Busy, EmptyState, ErrorAlert, Loading } from '../ui.js';

export function TokensTab() {
  const toast = useToast();
  const confirm = useConfirm();
  const tokens = useResource((signal) => api.tokens.list(signal), []);
  const users = useResource((signal) => api.users.list(signal), []);
  const [name, setName] = useState('');
  const [owner, setOwner] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const nameError = name.length > FIELD_LIMITS.tokenName.max ? `At most ${FIELD_LIMITS.tokenName.max} characters.` : null;

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
