// The one typed client for the management API. Shapes come from src/contracts, so a renamed field breaks the
// build instead of a page. Every failure becomes an ApiError carrying the server's own message for a person.
import type { Static } from 'typebox';
import type {
  ActiveBatchResponse, AuditList, BatchCapacity, BatchCreate, BatchList, BatchPeerDeliveryUpdate, BatchQuery, BatchResponse, DeploymentList,
  DeploymentQuery, DeploymentResponse, ImageDetail, ImageList, ImageResponse, ImageUpdate, ImageUploadFields, KartNumberImport, KartNumberImportResult, LoginRequest,
  MeResponse, PoolEntryResponse, PoolList, PoolQuery, Report, ReportQuery, SuccessResponse, SystemStatus, TokenCreate, UsbImageQuery, TokenCreated,
  TokenList, UserCreate, UserList, UserResponse, UserUpdate, VenueCreate, VenueList, VenueResponse, VenueStatsResponse, VenueUpdate,
} from '../../../src/contracts/api.js';
import type { OperatorResolution } from '../../../src/contracts/attention.js';
import type { LabelQuery, LabelSheet } from '../../../src/contracts/labels.js';
import type {
  WebhookCreate, WebhookDeliveryList, WebhookDeliveryQuery, WebhookDeliveryResponse, WebhookList, WebhookResponse, WebhookUpdate,
} from '../../../src/contracts/webhooks.js';
import type { DeploymentLog } from '../../../src/contracts/card-health.js';
import type { DeploymentCheckinAnswer } from '../../../src/contracts/checkin.js';
import type { ProductType, Stats, Venue } from '../../../src/contracts/domain.js';
import type { ErrorBody } from '../../../src/contracts/errors.js';
import type { ProfileResponse, ProfileRevisionList, ProvisioningProfileInput } from '../../../src/contracts/provisioning-profile.js';

export type ErrorCodeOrTransport = ErrorBody['code'] | 'NETWORK' | 'BAD_RESPONSE' | 'ABORTED';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCodeOrTransport,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Turns anything thrown into a sentence a person can act on. */
export const describeError = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === 'string' ? error : 'Something went wrong.';

type QueryValue = string | number | boolean | null | undefined;

/** Builds `?a=1&b=2`, leaving out what is unset so the server applies its defaults. */
export const buildQuery = (query: object = {}): string => {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query) as Array<[string, QueryValue]>) {
    if (value === undefined || value === null || value === '') continue;
    params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
};

const unauthenticatedListeners = new Set<() => void>();
/** Called when any request finds the session gone (expired, revoked, server lost it). */
export const onUnauthenticated = (listener: () => void): (() => void) => {
  unauthenticatedListeners.add(listener);
  return () => unauthenticatedListeners.delete(listener);
};

const parseErrorBody = (status: number, text: string): ApiError => {
  try {
    const body = JSON.parse(text) as Partial<ErrorBody> & { message?: string };
    const message = body.error ?? body.message;
    if (typeof message === 'string' && message) return new ApiError(status, body.code ?? 'INTERNAL', message, body.details);
  } catch {
    // Not JSON: a proxy page or a crash; fall through to a generic sentence.
  }
  if (status >= 500) return new ApiError(status, 'INTERNAL', `The server failed to answer (HTTP ${status}). Check its log.`);
  return new ApiError(status, 'BAD_RESPONSE', `The server refused the request (HTTP ${status}).`);
};

const notifyIfUnauthenticated = (status: number, path: string) => {
  if (status === 401 && !path.startsWith('/api/auth/')) for (const listener of unauthenticatedListeners) listener();
};

export async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (signal?.aborted) throw new ApiError(0, 'ABORTED', 'The request was cancelled.');
    throw new ApiError(0, 'NETWORK', `Cannot reach the Pitcrew server (${describeError(error)}).`);
  }
  const text = await response.text();
  if (!response.ok) {
    notifyIfUnauthenticated(response.status, path);
    throw parseErrorBody(response.status, text);
  }
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(response.status, 'BAD_RESPONSE', 'The server sent an answer that is not JSON.');
  }
}

const get = <T>(path: string, signal?: AbortSignal) => request<T>('GET', path, undefined, signal);
const post = <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {});
const put = <T>(path: string, body: unknown) => request<T>('PUT', path, body);
const del = <T>(path: string) => request<T>('DELETE', path);
const seg = encodeURIComponent;

export type UploadProgress = { loaded: number; total: number };

/**
 * Uploads a master image with XMLHttpRequest, because fetch cannot report upload progress. Fields go before the
 * file so the server knows the product and version before the bytes arrive.
 */
