// The EventSink the domain core announces changes to. It fans each event out to every logged-in dashboard over
// Socket.IO and to in-process observers (metrics). Events arrive only after their transaction committed.
import type { Server } from 'socket.io';
import type { ClientToServerEvents, EventSink, ServerEventName, ServerEvents, ServerToClientEvents } from '../../contracts/events.js';

export type EventObserver = <K extends ServerEventName>(name: K, payload: ServerEvents[K]) => void;

export interface EventBroadcaster {
  sink: EventSink;
  attach(io: Server<ClientToServerEvents, ServerToClientEvents>): void;
  observe(observer: EventObserver): void;
}

export function createEventBroadcaster(): EventBroadcaster {
  let io: Server<ClientToServerEvents, ServerToClientEvents> | null = null;
  const observers: EventObserver[] = [];
  return {
    sink: {
      emit(name, payload) {
        for (const observer of observers) observer(name, payload);
        // Socket.IO's typed emit needs the literal event name; the map guarantees the payload matches it.
        (io?.emit as ((event: string, data: unknown) => boolean) | undefined)?.call(io, name, payload);
      },
    },
    attach: (server) => void (io = server),
    observe: (observer) => void observers.push(observer),
  };
}
