import { useEffect, useState } from 'react';

/** The current time, refreshed every `intervalMs`, for "started 2 min ago" and elapsed-time labels. */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
