// The images page's upload card: a master image sent with a real progress bar (bytes, rate, time left), checked
// here against the server's limits before a byte is sent, and its checksum shown once stored.
import { useCallback, useRef, useState, type FormEvent } from 'react';
import type { MasterImage, ProductType } from '../../../src/contracts/domain.js';
import { PRODUCT_TYPES } from '../../../src/contracts/domain.js';
import { ImageUploadFields } from '../../../src/contracts/api.js';
import { FIELD_LIMITS } from '../../../src/contracts/limits.js';
import { formatBytes, formatDuration, formatRate } from '../../../src/contracts/format.js';
import { ApiError, describeError, uploadImage, type UploadProgress } from '../api/api.client.js';
import { Field, useForm, type Errors } from './form.js';
import { useToast } from './toast.provider.js';
import { Busy, ProgressBar } from './ui.js';

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
export type UploadLimits = { maxBytes: number; freeBytes: number } | null;

/** What the file picker offers: raw disks and the archives the server decompresses as they arrive. */
const ACCEPTED_FILES = '.img,.xz,.gz,.zst,application/x-xz,application/gzip,application/zstd';
/** How an image was uploaded, for the list ("uploaded as .img.xz"); nothing for a raw disk. */
export const UPLOADED_AS: Record<MasterImage['source_format'], string | null> = { raw: null, gzip: '.img.gz', xz: '.img.xz', zstd: '.img.zst' };
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

export function UploadCard({ images, limits, onUploaded }: { images: MasterImage[]; limits: UploadLimits; onUploaded: (image: MasterImage) => void }) {
  const toast = useToast();
  const validate = useCallback(
    (v: Values): Errors<Values> => ({
      file: fileProblem(v.file, limits),
      version: !v.version.trim()
        ? 'Give the image a version, e.g. 2.4.1.'
        : v.version.length > FIELD_LIMITS.imageVersion.max
          ? `At most ${FIELD_LIMITS.imageVersion.max} characters.`
          : !VERSION.test(v.version)
            ? 'Letters, digits, dots, dashes, underscores and +; starting with a letter or digit.'
            : images.some((i) => i.product_type === v.product_type && i.version === v.version)
              ? `${v.product_type} version ${v.version} already exists.`
              : undefined,
      description: v.description.length > FIELD_LIMITS.imageDescription.max ? `At most ${FIELD_LIMITS.imageDescription.max} characters.` : undefined,
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
