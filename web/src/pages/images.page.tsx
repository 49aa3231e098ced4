// Master images: upload with a real progress bar (bytes, rate, time left), then activate the one devices get.
// Exactly one image per product can be active; an active image cannot be deleted.
import { useCallback, useMemo, useRef, useState, type FormEvent } from 'react';
import type { MasterImage, ProductType } from '../../../src/contracts/domain.js';
import { PRODUCT_TYPES } from '../../../src/contracts/domain.js';
import { ImageUploadFields } from '../../../src/contracts/api.js';
import { api, ApiError, describeError, uploadImage, type UploadProgress } from '../api/api.client.js';
import { useResource } from '../api/use-resource.js';
import { usePermissions } from '../auth/auth.context.js';
import { Field, useForm, type Errors } from '../components/form.js';
import { formatBytes, formatDateTime, formatDuration, formatRate } from '../components/format.js';
import { useConfirm } from '../components/modal.js';
import { useToast } from '../components/toast.provider.js';
import { Busy, EmptyState, ErrorAlert, Loading, PageHeader, ProgressBar } from '../components/ui.js';
import { useLiveReload } from '../live/live.hooks.js';
import { ImageDeliverySummary } from '../components/image-delivery.js';
import { ImageGeneralization } from '../components/image-generalization.js';

const VERSION = new RegExp((ImageUploadFields.properties.version as { pattern?: string }).pattern ?? '^[A-Za-z0-9][A-Za-z0-9._+-]*$');

type Values = { product_type: ProductType; version: string; description: string; file: File | null };
type Transfer = { loaded: number; total: number; startedAt: number; samples: Array<{ t: number; loaded: number }> };

function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="btn btn-sm btn-outline-secondary py-0"
      aria-label={label}
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => {
          setCopied(true);
          setTimeout(() => setCopied(false), 1500);
        });
      }}
    >
      {copied ? 'Copied' : 'Copy'}
    </button>
  );
}

/** What the server can take, from its status; null until known (the server still checks). */
type UploadLimits = { maxBytes: number; freeBytes: number } | null;

/** What the file picker offers: raw disks and the archives the server decompresses as they arrive. */
const ACCEPTED_FILES = '.img,.xz,.gz,.zst,application/x-xz,application/gzip,application/zstd';
/** How an image was uploaded, for the list ("uploaded as .img.xz"); nothing for a raw disk. */
const UPLOADED_AS: Record<MasterImage['source_format'], string | null> = { raw: null, gzip: '.img.gz', xz: '.img.xz', zstd: '.img.zst' };
/** By name only: the server goes by the content, but the browser cannot see inside an archive before sending it. */
const looksCompressed = (file: File) => /\.(xz|gz|gzip|zst|zstd)$/i.test(file.name);

/**
 * Refuses here, before a byte is sent, a file the server would refuse only after receiving part of it. A
 * compressed file's disk size is unknown until the server decompresses it: only its own size can be compared (a
 * file already over the limit or the free space is refused by the server at once); the disk is checked on arrival.
 */
function fileProblem(file: File | null, limits: UploadLimits): string | undefined {
  if (!file) return 'Choose the image file (.img, or .img.xz, .img.gz, .img.zst).';
  if (file.size === 0) return 'This file is empty.';
  const what = looksCompressed(file) ? 'compressed file' : 'file';
  if (limits && file.size > limits.maxBytes) return `This ${what} is ${formatBytes(file.size)}, over the server's ${formatBytes(limits.maxBytes)} upload limit (PITCREW_MAX_IMAGE_BYTES).`;
  if (limits && file.size > limits.freeBytes) return `The server has ${formatBytes(limits.freeBytes)} of disk free, too little for this ${formatBytes(file.size)} ${what}: delete old images first.`;
  return undefined;
}

/** Under the file input: what the server will still check for a compressed file. */
function fileHelp(file: File | null, limits: UploadLimits): string {
  if (!file || !looksCompressed(file)) return 'A raw disk image (.img), or one compressed as .img.xz, .img.gz or .img.zst: the server decompresses it as it arrives.';
  return `Compressed: the disk inside is larger than this file, and its size is known only once the server decompresses it${limits ? ` (it must fit in ${formatBytes(Math.min(limits.maxBytes, limits.freeBytes))})` : ''}.`;
}

