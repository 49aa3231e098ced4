// Loads one thing from the API for a component: keeps the last good answer while reloading (no flicker on live
// refreshes), cancels requests the component no longer needs, and exposes the server's error message.
import { useCallback, useEffect, useRef, useState, type Dispatch, type SetStateAction } from 'react';
import { ApiError } from './api.client.js';

export interface Resource<T> {
  data: T | undefined;
  error: ApiError | null;
  /** True until the first answer (or error) arrives; reloads keep showing the old data. */
  loading: boolean;
  reloading: boolean;
  reload: () => void;
  setData: Dispatch<SetStateAction<T | undefined>>;
}

export function useResource<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | null>(null);
  const [settled, setSettled] = useState(false);
  const [reloading, setReloading] = useState(false);
  const [version, setVersion] = useState(0);
  const latestLoad = useRef(load);
  latestLoad.current = load;

  useEffect(() => {
    const controller = new AbortController();
    setReloading(true);
    latestLoad
      .current(controller.signal)
      .then((value) => {
        if (controller.signal.aborted) return;
        setData(value);
        setError(null);
      })
      .catch((caught: unknown) => {
        if (controller.signal.aborted) return;
        setError(caught instanceof ApiError ? caught : new ApiError(0, 'BAD_RESPONSE', String(caught)));
      })
      .finally(() => {
        if (controller.signal.aborted) return;
        setSettled(true);
        setReloading(false);
      });
    return () => controller.abort();
    // The caller lists what the request depends on, as with useEffect; the latest `load` is read from a ref.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, version]);

  const reload = useCallback(() => setVersion((v) => v + 1), []);
  return { data, error, loading: !settled, reloading, reload, setData };
}
