// Every event the server pushes to dashboards, with its payload. Used by `new Server<…>()` on the server and
// `io()` in the web app, so both ends agree at compile time.
import type { Batch, BatchDeviceCounts, Deployment, MasterImage, Stats, PoolCounts, ProductType } from './domain.js';

export interface DeploymentStatusEvent {
  deployment_id: number;
  status: Deployment['status'];
  progress: number;
  deployment: Deployment;
}

export interface HostnameAssignedEvent {
  hostname: string;
  venue_code: string;
  product_type: ProductType;
  mac_address: string | null;
  serial_number: string | null;
  batch_id: number | null;
  timestamp: string;
}

export interface BatchEvent {
  batch_id: number;
  batch: Batch;
}

/** A batch handed out a name or one of its devices moved between imaging, succeeded and failed. */
export interface BatchProgressEvent extends BatchDeviceCounts {
  batch_id: number;
  status: Batch['status'];
  total_count: number;
  remaining_count: number;
}

/**
 * A device finished imaging but never checked in from its new system within the expected time. Emitted by the
 * first-boot check-in (once per deployment); notifications (webhooks) and dashboards listen for it.
 */
export interface DeviceNotBootedEvent {
  deployment_id: number;
  deployment: Deployment;
  /** How long the server waited for the check-in after the device finished, seconds. */
  waited_s: number;
}

export interface ImageEvent {
  image_id: number;
  image: MasterImage;
}

export interface PoolChangedEvent {
  venue_code: string;
  counts: PoolCounts;
}

export interface ServerEvents {
  deployment_status: DeploymentStatusEvent;
  hostname_assigned: HostnameAssignedEvent;
  batch_created: BatchEvent;
  batch_started: BatchEvent;
  batch_paused: BatchEvent;
  batch_completed: BatchEvent;
  batch_cancelled: BatchEvent;
  /** Any batch field changed that is not a status move: priority, remaining count. */
  batch_updated: BatchEvent;
  batch_progress: BatchProgressEvent;
  device_not_booted: DeviceNotBootedEvent;
  image_uploaded: ImageEvent;
  image_activated: ImageEvent;
  /** An image's delivery v2 chunks were built after its upload (images registered before v2). */
  image_updated: ImageEvent;
  image_deleted: { image_id: number };
  venue_changed: { venue_code: string; deleted: boolean };
  pool_changed: PoolChangedEvent;
  stats_update: Stats;
  /** Another program (the `pitcrew` CLI) changed the database: whatever a dashboard shows may be stale. */
  external_change: { detected_at: string };
}

export type ServerEventName = keyof ServerEvents;

/** Socket.IO's shape for the same map: one listener signature per event. */
export type ServerToClientEvents = { [K in ServerEventName]: (payload: ServerEvents[K]) => void };
export type ClientToServerEvents = Record<string, never>;

/** Where the domain core announces what happened; transports decide who hears it. */
export interface EventSink {
  emit<K extends ServerEventName>(name: K, payload: ServerEvents[K]): void;
}

export const silentEvents: EventSink = { emit: () => undefined };
