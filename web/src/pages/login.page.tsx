// Sign-in. The server's answer is shown as it is ("Invalid username or password", "Too many attempts…").
import { useState, type FormEvent } from 'react';
import { useAuth } from '../auth/auth.context.js';
import { describeError } from '../api/api.client.js';
import { Busy } from '../components/ui.js';

export function LoginPage() {
  const { signIn, state } = useAuth();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const reason = state.status === 'signed-out' ? state.reason : undefined;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!username.trim() || !password) {
      setError('Enter your username and password.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await signIn(username.trim(), password);
    } catch (caught) {
      setError(describeError(caught));
      setBusy(false);
    }
  };

  return (
    <main className="pc-login d-flex align-items-center justify-content-center min-vh-100 p-3">
      <div className="card shadow border-0" style={{ width: '100%', maxWidth: 400 }}>
        <div className="card-body p-4">
          <div className="d-flex align-items-center gap-2 mb-1">
            <img src="/favicon.svg" alt="" width={32} height={32} />
            <h1 className="h4 mb-0">Pitcrew</h1>
          </div>
          <p className="text-body-secondary small mb-4">Raspberry Pi mass deployment — sign in to manage venues, batches and images.</p>
          {reason && !error && <div className="alert alert-info py-2 small" role="status">{reason}</div>}
          <form onSubmit={(event) => void submit(event)} noValidate data-testid="login-form">
            <div className="mb-3">
              <label htmlFor="login-username" className="form-label">Username</label>
              <input
                id="login-username"
                className="form-control"
                autoComplete="username"
                autoFocus
                value={username}
                onChange={(e) => setUsername(e.target.value)}
                data-testid="login-username"
                required
              />
            </div>
            <div className="mb-3">
              <label htmlFor="login-password" className="form-label">Password</label>
              <input
                id="login-password"
                type="password"
                className="form-control"
                autoComplete="current-password"
                value={password}
                onChange={(e) => setPassword(e.target.value)}
                data-testid="login-password"
                required
              />
            </div>
            {error && <div className="alert alert-danger py-2" role="alert" data-testid="login-error">{error}</div>}
            <button type="submit" className="btn btn-primary w-100" disabled={busy} data-testid="login-submit">
              <Busy busy={busy}>Sign in</Busy>
            </button>
          </form>
        </div>
      </div>
    </main>
  );
}
