// Filters and paging kept in the address bar, so a reload, a bookmark or the back button shows the same view.
import { useCallback, useMemo } from 'react';
import { useSearchParams } from 'react-router-dom';
import { FIELD_LIMITS } from '../../../src/contracts/limits.js';
import { parseWholeNumber } from '../../../src/contracts/numbers.js';

export function useSearchState<K extends string>(keys: readonly K[]) {
  const [params, setParams] = useSearchParams();
  // Compared by their joined names, so callers may pass a fresh array each render.
  const keyList = keys.join(',');
  const values = useMemo(() => Object.fromEntries(keyList.split(',').map((k) => [k, params.get(k) ?? ''])) as Record<K, string>, [params, keyList]);
  /** Sets some keys (empty string removes one); any change other than `page` goes back to page 1. */
  const update = useCallback(
    (patch: Partial<Record<K | 'page', string | number | null>>) => {
      setParams(
        (current) => {
          const next = new URLSearchParams(current);
          for (const [key, value] of Object.entries(patch) as Array<[string, string | number | null | undefined]>) {
            if (value === null || value === undefined || value === '') next.delete(key);
            else next.set(key, String(value));
          }
          if (!('page' in patch)) next.delete('page');
          return next;
        },
        { replace: true },
      );
    },
    [setParams],
  );
  return [values, update] as const;
}

/** A page number, or a page size, from the address bar; `fallback` for anything the server would refuse. */
export const pageOf = (text: string, fallback = 1): number => parseWholeNumber(text, FIELD_LIMITS.listPage) ?? fallback;
export const pageSizeOf = (text: string, fallback = 50): number => parseWholeNumber(text, FIELD_LIMITS.listPageSize) ?? fallback;
