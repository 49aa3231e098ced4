// Short messages about what just happened ("Batch started", or the server's reason it was not). They stack in the
// bottom corner, where neither the navigation nor a page's main button (top right) lies, announce themselves to
// screen readers, and go away by themselves.
import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from 'react';
import { describeError } from '../api/api.client.js';

type Variant = 'success' | 'danger' | 'info' | 'warning';
interface Toast {
  id: number;
  variant: Variant;
  title: string;
  message: string;
}

interface ToastApi {
  success: (message: string, title?: string) => void;
  info: (message: string, title?: string) => void;
  warning: (message: string, title?: string) => void;
  /** Shows the server's message for a failed action. */
  error: (error: unknown, title?: string) => void;
}

const ToastContext = createContext<ToastApi | null>(null);
const LIFETIME_MS: Record<Variant, number> = { success: 4000, info: 5000, warning: 7000, danger: 9000 };
const ICON: Record<Variant, string> = { success: '✓', info: 'ℹ', warning: '!', danger: '✕' };

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const nextId = useRef(1);

  const dismiss = useCallback((id: number) => setToasts((list) => list.filter((t) => t.id !== id)), []);
  const show = useCallback(
    (variant: Variant, message: string, title: string) => {
      const id = nextId.current++;
      setToasts((list) => [...list.slice(-4), { id, variant, title, message }]);
      setTimeout(() => dismiss(id), LIFETIME_MS[variant]);
    },
    [dismiss],
  );

  const api = useMemo<ToastApi>(
    () => ({
      success: (message, title = 'Done') => show('success', message, title),
      info: (message, title = 'Note') => show('info', message, title),
      warning: (message, title = 'Warning') => show('warning', message, title),
      error: (error, title = 'That did not work') => show('danger', describeError(error), title),
    }),
    [show],
  );

  return (
    <ToastContext.Provider value={api}>
      {children}
      <div className="toast-container position-fixed bottom-0 end-0 p-3 pc-toasts" aria-live="polite" aria-atomic="false">
        {toasts.map((toast) => (
          <div
            key={toast.id}
            className={`toast show border-0 border-start border-4 border-${toast.variant}`}
            role={toast.variant === 'danger' ? 'alert' : 'status'}
            data-testid="toast"
            data-variant={toast.variant}
          >
            <div className="toast-header">
              <span className={`badge rounded-pill text-bg-${toast.variant} me-2`} aria-hidden="true">{ICON[toast.variant]}</span>
              <strong className="me-auto">{toast.title}</strong>
              <button type="button" className="btn-close" aria-label="Close" onClick={() => dismiss(toast.id)} />
            </div>
            <div className="toast-body">{toast.message}</div>
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}

export function useToast(): ToastApi {
  const value = useContext(ToastContext);
  if (!value) throw new Error('useToast outside ToastProvider');
  return value;
}
