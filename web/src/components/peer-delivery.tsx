// One-to-many delivery as a device shows it: its part in the swarm (receiving, serving others once installed, done)
// and how much of what it received came from other devices rather than from the server.
import type { ReactNode } from 'react';
import type { Deployment, PeerRole } from '../../../src/contracts/domain.js';
import { formatBytes } from '../../../src/contracts/format.js';

const ROLE: Record<PeerRole, { className: string; title: string }> = {
  receiving: { className: 'bg-primary-subtle text-primary-emphasis border border-primary-subtle', title: 'fetching chunks from other devices and the server; passes on what it holds' },
  // Installed but still powered and needed: the one role an operator must not mistake for "finished, unplug it".
  serving: { className: 'text-bg-info', title: 'installed; serving chunks to other devices before it reboots' },
  done: { className: 'bg-secondary-subtle text-secondary-emphasis border border-secondary-subtle', title: 'no longer takes part in one-to-many delivery' },
};

export function PeerRoleBadge({ role, testId }: { role: PeerRole | null; testId?: string }) {
  if (role === null) return null;
  const { className, title } = ROLE[role];
  return (
    <span className={`badge ${className}`} title={title} data-testid={testId} data-role={role}>
      {role}
    </span>
  );
}

export interface PeerShare {
  fromPeers: number;
  fromServer: number;
  /** fromPeers ÷ (fromPeers + fromServer), 0–1. */
  ratio: number;
}

/** Where a device's chunk bytes came from; null while it has received none, or where it took no part. */
export function peerShareOf(d: Pick<Deployment, 'bytes_from_peers' | 'bytes_from_server' | 'delivery_role'>): PeerShare | null {
  const total = d.bytes_from_peers + d.bytes_from_server;
  if (d.delivery_role === null || total <= 0) return null;
  return { fromPeers: d.bytes_from_peers, fromServer: d.bytes_from_server, ratio: d.bytes_from_peers / total };
}

/** "42 %", never "0 %" for some or "100 %" for not quite all. */
export function formatShare(ratio: number): string {
  const percent = ratio * 100;
  if (percent > 0 && percent < 1) return '<1 %';
  if (percent < 100 && percent > 99) return '>99 %';
  return `${Math.round(percent)} %`;
}

export const describeShare = (share: PeerShare): string => `${formatBytes(share.fromPeers)} from peers · ${formatBytes(share.fromServer)} from the server`;

/** "42 % from peers", both byte counts in its title; `empty` where the device took no part or received nothing yet. */
export function PeerShareText({ deployment, suffix = ' from peers', className, testId, empty = null }: {
  deployment: Deployment;
  suffix?: string;
  className?: string;
  testId?: string;
  empty?: ReactNode;
}) {
  const share = peerShareOf(deployment);
  if (!share) return empty;
  return (
    <span className={className} title={describeShare(share)} data-testid={testId} data-share={share.ratio.toFixed(4)}>
      {formatShare(share.ratio)}{suffix}
    </span>
  );
}

/** How long a finished device of a batch may keep serving, in words: "10 min", "90s", "1 min 30s". */
export function describeLinger(seconds: number): string {
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)} min ${seconds % 60}s`;
}

/** "serves ≤ 10 min", or what a batch whose finished devices serve nobody does instead. */
export const describeServing = (seconds: number): string => (seconds > 0 ? `serves ≤ ${describeLinger(seconds)}` : 'reboots once installed');
