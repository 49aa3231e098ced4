// React bindings for the live connection: subscribe for the lifetime of a component, and reload on events.
import { useEffect, useRef, useSyncExternalStore } from 'react';
import type { ServerEventName, ServerEvents } from '../../../src/contracts/events.js';
import type { Deployment } from '../../../src/contracts/domain.js';
import { getLiveState, onLiveStateChange, onResync, subscribe, type LiveState } from './live.socket.js';

/** Calls `handler` for every `name` event while the component is mounted; the latest handler always runs. */
export function useLiveEvent<K extends ServerEventName>(name: K, handler: (payload: ServerEvents[K]) => void): void {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => subscribe(name, (payload) => latest.current(payload)), [name]);
}

/**
 * Calls `handler` with every new state of a deployment: its reports (`deployment_status`) and its first boot's
 * check-in or absence (`deployment_booted`, `deployment_not_booted`), which leave its status as it was.
 */
export function useDeploymentUpdates(handler: (deployment: Deployment) => void): void {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    const apply = ({ deployment }: { deployment: Deployment }) => latest.current(deployment);
    const unsubscribe = [subscribe('deployment_status', apply), subscribe('deployment_booted', apply), subscribe('deployment_not_booted', apply)];
    return () => unsubscribe.forEach((stop) => stop());
  }, []);
}

/** Calls `handler` whenever the connection opens again after a drop (server restart, network blip). */
export function useResync(handler: () => void): void {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => onResync(() => latest.current()), []);
}

/**
 * Reloads a view when any of `names` arrives (and after a reconnect). Bursts are coalesced: a hundred devices
 * reporting at once cause one reload per `delayMs`, not a hundred.
 */
export function useLiveReload(names: readonly ServerEventName[], reload: () => void, options: { delayMs?: number; when?: (name: ServerEventName, payload: unknown) => boolean } = {}): void {
  const latestReload = useRef(reload);
  latestReload.current = reload;
  const latestWhen = useRef(options.when);
  latestWhen.current = options.when;
  const delayMs = options.delayMs ?? 400;
  const key = names.join(',');

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const trigger = () => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        latestReload.current();
      }, delayMs);
    };
    const stops = (key ? (key.split(',') as ServerEventName[]) : []).map((name) =>
      subscribe(name, (payload) => {
        if (!latestWhen.current || latestWhen.current(name, payload)) trigger();
      }),
    );
    stops.push(onResync(trigger));
    return () => {
      if (timer) clearTimeout(timer);
      for (const stop of stops) stop();
    };
    // `names` is compared by its joined key so callers may pass a fresh array literal each render.
  }, [key, delayMs]);
}

export const useLiveState = (): LiveState => useSyncExternalStore(onLiveStateChange, getLiveState);
