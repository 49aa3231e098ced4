// A QR code drawn as one SVG path, encoded in the browser (uqr: no network, no dependencies), so a label sheet
// prints from a venue network with no internet.
import { useMemo } from 'react';
import { encode } from 'uqr';

/** Modules of white around the code; the label's own margin adds to it. */
const QUIET_ZONE = 2;

export function QrCode({ payload, sizeMm, testId }: { payload: string; sizeMm: number; testId?: string }) {
  const { path, modules } = useMemo(() => {
    // Medium error correction: a label survives a scuff or a fold and still fits a long URL at a small size.
    const { data, size } = encode(payload, { ecc: 'M', border: 0 });
    const parts: string[] = [];
    data.forEach((row, y) => row.forEach((dark, x) => dark && parts.push(`M${x + QUIET_ZONE} ${y + QUIET_ZONE}h1v1h-1z`)));
    return { path: parts.join(''), modules: size + QUIET_ZONE * 2 };
  }, [payload]);
  return (
    <svg
      xmlns="http://www.w3.org/2000/svg"
      viewBox={`0 0 ${modules} ${modules}`}
      width={`${sizeMm}mm`}
      height={`${sizeMm}mm`}
      shapeRendering="crispEdges"
      role="img"
      aria-label={`QR code: ${payload}`}
      data-testid={testId}
      data-payload={payload}
    >
      <rect width={modules} height={modules} fill="#fff" />
      <path d={path} fill="#000" />
    </svg>
  );
}
