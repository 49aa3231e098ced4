// A pretend Raspberry Pi speaking the device API exactly as the installer does: ask for a configuration, then
// report each step. Tests drive it one report at a time and watch the dashboard follow.
import type { ConfigResponse, StatusRequest, StatusResponse } from '../../../src/contracts/device-api.js';
import type { LogUpload } from '../../../src/contracts/card-health.js';
import type { PeerAnnounce, PeerAnnounceResponse } from '../../../src/contracts/peer-delivery.js';
import type { CheckinRequest } from '../../../src/contracts/checkin.js';

export class FakeDevice {
  config: ConfigResponse | null = null;

  constructor(
    private readonly deviceUrl: string,
    readonly serial: string,
    readonly mac: string,
  ) {}

  static numbered(deviceUrl: string, n: number): FakeDevice {
    const hex = n.toString(16).padStart(6, '0');
    return new FakeDevice(deviceUrl, `10000000${hex.toUpperCase()}`.slice(-16), `dc:a6:32:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`);
  }

  async requestConfig(body: { product_type?: string; venue_code?: string | null } = {}): Promise<ConfigResponse> {
    const response = await fetch(new URL('/api/config', this.deviceUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ serial_number: this.serial, mac_address: this.mac, ...body }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`/api/config for ${this.serial} → ${response.status}: ${text}`);
    this.config = JSON.parse(text) as ConfigResponse;
    return this.config;
  }

  async report(status: StatusRequest['status'], extra: Partial<StatusRequest> = {}): Promise<void> {
    await this.reportForAnswer(status, extra);
  }

  /** One status report, and the server's answer (with an operator's Identify, when one waits). */
  async reportForAnswer(status: StatusRequest['status'], extra: Partial<StatusRequest> = {}): Promise<StatusResponse> {
    if (!this.config) throw new Error('report before requestConfig');
    const body: StatusRequest = { status, deployment_id: this.config.deployment_id, hostname: this.config.hostname, serial: this.serial, mac_address: this.mac, ...extra };
    const response = await fetch(new URL('/api/status', this.deviceUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`/api/status ${status} for ${this.serial} → ${response.status}: ${await response.text()}`);
    return (await response.json()) as StatusResponse;
  }

  /** Sends an installer log, as an installer does after a failure. */
  async uploadLog(log: string, truncated = false): Promise<void> {
    if (!this.config) throw new Error('log before requestConfig');
    const body: LogUpload = { deployment_token: this.config.deployment_token ?? null, log, truncated };
    const response = await fetch(new URL(`/api/deployments/${this.config.deployment_id}/log`, this.deviceUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`log upload for ${this.serial} → ${response.status}: ${await response.text()}`);
  }

  /**
   * Tells the server's swarm what it holds and its part, as an installer in one-to-many delivery does. It sends the
   * configuration's token, which from then on every report of this device must carry too (pass it to `report`).
   */
  async announce(fields: Pick<PeerAnnounce, 'role' | 'have'> & Partial<PeerAnnounce>): Promise<PeerAnnounceResponse> {
    const url = this.config?.peer_announce_url;
    if (!this.config || !url) throw new Error(`announce for ${this.serial} without a peer_announce_url in its configuration`);
    const body: PeerAnnounce = {
      deployment_id: this.config.deployment_id,
      deployment_token: this.config.deployment_token ?? null,
      image_sha256: this.config.image_checksum,
      port: null,
      want: 0,
      bytes_from_peers: 0,
      bytes_from_server: 0,
      bytes_served: 0,
      bad_peers: [],
      ...fields,
    };
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await response.text();
    if (!response.ok) throw new Error(`/api/peers/announce ${fields.role} for ${this.serial} → ${response.status}: ${text}`);
    return JSON.parse(text) as PeerAnnounceResponse;
  }

  /** Its written system's first-boot check-in, as the script the installer adds sends it, to the answer's check-in URL. */
  async checkIn(extra: Partial<CheckinRequest> = {}): Promise<void> {
    if (!this.config?.checkin_url || !this.config.checkin_token) throw new Error(`check-in for ${this.serial} without a checkin_url and token in its configuration`);
    const body: CheckinRequest = {
      deployment_id: this.config.deployment_id,
      checkin_token: this.config.checkin_token,
      hostname: this.config.hostname,
      serial_number: this.serial,
      mac_address: this.mac,
      ip_addresses: ['10.20.0.31'],
      os_release: 'Raspberry Pi OS (trixie)',
      image_version: this.config.version,
      uptime_s: 25,
      boot_time_unit_s: null,
      ...extra,
    };
    const response = await fetch(this.config.checkin_url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`/api/checkin for ${this.serial} → ${response.status}: ${await response.text()}`);
  }

  /** Reports a download position as a share of the image, with a plausible rate. */
  reportDownload(progress: number, rateBps = 48 * 1024 * 1024): Promise<void> {
    const total = this.config?.image_size ?? 0;
    return this.report('downloading', { progress, bytes_total: total, bytes_done: Math.floor((total * progress) / 100), rate_bps: rateBps });
  }
}
