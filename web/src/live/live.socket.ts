// The one Socket.IO connection of the dashboard, typed by the shared event map. Pages subscribe to events by
// name and get an unsubscribe back; they also hear "resync" whenever the connection (re)opens, because events
// sent while it was down are gone and the page must reload what it shows — and when the server reports that
// another program (the CLI) changed the data, which no event describes.
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerEventName, ServerEvents, ServerToClientEvents } from '../../../src/contracts/events.js';

export type LiveSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
export type LiveState = 'offline' | 'connecting' | 'connected' | 'reconnecting';

type AnyHandler = (payload: never) => void;

const handlers = new Map<ServerEventName, Set<AnyHandler>>();
const resyncHandlers = new Set<() => void>();
const stateListeners = new Set<() => void>();

let socket: LiveSocket | null = null;
let state: LiveState = 'offline';
let retryTimer: ReturnType<typeof setTimeout> | null = null;
/** Asked when the server refuses the socket: is the session still good? Answers false to stop retrying. */
let checkSession: () => Promise<boolean> = async () => true;

const setState = (next: LiveState) => {
  if (state === next) return;
  state = next;
  for (const listener of stateListeners) listener();
};

const dispatch = (name: string, payload: unknown) => {
  const set = handlers.get(name as ServerEventName);
  if (!set) return;
  for (const handler of [...set]) {
    try {
      (handler as (p: unknown) => void)(payload);
    } catch (error) {
      // One broken page handler must not stop the others from hearing the event.
      console.error(`live handler for ${name} failed`, error);
    }
  }
};

const resync = () => {
  for (const handler of [...resyncHandlers]) handler();
};

const scheduleRetry = (delayMs: number) => {
  if (retryTimer) clearTimeout(retryTimer);
  retryTimer = setTimeout(() => {
    retryTimer = null;
    if (socket && !socket.connected) socket.connect();
  }, delayMs);
};

/** Opens the connection once signed in; later calls are no-ops. */
export function connectLive(options: { checkSession?: () => Promise<boolean> } = {}): void {
  if (options.checkSession) checkSession = options.checkSession;
  if (socket) return;
  setState('connecting');
  const created: LiveSocket = io({
    path: '/socket.io',
    withCredentials: true,
    reconnection: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
    transports: ['websocket', 'polling'],
  });
  socket = created;
  created.onAny(dispatch);
  created.on('connect', () => {
    setState('connected');
    resync();
  });
  created.on('external_change', resync);
  created.on('disconnect', (reason) => {
    setState('reconnecting');
    // The server closing us on purpose (shutdown, restart) does not trigger the client's own retry loop.
    if (reason === 'io server disconnect') scheduleRetry(1000);
  });
  created.on('connect_error', () => {
    setState('reconnecting');
    // A refusal by the server's middleware (no session) stops automatic retries; a dead server does not.
    if (!created.active) {
      void checkSession().then((stillSignedIn) => {
        if (stillSignedIn && socket === created) scheduleRetry(2000);
      });
    }
  });
}

export function disconnectLive(): void {
  if (retryTimer) clearTimeout(retryTimer);
  retryTimer = null;
  socket?.offAny();
  socket?.removeAllListeners();
  socket?.disconnect();
  socket = null;
  setState('offline');
}

/** Listens to one server event; returns the function that stops listening. */
export function subscribe<K extends ServerEventName>(name: K, handler: (payload: ServerEvents[K]) => void): () => void {
  let set = handlers.get(name);
  if (!set) {
    set = new Set();
    handlers.set(name, set);
  }
  set.add(handler);
  return () => {
    set.delete(handler);
  };
}

/** Called each time the connection opens or reopens, or the data changed outside any event, so a page can reload. */
export function onResync(handler: () => void): () => void {
  resyncHandlers.add(handler);
  return () => {
    resyncHandlers.delete(handler);
  };
}

export const getLiveState = (): LiveState => state;

export function onLiveStateChange(listener: () => void): () => void {
  stateListeners.add(listener);
  return () => {
    stateListeners.delete(listener);
  };
}