export function uploadImage(
  fields: ImageUploadFields,
  file: File,
  onProgress: (progress: UploadProgress) => void,
  signal?: AbortSignal,
): Promise<Static<typeof ImageResponse>> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append('product_type', fields.product_type);
    form.append('version', fields.version);
    if (fields.description) form.append('description', fields.description);
    form.append('image', file, file.name);

    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/images/upload');
    xhr.withCredentials = true;
    xhr.setRequestHeader('accept', 'application/json');
    xhr.upload.onprogress = (event) => onProgress({ loaded: event.loaded, total: event.lengthComputable ? event.total : file.size });
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText) as Static<typeof ImageResponse>);
        } catch {
          reject(new ApiError(xhr.status, 'BAD_RESPONSE', 'The server sent an answer that is not JSON.'));
        }
        return;
      }
      notifyIfUnauthenticated(xhr.status, '/api/images/upload');
      reject(parseErrorBody(xhr.status, xhr.responseText));
    };
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'The upload was interrupted: the server could not be reached.'));
    xhr.onabort = () => reject(new ApiError(0, 'ABORTED', 'Upload cancelled.'));
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(form);
  });
}

export type DeploymentFilters = Omit<DeploymentQuery, 'format'>;

export const api = {
  auth: {
    login: (body: LoginRequest) => post<Static<typeof MeResponse> & { success?: boolean }>('/api/auth/login', body),
    logout: () => post<unknown>('/api/auth/logout'),
    me: (signal?: AbortSignal) => get<Static<typeof MeResponse>>('/api/auth/me', signal),
  },
  stats: (signal?: AbortSignal) => get<Stats>('/api/stats', signal),
  venues: {
    list: (signal?: AbortSignal) => get<Static<typeof VenueList>>('/api/venues', signal),
    /** The contracts do not pin this answer's wrapper, so both `{venue}` and a bare venue are accepted. */
    get: async (code: string, signal?: AbortSignal): Promise<Venue> => {
      const body = await get<Venue | { venue: Venue }>(`/api/venues/${seg(code)}`, signal);
      return 'venue' in body ? body.venue : body;
    },
    create: (body: VenueCreate) => post<Static<typeof VenueResponse>>('/api/venues', body),
    update: (code: string, body: VenueUpdate) => put<Static<typeof VenueResponse>>(`/api/venues/${seg(code)}`, body),
    remove: (code: string) => del<Static<typeof SuccessResponse>>(`/api/venues/${seg(code)}`),
    stats: (code: string, signal?: AbortSignal) => get<Static<typeof VenueStatsResponse>>(`/api/venues/${seg(code)}/stats`, signal),
  },
  profiles: {
    /** The venue's profile (product null) or one product's override; secrets only as set or not. */
    get: (code: string, product: ProductType | null, signal?: AbortSignal) => get<ProfileResponse>(`/api/venues/${seg(code)}/profile${buildQuery({ product })}`, signal),
    /** Stores a new revision; secrets left out are kept. */
    set: (code: string, product: ProductType | null, body: ProvisioningProfileInput) => put<ProfileResponse>(`/api/venues/${seg(code)}/profile${buildQuery({ product })}`, body),
    /** Every revision of the venue's profiles, with how many deployments received each. */
    revisions: (code: string, signal?: AbortSignal) => get<ProfileRevisionList>(`/api/venues/${seg(code)}/profile/revisions`, signal),
  },
  pool: {
    list: (query: PoolQuery, signal?: AbortSignal) => get<Static<typeof PoolList>>(`/api/kart-numbers${buildQuery(query)}`, signal),
    import: (body: KartNumberImport) => post<KartNumberImportResult>('/api/kart-numbers', body),
    release: (id: number) => post<Static<typeof PoolEntryResponse>>(`/api/kart-numbers/${id}/release`),
    retire: (id: number) => post<Static<typeof PoolEntryResponse>>(`/api/kart-numbers/${id}/retire`),
    remove: (id: number) => del<Static<typeof SuccessResponse>>(`/api/kart-numbers/${id}`),
    /** Frees a hostname by name: the next device of its venue may receive it. */
    releaseHostname: (hostname: string) => post<Static<typeof PoolEntryResponse>>('/api/hostname/release', { hostname }),
    /** Retires a hostname by name (never handed out again): the pool knows entries by id, so it is looked up first. */
    retireHostname: async (hostname: string) => {
      const { items } = await get<Static<typeof PoolList>>(`/api/kart-numbers${buildQuery({ search: hostname, limit: 50 })}`);
      const entry = items.find((item) => item.hostname === hostname);
      if (!entry) throw new ApiError(404, 'NOT_FOUND', `${hostname} is not in its venue's pool any more.`);
      return post<Static<typeof PoolEntryResponse>>(`/api/kart-numbers/${entry.id}/retire`);
    },
  },
  batches: {
    list: (query: BatchQuery = {}, signal?: AbortSignal) => get<Static<typeof BatchList>>(`/api/batches${buildQuery(query)}`, signal),
    active: (signal?: AbortSignal) => get<Static<typeof ActiveBatchResponse>>('/api/batches/active', signal),
    capacity: (venue: string, product: ProductType, signal?: AbortSignal) => get<BatchCapacity>(`/api/batches/capacity${buildQuery({ venue, product })}`, signal),
    get: (id: number, signal?: AbortSignal) => get<Static<typeof BatchResponse>>(`/api/batches/${id}`, signal),
    create: (body: BatchCreate) => post<Static<typeof BatchResponse>>('/api/batches', body),
    start: (id: number) => post<Static<typeof BatchResponse>>(`/api/batches/${id}/start`),
    pause: (id: number) => post<Static<typeof BatchResponse>>(`/api/batches/${id}/pause`),
    cancel: (id: number) => post<Static<typeof BatchResponse>>(`/api/batches/${id}/cancel`),
    setPriority: (id: number, priority: number) => put<Static<typeof BatchResponse>>(`/api/batches/${id}/priority`, { priority }),
    setPeerDelivery: (id: number, change: BatchPeerDeliveryUpdate) => put<Static<typeof BatchResponse>>(`/api/batches/${id}/peer-delivery`, change),
    reorder: (ids: number[]) => post<Static<typeof BatchList>>('/api/batches/reorder', { ids }),
  },
  images: {
    list: (signal?: AbortSignal) => get<Static<typeof ImageList>>('/api/images', signal),
    detail: (id: number, signal?: AbortSignal) => get<Static<typeof ImageDetail>>(`/api/images/${id}`, signal),
    update: (id: number, change: ImageUpdate) => put<Static<typeof ImageDetail>>(`/api/images/${id}`, change),
    activate: (id: number) => post<Static<typeof ImageResponse>>(`/api/images/${id}/activate`),
    remove: (id: number) => del<Static<typeof SuccessResponse>>(`/api/images/${id}`),
  },
  deployments: {
    list: (query: DeploymentFilters, signal?: AbortSignal) => get<Static<typeof DeploymentList>>(`/api/deployments${buildQuery(query)}`, signal),
    csvUrl: (query: DeploymentFilters) => `/api/deployments${buildQuery({ ...query, page: undefined, limit: undefined, format: 'csv' })}`,
    /** Takes a device off the "needs attention" lane: acknowledged, or marked to re-image on its next boot. */
    resolveAttention: (id: number, resolution: OperatorResolution) => post<Static<typeof DeploymentResponse>>(`/api/deployments/${id}/attention`, { resolution }),
    /** Blinks the board's activity LED once its next status report is answered. */
    identify: (id: number, seconds?: number) => post<Static<typeof DeploymentResponse>>(`/api/deployments/${id}/identify`, seconds === undefined ? {} : { seconds }),
    log: (id: number, signal?: AbortSignal) => get<DeploymentLog>(`/api/deployments/${id}/log`, signal),
    logDownloadUrl: (id: number) => `/api/deployments/${id}/log?download=true`,
    /** What the written system reported from its first boot; null until it checked in. */
    checkin: (id: number, signal?: AbortSignal) => get<DeploymentCheckinAnswer>(`/api/deployments/${id}/checkin`, signal),
  },
  labels: (query: LabelQuery, signal?: AbortSignal) => get<LabelSheet>(`/api/labels${buildQuery(query)}`, signal),
  reports: (query: ReportQuery, signal?: AbortSignal) => get<Report>(`/api/reports${buildQuery(query)}`, signal),
  system: (signal?: AbortSignal) => get<SystemStatus>('/api/system/status', signal),
  netboot: {
    /** A plain link's address: the browser downloads the stick image itself, with the session cookie. */
    usbImageUrl: (query: UsbImageQuery) => `/api/netboot/usb-image${buildQuery(query)}`,
  },
  users: {
    list: (signal?: AbortSignal) => get<Static<typeof UserList>>('/api/users', signal),
    create: (body: UserCreate) => post<Static<typeof UserResponse>>('/api/users', body),
    update: (id: number, body: UserUpdate) => put<Static<typeof UserResponse>>(`/api/users/${id}`, body),
    remove: (id: number) => del<Static<typeof SuccessResponse>>(`/api/users/${id}`),
  },
  tokens: {
    list: (signal?: AbortSignal) => get<Static<typeof TokenList>>('/api/tokens', signal),
    create: (body: TokenCreate) => post<Static<typeof TokenCreated>>('/api/tokens', body),
    revoke: (id: number) => del<Static<typeof SuccessResponse>>(`/api/tokens/${id}`),
  },
  webhooks: {
    list: (signal?: AbortSignal) => get<Static<typeof WebhookList>>('/api/webhooks', signal),
    create: (body: WebhookCreate) => post<Static<typeof WebhookResponse>>('/api/webhooks', body),
    update: (id: number, body: WebhookUpdate) => put<Static<typeof WebhookResponse>>(`/api/webhooks/${id}`, body),
    remove: (id: number) => del<Static<typeof SuccessResponse>>(`/api/webhooks/${id}`),
    sendTest: (id: number) => post<Static<typeof WebhookDeliveryResponse>>(`/api/webhooks/${id}/test`),
    deliveries: (query: WebhookDeliveryQuery, signal?: AbortSignal) => get<Static<typeof WebhookDeliveryList>>(`/api/webhooks/deliveries${buildQuery(query)}`, signal),
  },
  audit: (query: { page?: number; limit?: number }, signal?: AbortSignal) => get<Static<typeof AuditList>>(`/api/audit${buildQuery(query)}`, signal),
};
