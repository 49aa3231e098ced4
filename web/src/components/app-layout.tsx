// The frame around every signed-in page: the navigation bar, the live-connection light and the account menu.
import { useEffect, useRef, useState } from 'react';
import { NavLink, Outlet, useLocation } from 'react-router-dom';
import { useAuth } from '../auth/auth.context.js';
import { useLiveState } from '../live/live.hooks.js';
import { useToast } from './toast.provider.js';

const LINKS = [
  { to: '/', label: 'Dashboard', end: true },
  { to: '/venues', label: 'Venues' },
  { to: '/kart-numbers', label: 'Kart numbers' },
  { to: '/batches', label: 'Batches' },
  { to: '/images', label: 'Images' },
  { to: '/deployments', label: 'Deployments' },
  { to: '/reports', label: 'Reports' },
  { to: '/system', label: 'System' },
] as const;

const LIVE_LABEL = { connected: 'Live', connecting: 'Connecting', reconnecting: 'Reconnecting', offline: 'Offline' } as const;
const LIVE_VARIANT = { connected: 'success', connecting: 'secondary', reconnecting: 'warning', offline: 'secondary' } as const;

function LiveIndicator() {
  const state = useLiveState();
  return (
    <span
      className={`badge rounded-pill text-bg-${LIVE_VARIANT[state]} d-inline-flex align-items-center gap-1 pc-live`}
      data-testid="live-status"
      data-state={state}
      title={state === 'connected' ? 'Updates arrive as they happen' : 'Live updates paused; the page reloads its data when the connection returns'}
    >
      <span className={`pc-dot${state === 'connected' ? ' pc-dot-pulse' : ''}`} aria-hidden="true" />
      {LIVE_LABEL[state]}
    </span>
  );
}

/**
 * With the server out of reach, every number on the page is frozen at the moment of the drop: say so across the
 * page, and say since when, rather than with a pill beside live-looking data.
 */
function DisconnectedBanner({ since }: { since: Date }) {
  return (
    <div className="alert alert-warning rounded-0 border-0 border-bottom border-warning mb-0 py-2 pc-disconnected" role="alert" data-testid="disconnected-banner">
      <div className="container-xxl d-flex flex-wrap align-items-center gap-2">
        <span className="spinner-border spinner-border-sm" aria-hidden="true" />
        <strong>Disconnected from the Pitcrew server.</strong>
        <span>What you see is how things stood at {since.toLocaleTimeString()} and may be out of date. Reconnecting by itself…</span>
      </div>
    </div>
  );
}

/** When the live connection dropped, or null while it is up (or still opening for the first time). */
function useDisconnectedSince(): Date | null {
  const state = useLiveState();
  const since = useRef<Date | null>(null);
  if (state === 'reconnecting') since.current ??= new Date();
  else since.current = null;
  return since.current;
}

export function AppLayout() {
  const { user, can, signOut } = useAuth();
  const toast = useToast();
  const location = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const [accountOpen, setAccountOpen] = useState(false);
  const disconnectedSince = useDisconnectedSince();

  useEffect(() => {
    setMenuOpen(false);
    setAccountOpen(false);
  }, [location.pathname]);

  const links = can.isAdmin ? [...LINKS, { to: '/users', label: 'Users', end: false }] : LINKS;

  return (
    <>
      <a className="visually-hidden-focusable position-absolute p-2 bg-body" href="#main">Skip to content</a>
      <nav className="navbar navbar-expand-xl navbar-dark bg-dark sticky-top shadow-sm" data-testid="navbar" aria-label="Main">
        <div className="container-fluid">
          <NavLink className="navbar-brand d-flex align-items-center gap-2 fw-semibold" to="/">
            <img src="/favicon.svg" alt="" width={24} height={24} />
            Pitcrew
          </NavLink>
          <div className="d-flex align-items-center gap-2 order-xl-last">
            <LiveIndicator />
            <button
              className="navbar-toggler"
              type="button"
              aria-controls="pc-nav"
              aria-expanded={menuOpen}
              aria-label="Toggle navigation"
              onClick={() => setMenuOpen((o) => !o)}
              data-testid="nav-toggle"
            >
              <span className="navbar-toggler-icon" />
            </button>
          </div>
          <div className={`collapse navbar-collapse${menuOpen ? ' show' : ''}`} id="pc-nav">
            <ul className="navbar-nav me-auto">
              {links.map((link) => (
                <li className="nav-item" key={link.to}>
                  <NavLink className="nav-link" to={link.to} end={'end' in link ? link.end : false} data-testid={`nav-${link.to === '/' ? 'dashboard' : link.to.slice(1)}`}>
                    {link.label}
                  </NavLink>
                </li>
              ))}
            </ul>
            <div className="nav-item dropdown ms-xl-3 mb-2 mb-xl-0">
              <button
                type="button"
                className="btn btn-outline-light btn-sm dropdown-toggle"
                aria-expanded={accountOpen}
                onClick={() => setAccountOpen((o) => !o)}
                data-testid="account-menu"
              >
                <span data-testid="current-user">{user?.username}</span>{' '}
                <span className="badge text-bg-secondary" data-testid="current-role">{user?.role}</span>
              </button>
              <ul className={`dropdown-menu dropdown-menu-end${accountOpen ? ' show' : ''}`} style={accountOpen ? { right: 0, left: 'auto' } : undefined}>
                <li><span className="dropdown-item-text small text-body-secondary">Signed in as {user?.username}</span></li>
                <li><hr className="dropdown-divider" /></li>
                <li>
                  <button
                    type="button"
                    className="dropdown-item"
                    data-testid="sign-out"
                    onClick={() => {
                      signOut().catch((error: unknown) => toast.error(error));
                    }}
                  >
                    Sign out
                  </button>
                </li>
              </ul>
            </div>
          </div>
        </div>
      </nav>
      {disconnectedSince && <DisconnectedBanner since={disconnectedSince} />}
      <main id="main" className={`container-xxl py-3 py-md-4${disconnectedSince ? ' pc-stale' : ''}`} tabIndex={-1} data-stale={disconnectedSince ? 'true' : undefined}>
        <Outlet />
      </main>
    </>
  );
}
