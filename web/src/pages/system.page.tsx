// The server's health: versions, uptime, disk, who is connected, and the network-boot service when it runs one.
import { api } from '../api/api.client.js';
import { useResource } from '../api/use-resource.js';
import { formatBytes, formatDateTime, formatDuration } from '../../../src/contracts/format.js';
import { ErrorAlert, Loading, PageHeader, ProgressBar, StatCard } from '../components/ui.js';
import { UsbStickDownload } from '../components/usb-stick-download.js';
import { usePermissions } from '../auth/auth.context.js';
import { useEffect } from 'react';
import { useLiveState, useResync } from '../live/live.hooks.js';
import { WebhooksPanel } from '../components/webhooks-panel.js';

export function SystemPage() {
  const status = useResource((signal) => api.system(signal), []);
  const live = useLiveState();
  const { canWrite, isAdmin } = usePermissions();
  useResync(status.reload);
  // Uptime, disk and connections change without events; a slow poll keeps them honest.
  useEffect(() => {
    const timer = setInterval(status.reload, 10_000);
    return () => clearInterval(timer);
  }, [status.reload]);

  const s = status.data;
  const used = s ? s.disk.total_bytes - s.disk.free_bytes : 0;
  const usedShare = s && s.disk.total_bytes > 0 ? (used / s.disk.total_bytes) * 100 : 0;

  return (
    <>
      <PageHeader title="System" subtitle="Health of this Pitcrew server" actions={<>
        {/* A plain link: the API reference is the server's own page, outside this app's router. */}
        <a className="btn btn-outline-secondary btn-sm" href="/api/docs" target="_blank" rel="noopener" data-testid="system-api-docs">API reference</a>
        <button type="button" className="btn btn-outline-secondary btn-sm" onClick={status.reload}>Refresh</button>
      </>} />
      <ErrorAlert error={status.error} onRetry={status.reload} />
      {status.loading ? <Loading /> : s && (
        <div data-testid="system-status">
          <div className="row g-3 mb-3">
            <div className="col-6 col-lg-3"><StatCard label="Health" value={<span className="text-success" data-testid="system-health">{s.status === 'ok' ? 'OK' : s.status}</span>} hint={`up ${formatDuration(s.uptime_s)}`} variant="success" /></div>
            <div className="col-6 col-lg-3"><StatCard label="Dashboards connected" value={s.connected_clients} hint={`this one: ${live}`} variant="primary" testId="system-clients" /></div>
            <div className="col-6 col-lg-3"><StatCard label="Image downloads now" value={s.active_downloads} variant="info" testId="system-downloads" /></div>
            <div className="col-6 col-lg-3"><StatCard label="Free disk" value={formatBytes(s.disk.free_bytes)} hint={`of ${formatBytes(s.disk.total_bytes)}`} variant={usedShare > 90 ? 'danger' : usedShare > 75 ? 'warning' : 'secondary'} testId="system-disk" /></div>
          </div>
          <div className="row g-3">
            <div className="col-12 col-lg-6">
              <div className="card shadow-sm border-0 h-100"><div className="card-body">
                <h2 className="h6 text-body-secondary text-uppercase">Versions</h2>
                <dl className="row small mb-0" data-testid="system-versions">
                  <dt className="col-5">Pitcrew</dt><dd className="col-7" data-testid="system-version">{s.version}</dd>
                  <dt className="col-5">Node.js</dt><dd className="col-7">{s.node_version}</dd>
                  <dt className="col-5">SQLite</dt><dd className="col-7">{s.sqlite_version}</dd>
                  <dt className="col-5">Started</dt><dd className="col-7">{formatDateTime(s.started_at)}</dd>
                  <dt className="col-5">Data directory</dt><dd className="col-7 font-monospace text-break">{s.data_dir}</dd>
                  <dt className="col-5">Device URL</dt><dd className="col-7 font-monospace text-break">{s.device_url ?? 'from the address each device uses'}</dd>
                </dl>
              </div></div>
            </div>
            <div className="col-12 col-lg-6">
              <div className="card shadow-sm border-0 h-100"><div className="card-body">
                <h2 className="h6 text-body-secondary text-uppercase">Disk</h2>
                <ProgressBar value={usedShare} label="Disk used" variant={usedShare > 90 ? 'danger' : usedShare > 75 ? 'warning' : 'primary'} height={14} testId="system-disk-bar" />
                <div className="small mt-2 d-flex flex-wrap justify-content-between gap-2">
                  <span>{formatBytes(used)} used of {formatBytes(s.disk.total_bytes)}</span>
                  <span>Master images: {formatBytes(s.disk.images_bytes)}</span>
                  <span data-testid="system-upload-limit">Largest upload: {formatBytes(s.max_image_bytes)}</span>
                </div>
                {usedShare > 90 && <div className="alert alert-danger small mt-2 mb-0">The disk is nearly full: uploads will fail. Delete old images.</div>}
              </div></div>
            </div>
            <div className="col-12">
              <div className="card shadow-sm border-0"><div className="card-body" data-testid="system-netboot">
                <h2 className="h6 text-body-secondary text-uppercase">Network boot</h2>
                {s.netboot ? (
                  <>
                    <div className="mb-2">dnsmasq is <strong>{s.netboot.state}</strong>{s.netboot.pid !== null && <> (pid {s.netboot.pid})</>}, restarted {s.netboot.restarts} time{s.netboot.restarts === 1 ? '' : 's'}.</div>
                    {s.netboot.recent.length > 0 ? <pre className="small bg-body-tertiary p-2 rounded mb-0 pc-log">{s.netboot.recent.join('\n')}</pre> : <div className="small text-body-secondary">No DHCP or TFTP activity yet.</div>}
                  </>
                ) : (
                  <div className="small text-body-secondary">This server does not run the network-boot service; boards boot from another DHCP/TFTP server, from a prepared SD card, or from the USB installer stick.</div>
                )}
                {canWrite && (
                  <>
                    <h3 className="h6 mt-3">USB installer stick</h3>
                    <UsbStickDownload status={s} />
                  </>
                )}
              </div></div>
            </div>
          </div>
        </div>
      )}
      {isAdmin && <WebhooksPanel />}
    </>
  );
}
