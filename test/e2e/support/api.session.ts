// A logged-in management API client for arranging test data quickly (the browser then checks what it shows).
import { randomBytes } from 'node:crypto';
import { tinyDiskImage } from '../../../src/disk-layout/test-support/tiny-disk-image.js';

export class ApiSession {
  private constructor(
    readonly baseUrl: string,
    private readonly cookie: string,
  ) {}

  static async login(baseUrl: string, username: string, password: string): Promise<ApiSession> {
    const response = await fetch(new URL('/api/auth/login', baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    if (!response.ok) throw new Error(`login as ${username} failed: ${response.status} ${await response.text()}`);
    const cookie = response.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    return new ApiSession(baseUrl, cookie);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(new URL(path, this.baseUrl), {
      method,
      headers: { cookie: this.cookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get = <T>(path: string) => this.request<T>('GET', path);
  post = <T>(path: string, body: unknown = {}) => this.request<T>('POST', path, body);
  put = <T>(path: string, body: unknown) => this.request<T>('PUT', path, body);

  /** Uploads an image from memory through the same multipart endpoint the web UI uses. */
  async uploadImage(productType: string, version: string, bytes: Uint8Array, filename: string, description?: string): Promise<{ image: { id: number; sha256: string } }> {
    const form = new FormData();
    form.append('product_type', productType);
    form.append('version', version);
    if (description) form.append('description', description);
    form.append('image', new Blob([bytes]), filename);
    const response = await fetch(new URL('/api/images/upload', this.baseUrl), { method: 'POST', headers: { cookie: this.cookie }, body: form });
    const text = await response.text();
    if (!response.ok) throw new Error(`upload ${productType} ${version} → ${response.status}: ${text}`);
    return JSON.parse(text) as { image: { id: number; sha256: string } };
  }

  /** Uploads a `size`-byte disk image (one partition of random bytes) as `product` `version`, and makes it the image devices receive. */
  async activateNewImage(productType: string, version: string, size: number): Promise<{ id: number; sha256: string }> {
    const { image } = await this.uploadImage(productType, version, tinyDiskImage(randomBytes(size - 512)), `${productType.toLowerCase()}-${version}.img`);
    await this.post(`/api/images/${image.id}/activate`);
    return image;
  }

  /** Creates a batch and starts it; returns its id. */
  async startBatch(fields: { venue_code: string; product_type: string; total_count: number; name?: string }): Promise<number> {
    const { batch } = await this.post<{ batch: { id: number } }>('/api/batches', fields);
    await this.post(`/api/batches/${batch.id}/start`);
    return batch.id;
  }
}
