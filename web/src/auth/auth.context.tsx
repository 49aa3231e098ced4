// Who is signed in, and what they may do. The server enforces every permission; the UI only hides what a role
// cannot use so a viewer never meets a button that would fail.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { User } from '../../../src/contracts/domain.js';
import { api, ApiError, onUnauthenticated } from '../api/api.client.js';
import { connectLive, disconnectLive } from '../live/live.socket.js';

type SessionUser = Pick<User, 'id' | 'username' | 'role'>;

export type AuthState =
  | { status: 'checking' }
  | { status: 'signed-out'; reason?: string }
  | { status: 'signed-in'; user: SessionUser }
  | { status: 'unreachable'; message: string };

export interface Permissions {
  /** Operators and admins change venues, pools, batches and images. */
  canWrite: boolean;
  /** Admins also manage users, API tokens and read the audit log. */
  isAdmin: boolean;
}

interface AuthContextValue {
  state: AuthState;
  user: SessionUser | null;
  can: Permissions;
  signIn: (username: string, password: string) => Promise<void>;
  signOut: () => Promise<void>;
  recheck: () => void;
}

const AuthContext = createContext<AuthContextValue | null>(null);

const isStillSignedIn = async (): Promise<boolean> => {
  try {
    await api.auth.me();
    return true;
  } catch (error) {
    return !(error instanceof ApiError && error.status === 401);
  }
};

export function AuthProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<AuthState>({ status: 'checking' });

  const check = useCallback(async () => {
    try {
      const { user } = await api.auth.me();
      setState({ status: 'signed-in', user });
    } catch (error) {
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) setState({ status: 'signed-out' });
      else setState({ status: 'unreachable', message: error instanceof Error ? error.message : String(error) });
    }
  }, []);

  useEffect(() => {
    void check();
  }, [check]);

  // Keep trying while the server is away (restart, upgrade) so the page comes back by itself.
  useEffect(() => {
    if (state.status !== 'unreachable') return;
    const timer = setTimeout(() => void check(), 3000);
    return () => clearTimeout(timer);
  }, [state, check]);

  useEffect(
    () => onUnauthenticated(() => setState({ status: 'signed-out', reason: 'Your session has ended. Please sign in again.' })),
    [],
  );

  const signedIn = state.status === 'signed-in';
  useEffect(() => {
    if (!signedIn) return;
    connectLive({
      checkSession: async () => {
        const stillSignedIn = await isStillSignedIn();
        // The server refused the live connection because the session ended: say so instead of going quiet.
        if (!stillSignedIn) setState({ status: 'signed-out', reason: 'Your session has ended. Please sign in again.' });
        return stillSignedIn;
      },
    });
    return () => disconnectLive();
  }, [signedIn]);

  const signIn = useCallback(async (username: string, password: string) => {
    await api.auth.login({ username, password });
    const { user } = await api.auth.me();
    setState({ status: 'signed-in', user });
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api.auth.logout();
    } finally {
      setState({ status: 'signed-out' });
    }
  }, []);

  const value = useMemo<AuthContextValue>(() => {
    const user = state.status === 'signed-in' ? state.user : null;
    return {
      state,
      user,
      can: { canWrite: user?.role === 'admin' || user?.role === 'operator', isAdmin: user?.role === 'admin' },
      signIn,
      signOut,
      recheck: () => void check(),
    };
  }, [state, signIn, signOut, check]);

  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthContextValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error('useAuth outside AuthProvider');
  return value;
}

export const usePermissions = (): Permissions => useAuth().can;
