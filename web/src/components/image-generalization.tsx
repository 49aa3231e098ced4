// Whether the installer makes each card of this image a machine of its own, with the switch for operators: the
// steps its cards will get (found by inspecting the image when it was registered) and, once a device has installed
// it, the steps that device reported.
import { useState, type ReactNode } from 'react';
import type { MasterImage } from '../../../src/contracts/domain.js';
import type { ImageGeneralizationReport } from '../../../src/contracts/api.js';
import { GENERALIZATION_STEP_LABELS, type GeneralizationReport } from '../../../src/contracts/generalization.js';
import { api } from '../api/api.client.js';
import { formatDateTime } from '../../../src/contracts/format.js';
import { useToast } from './toast.provider.js';

export function ImageGeneralization({ image, canWrite }: { image: MasterImage; canWrite: boolean }) {
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  const [report, setReport] = useState<ImageGeneralizationReport | null | undefined>(undefined);

  const toggle = async () => {
    setBusy(true);
    try {
      await api.images.update(image.id, { generalize: !image.generalize });
      toast.success(`${image.product_type} ${image.version}: cards are ${image.generalize ? 'no longer' : 'now'} generalised.`);
    } catch (error) {
      toast.error(error, 'Generalisation not changed');
    } finally {
      setBusy(false);
    }
  };
  const load = () => {
    if (report !== undefined) return;
    api.images.detail(image.id).then((detail) => setReport(detail.generalization), () => setReport(null));
  };

  return (
    <div className="small text-body-secondary" data-testid={`image-generalize-${image.id}`}>
      {canWrite ? (
        <label className="form-check form-switch mb-0">
          <input className="form-check-input" type="checkbox" role="switch" checked={image.generalize} disabled={busy} onChange={() => void toggle()} data-testid={`image-generalize-switch-${image.id}`} />
          <span className="form-check-label">Each card its own machine</span>
        </label>
      ) : (
        <div>{image.generalize ? 'Each card its own machine' : 'Cards keep the master’s identity'}</div>
      )}
      {image.generalize && (
        <details onToggle={load}>
          <summary>Steps</summary>
          <StepList steps={image.generalization_preview?.steps ?? null} testId={`image-generalization-preview-${image.id}`}>
            {image.generalization_preview === null
              ? 'Not inspected yet (the server inspects older images in the background): see what a device reported below.'
              : image.generalization_preview.steps === null
                ? `The image could not be inspected (${image.generalization_preview.problem ?? 'unknown reason'}).`
                : 'From the image, at registration:'}
          </StepList>
          {report === undefined ? (
            <div>Loading what devices reported…</div>
          ) : report === null ? (
            <div>No device has installed it yet.</div>
          ) : (
            <StepList steps={report.steps} testId={`image-generalization-reported-${image.id}`}>
              As {report.hostname} reported them on {formatDateTime(report.reported_at)}:
            </StepList>
          )}
        </details>
      )}
    </div>
  );
}

function StepList({ steps, testId, children }: { steps: GeneralizationReport | null; testId: string; children: ReactNode }) {
  return (
    <div data-testid={testId}>
      <div>{children}</div>
      {steps && (
        <ul className="mb-1 ps-3">
          {steps.map((s) => (
            <li key={s.step} className={s.done ? '' : 'text-body-tertiary'}>
              {GENERALIZATION_STEP_LABELS[s.step]}: {s.note}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
