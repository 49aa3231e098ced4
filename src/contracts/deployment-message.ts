// A device's report message also carries what the operator must read when a deployment succeeded with a caveat
// (the hostname could only go into /etc/hostname, the boot order could not be checked): the installer puts each
// warning on a line of its own after the summary, and the dashboard picks them out of the stored message. One
// definition for both sides, so the format cannot drift.
import { StatusRequest } from './device-api.js';
import { textLimitsOf } from './limits.js';

const WARNING_LINE = 'warning: ';

/** The longest message a report may carry, from the report's schema. */
const MESSAGE_MAX = textLimitsOf(StatusRequest.properties.message).max;

/** Summary, then one "warning: …" line per warning; warnings are shortened so that all of them fit. */
export function withWarnings(summary: string, warnings: readonly string[]): string {
  const lines = warnings.map((warning) => warning.replace(/\s+/g, ' ').trim()).filter(Boolean);
  if (lines.length === 0) return summary.slice(0, MESSAGE_MAX);
  const head = summary.replace(/\n/g, ' ').slice(0, MESSAGE_MAX / 2);
  const room = Math.floor((MESSAGE_MAX - head.length) / lines.length) - 1 - WARNING_LINE.length;
  const shorten = (line: string) => (line.length <= room ? line : `${line.slice(0, Math.max(0, room - 1))}…`);
  return [head, ...lines.map((line) => `${WARNING_LINE}${shorten(line)}`)].join('\n').slice(0, MESSAGE_MAX);
}

/** The warnings of a stored message (none for messages from installers that send none). */
export function readWarnings(message: string | null | undefined): string[] {
  if (!message) return [];
  return message
    .split('\n')
    .slice(1)
    .filter((line) => line.startsWith(WARNING_LINE))
    .map((line) => line.slice(WARNING_LINE.length));
}
