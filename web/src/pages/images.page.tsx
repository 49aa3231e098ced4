// Master images: upload (components/image-upload-card.tsx), then activate the one devices get.
// Exactly one image per product can be active; an active image cannot be deleted.
import { useMemo, useState } from 'react';
import type { MasterImage } from '../../../src/contracts/domain.js';
import { PRODUCT_TYPES } from '../../../src/contracts/domain.js';
import { FIRST_BOOT_FLAVOUR_LABELS } from '../../../src/contracts/first-boot.js';
import { api } from '../api/api.client.js';
import { useResource } from '../api/use-resource.js';
import { usePermissions } from '../auth/auth.context.js';
import { formatBytes, formatDateTime } from '../../../src/contracts/format.js';
import { useConfirm } from '../components/modal.js';
import { useToast } from '../components/toast.provider.js';
import { EmptyState, ErrorAlert, Loading, PageHeader } from '../components/ui.js';
import { useLiveReload } from '../live/live.hooks.js';
import { ImageDeliverySummary } from '../components/image-delivery.js';
import { ImageGeneralization } from '../components/image-generalization.js';
import { UploadCard, UPLOADED_AS, type UploadLimits } from '../components/image-upload-card.js';

/** The same bytes under another version: usually a rebuild that was not rebuilt. Flagged, not refused. */
function SameContentWarning({ image }: { image: MasterImage }) {
  if (image.same_content_as.length === 0) return null;
  return (
    <div className="small text-warning-emphasis" data-testid={`image-same-content-${image.id}`}>
      ⚠ Same content (SHA-256) as {image.same_content_as.map((o) => `${o.product_type} ${o.version}`).join(', ')}
    </div>
  );
}

/** The first-boot mechanism the hostname and provisioning profile will go through on its cards. */
function FirstBootSummary({ preview }: { preview: MasterImage['first_boot_preview'] }) {
  return (
    <div className="small mt-2" data-testid="image-activate-first-boot">
      <span className="fw-semibold">First boot: </span>
      {preview === null ? (
        <span className="text-body-secondary">not inspected yet (the server inspects older images in the background).</span>
      ) : preview.flavour === null ? (
        <span className="text-warning-emphasis">the image could not be inspected ({preview.problem ?? 'unknown reason'}).</span>
      ) : (
        <>
          <span data-flavour={preview.flavour}>{FIRST_BOOT_FLAVOUR_LABELS[preview.flavour]}</span>
          {preview.boot_mount && <span className="text-body-secondary"> (boot partition at {preview.boot_mount})</span>}
          {preview.warnings.map((warning) => <div key={warning} className="text-warning-emphasis">⚠ {warning}</div>)}
        </>
      )}
    </div>
  );
}

/** What the image holds: the block map's reading of its partition table and filesystems, and its first boot. */
function ImageContents({ image }: { image: MasterImage }) {
  return (
    <div data-testid="image-activate-contents">
      <div className="small fw-semibold">What it contains ({formatBytes(image.size_bytes)}):</div>
      {image.delivery ? (
        <ul className="small mb-0 ps-3">
          {image.delivery.block_map_notes.map((note) => <li key={note}>{note}</li>)}
        </ul>
      ) : (
        <div className="small text-body-secondary">Not read yet: its partitions are listed once its chunks are prepared.</div>
      )}
      <FirstBootSummary preview={image.first_boot_preview} />
      <SameContentWarning image={image} />
    </div>
  );
}

