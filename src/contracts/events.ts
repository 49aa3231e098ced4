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

export interface ImageEvent {
  image_id: number;
  image: MasterImage;
}

export interface PoolChangedEvent {
  venue_code: string;
  counts: PoolCounts;
}

/** A written system checked in on its first boot (`deployment_booted`), or missed its deadline (`deployment_not_booted`). */
export interface DeploymentBootEvent {
  deployment_id: number;
  hostname: string;
  deployment: Deployment;
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
  deployment_booted: DeploymentBootEvent;
  /** Emitted once per deployment, by the sweep that finds it past its check-in deadline (webhooks hang on it). */
  deployment_not_booted: DeploymentBootEvent;
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
