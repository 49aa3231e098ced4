// Who may sign in and with which role.
import { useState } from 'react';
import type { Role, User } from '../../../../src/contracts/domain.js';
import { ROLES } from '../../../../src/contracts/domain.js';
import { formatDateTime } from '../../../../src/contracts/format.js';
import { api } from '../../api/api.client.js';
import { useResource } from '../../api/use-resource.js';
import { useAuth } from '../../auth/auth.context.js';
import { useConfirm } from '../modal.js';
import { useToast } from '../toast.provider.js';
import { ErrorAlert, Loading } from '../ui.js';
import { PasswordModal, UserCreateModal } from './user-dialogs.js';

export function UsersTab() {
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