export function ImagesPage() {
  const can = usePermissions();
  const toast = useToast();
  const confirm = useConfirm();
  const images = useResource((signal) => api.images.list(signal), []);
  const system = useResource((signal) => api.system(signal), []);
  const [busyId, setBusyId] = useState<number | null>(null);
  useLiveReload(['image_uploaded', 'image_activated', 'image_updated', 'image_deleted'], images.reload);
  // Free space moves with every upload and deletion, from this page or another.
  useLiveReload(['image_uploaded', 'image_deleted'], system.reload);
  const limits: UploadLimits = useMemo(() => (system.data ? { maxBytes: system.data.max_image_bytes, freeBytes: system.data.disk.free_bytes } : null), [system.data]);

  const list = [...(images.data?.images ?? [])].sort((a, b) => a.product_type.localeCompare(b.product_type) || b.uploaded_at.localeCompare(a.uploaded_at));

  const activate = async (image: MasterImage) => {
    const current = list.find((i) => i.product_type === image.product_type && i.active);
    const ok = await confirm({
      title: `Activate ${image.product_type} ${image.version}?`,
      body: (
        <>
          <p>Every {image.product_type} device that asks for its configuration from now on receives this image{current ? <> instead of {current.version}</> : null}. Devices already downloading finish with the image they started.</p>
          <ImageContents image={image} />
        </>
      ),
      confirmLabel: 'Activate',
      variant: 'primary',
    });
    if (!ok) return;
    setBusyId(image.id);
    try {
      await api.images.activate(image.id);
      toast.success(`${image.product_type} ${image.version} is now the active image.`);
      images.reload();
    } catch (error) {
      toast.error(error, 'Image not activated');
    } finally {
      setBusyId(null);
    }
  };

  const remove = async (image: MasterImage) => {
    const ok = await confirm({ title: `Delete ${image.product_type} ${image.version}?`, body: <>The file <code>{image.filename}</code> ({formatBytes(image.size_bytes)}) is removed from the server. This cannot be undone.</>, confirmLabel: 'Delete image' });
    if (!ok) return;
    setBusyId(image.id);
    try {
      await api.images.remove(image.id);
      toast.success(`${image.product_type} ${image.version} deleted.`);
      images.reload();
    } catch (error) {
      toast.error(error, 'Image not deleted');
    } finally {
      setBusyId(null);
    }
  };

  return (
    <>
      <PageHeader title="Images" subtitle="The master OS images written to devices; one active per product" />
      {can.canWrite && <UploadCard images={list} limits={limits} onUploaded={() => images.reload()} />}
      <ErrorAlert error={images.error} onRetry={images.reload} />
      <div className="row g-3 mb-3">
        {PRODUCT_TYPES.map((p) => {
          const active = list.find((i) => i.product_type === p && i.active);
          return (
            <div className="col-12 col-md-6" key={p}>
              <div className={`card border-0 shadow-sm border-start border-4 ${active ? 'border-success' : 'border-warning'}`} data-testid={`active-image-${p}`}>
                <div className="card-body py-2">
                  <div className="small text-body-secondary text-uppercase fw-semibold">{p} devices receive</div>
                  {active ? <div><strong>{active.version}</strong> <span className="text-body-secondary small">({formatBytes(active.size_bytes)}, uploaded {formatDateTime(active.uploaded_at)})</span></div> : <div className="text-warning-emphasis">No active image — {p} devices cannot be imaged.</div>}
                </div>
              </div>
            </div>
          );
        })}
      </div>
      {images.loading ? (
        <Loading />
      ) : list.length === 0 ? (
        <EmptyState title="No images yet">{can.canWrite ? 'Upload the master image for each product above, then activate it.' : 'An operator uploads and activates the master images.'}</EmptyState>
      ) : (
        <div className="card shadow-sm border-0">
          <div className="table-responsive">
            <table className="table align-middle mb-0" data-testid="images-table">
              <thead>
                <tr>
                  <th scope="col">Product</th>
                  <th scope="col">Version</th>
                  <th scope="col" className="d-none d-lg-table-cell">File</th>
                  <th scope="col" className="d-none d-sm-table-cell">Size</th>
                  <th scope="col" className="d-none d-md-table-cell">SHA-256</th>
                  <th scope="col" className="d-none d-md-table-cell">Uploaded</th>
                  <th scope="col"><span className="visually-hidden">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {list.map((i) => (
                  <tr key={i.id} data-testid={`image-row-${i.id}`} data-version={i.version} data-active={i.active}>
                    <td>{i.product_type}</td>
                    <td>
                      <span className="fw-semibold">{i.version}</span> {i.active && <span className="badge text-bg-success" data-testid={`image-active-${i.id}`}>active</span>}
                      {i.description && <div className="small text-body-secondary">{i.description}</div>}
                      {/* A phone has no room for the size and hash columns: their gist goes under the version. */}
                      <div className="d-md-none small text-body-secondary text-break" data-testid={`image-summary-${i.id}`}>
                        <span className="d-sm-none">{formatBytes(i.size_bytes)} · </span>
                        <code title={i.sha256}>{i.sha256.slice(0, 12)}…</code>
                      </div>
                      <ImageGeneralization image={i} canWrite={can.canWrite} />
                      <SameContentWarning image={i} />
                    </td>
                    <td className="d-none d-lg-table-cell small">
                      <span className="font-monospace text-break">{i.filename}</span>
                      {UPLOADED_AS[i.source_format] && <div className="text-body-secondary" data-testid={`image-source-${i.id}`}>uploaded as {UPLOADED_AS[i.source_format]}</div>}
                    </td>
                    <td className="d-none d-sm-table-cell">
                      <div className="text-nowrap">{formatBytes(i.size_bytes)}</div>
                      <ImageDeliverySummary image={i} />
                    </td>
                    <td className="pc-sha d-none d-md-table-cell">
                      <code className="small text-break" title={i.sha256} data-testid={`image-sha-${i.id}`}>{i.sha256}</code>
                    </td>
                    <td className="d-none d-md-table-cell small">{formatDateTime(i.uploaded_at)}</td>
                    <td className="text-end">
                      {can.canWrite && !i.active && (
                        <div className="d-flex flex-column flex-sm-row gap-1 justify-content-end">
                          <button type="button" className="btn btn-sm btn-outline-success" disabled={busyId === i.id} onClick={() => void activate(i)} data-testid={`image-activate-${i.id}`}>Activate</button>
                          <button type="button" className="btn btn-sm btn-outline-danger" disabled={busyId === i.id} onClick={() => void remove(i)} data-testid={`image-delete-${i.id}`}>Delete</button>
                        </div>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
    </>
  );
}