function UploadCard({ images, limits, onUploaded }: { images: MasterImage[]; limits: UploadLimits; onUploaded: (image: MasterImage) => void }) {
  const toast = useToast();
  const validate = useCallback(
    (v: Values): Errors<Values> => ({
      file: fileProblem(v.file, limits),
      version: !v.version.trim()
        ? 'Give the image a version, e.g. 2.4.1.'
        : v.version.length > 64
          ? 'At most 64 characters.'
          : !VERSION.test(v.version)
            ? 'Letters, digits, dots, dashes, underscores and +; starting with a letter or digit.'
            : images.some((i) => i.product_type === v.product_type && i.version === v.version)
              ? `${v.product_type} version ${v.version} already exists.`
              : undefined,
      description: v.description.length > 2000 ? 'At most 2000 characters.' : undefined,
    }),
    [images, limits],
  );
  const form = useForm<Values>({ product_type: 'KXP2', version: '', description: '', file: null }, validate);
  const [transfer, setTransfer] = useState<Transfer | null>(null);
  const [serverError, setServerError] = useState<string | null>(null);
  const [result, setResult] = useState<MasterImage | null>(null);
  const abort = useRef<AbortController | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    form.markSubmitted();
    if (!form.isValid || !form.values.file) return;
    const file = form.values.file;
    const controller = new AbortController();
    abort.current = controller;
    setServerError(null);
    setResult(null);
    const startedAt = performance.now();
    setTransfer({ loaded: 0, total: file.size, startedAt, samples: [{ t: startedAt, loaded: 0 }] });
    try {
      const answer = await uploadImage(
        { product_type: form.values.product_type, version: form.values.version.trim(), description: form.values.description.trim() || undefined },
        file,
        (p: UploadProgress) =>
          setTransfer((t) => {
            const now = performance.now();
            // The rate is measured over the last few seconds, so it follows the network rather than the average.
            const samples = [...(t?.samples ?? []), { t: now, loaded: p.loaded }].filter((s) => now - s.t < 3000);
            return { loaded: p.loaded, total: p.total || file.size, startedAt: t?.startedAt ?? startedAt, samples };
          }),
        controller.signal,
      );
      setResult(answer.image);
      toast.success(`${answer.image.product_type} ${answer.image.version} uploaded (${formatBytes(answer.image.size_bytes)}).`, 'Image uploaded');
      if (answer.image.same_content_as.length > 0) {
        toast.warning(`It has the same content as ${answer.image.same_content_as.map((o) => `${o.product_type} ${o.version}`).join(', ')}: check it is the build you meant.`);
      }
      form.reset({ product_type: form.values.product_type, version: '', description: '', file: null });
      if (fileInput.current) fileInput.current.value = '';
      onUploaded(answer.image);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'ABORTED') toast.info('Upload cancelled; nothing was kept on the server.');
      else setServerError(describeError(error));
    } finally {
      abort.current = null;
      setTransfer(null);
    }
  };

  const uploading = transfer !== null;
  const percent = transfer && transfer.total > 0 ? (transfer.loaded / transfer.total) * 100 : 0;
  const first = transfer?.samples[0];
  const last = transfer?.samples[transfer.samples.length - 1];
  const rate = first && last && last.t > first.t ? ((last.loaded - first.loaded) * 1000) / (last.t - first.t) : 0;
  const left = transfer && rate > 0 ? (transfer.total - transfer.loaded) / rate : null;

  return (
    <div className="card shadow-sm border-0 mb-4" data-testid="image-upload">
      <div className="card-header bg-transparent"><h2 className="h6 mb-0">Upload a master image</h2></div>
      <div className="card-body">
        <form onSubmit={(event) => void submit(event)} noValidate>
          {serverError && <div className="alert alert-danger" role="alert" data-testid="image-upload-error">{serverError}</div>}
          <div className="row g-3">
            <div className="col-12 col-md-6">
              <Field label="Image file" error={form.shown('file')} className="" help={fileHelp(form.values.file, limits)} testId="image-file">
                {({ id, describedBy, className }) => (
                  <input
                    id={id}
                    ref={fileInput}
                    type="file"
                    accept={ACCEPTED_FILES}
                    aria-describedby={describedBy}
                    className={className()}
                    disabled={uploading}
                    onChange={(e) => {
                      const file = e.target.files?.[0] ?? null;
                      form.set('file', file);
                      // Suggest a version from names like "kxp2_v2.4.1.img".
                      const guess = file?.name.match(/v?(\d+(?:\.\d+)+[A-Za-z0-9._+-]*?)(?:\.img.*)?$/i)?.[1];
                      if (guess && !form.values.version) form.set('version', guess);
                    }}
                    data-testid="image-file"
                  />
                )}
              </Field>
            </div>
            <div className="col-6 col-md-2">
              <Field label="Product" className="">
                {({ id, className }) => (
                  <select id={id} className={className('form-select')} value={form.values.product_type} onChange={(e) => form.set('product_type', e.target.value as ProductType)} disabled={uploading} data-testid="image-product">
                    {PRODUCT_TYPES.map((p) => <option key={p} value={p}>{p}</option>)}
                  </select>
                )}
              </Field>
            </div>
            <div className="col-6 col-md-4">
              <Field label="Version" error={form.shown('version')} className="" testId="image-version">
                {({ id, describedBy, className }) => (
                  <input id={id} aria-describedby={describedBy} className={className()} value={form.values.version} onChange={(e) => form.set('version', e.target.value)} disabled={uploading} placeholder="2.4.1" data-testid="image-version" />
                )}
              </Field>
            </div>
            <div className="col-12">
              <Field label="Description (optional)" error={form.shown('description')} className="">
                {({ id, describedBy, className }) => (
                  <input id={id} aria-describedby={describedBy} className={className()} value={form.values.description} onChange={(e) => form.set('description', e.target.value)} disabled={uploading} placeholder="What changed in this image" data-testid="image-description" />
                )}
              </Field>
            </div>
          </div>
          {transfer && (
            <div className="mt-3" data-testid="image-upload-progress" aria-live="polite">
              <ProgressBar value={percent} label="Upload progress" moving testId="image-upload-bar" height={16} />
              <div className="d-flex flex-wrap justify-content-between small mt-1 gap-2">
                <span><strong>{Math.floor(percent)} %</strong> · {formatBytes(transfer.loaded)} of {formatBytes(transfer.total)}</span>
                <span className="text-body-secondary">
                  {transfer.loaded >= transfer.total ? (form.values.file && looksCompressed(form.values.file) ? 'Decompressing, checking and storing on the server…' : 'Checking and storing on the server…') : <>{formatRate(rate)}{left !== null && <> · {formatDuration(left)} left</>}</>}
                </span>
              </div>
            </div>
          )}
          <div className="mt-3 d-flex gap-2">
            <button type="submit" className="btn btn-primary" disabled={uploading || (form.submitted && !form.isValid)} data-testid="image-upload-submit">
              <Busy busy={uploading}>{uploading ? 'Uploading…' : 'Upload'}</Busy>
            </button>
            {uploading && <button type="button" className="btn btn-outline-danger" onClick={() => abort.current?.abort()} data-testid="image-upload-cancel">Cancel upload</button>}
          </div>
        </form>
        {result && (
          <div className="alert alert-success mt-3 mb-0" data-testid="image-upload-result">
            <div><strong>{result.product_type} {result.version}</strong> stored as <code>{result.filename}</code> ({formatBytes(result.size_bytes)}{UPLOADED_AS[result.source_format] && <>, decompressed from the uploaded {UPLOADED_AS[result.source_format]}</>}).</div>
            <div className="small mt-1">SHA-256: <code className="text-break" data-testid="image-upload-checksum">{result.sha256}</code> <CopyButton text={result.sha256} label="Copy checksum" /></div>
            {!result.active && <div className="small mt-1">Activate it below to serve it to {result.product_type} devices.</div>}
          </div>
        )}
      </div>
    </div>
  );
}

/** The same bytes under another version: usually a rebuild that was not rebuilt. Flagged, not refused. */
function SameContentWarning({ image }: { image: MasterImage }) {
  if (image.same_content_as.length === 0) return null;
  return (
    <div className="small text-warning-emphasis" data-testid={`image-same-content-${image.id}`}>
      ⚠ Same content (SHA-256) as {image.same_content_as.map((o) => `${o.product_type} ${o.version}`).join(', ')}
    </div>
  );
}

/** What the image holds, from the block map's reading of its partition table and filesystems. */
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
