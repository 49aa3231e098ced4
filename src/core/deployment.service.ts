// Deployments: a device asking for its configuration, then reporting its way to completed or failed.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Batch, Deployment, DeploymentStatus, MasterImage, ProductType } from '../contracts/domain.js';
import { FINAL_DEPLOYMENT_STATUSES, LEGACY_STATUS_ALIASES, PRODUCT_TYPES } from '../contracts/domain.js';
import type { ConfigRequest, StatusRequest } from '../contracts/device-api.js';
import type { DeploymentQuery, PagedResult, Report } from '../contracts/api.js';
import { AppError } from '../contracts/errors.js';
import { formatIsoDay } from '../contracts/format.js';
import { isNotBooted, isWrittenOnCounterfeitCard, type OperatorResolution } from '../contracts/attention.js';
import type { DeploymentFilter } from '../db/deployment.repository.js';
import { isoOf, type CoreContext, type Emit } from './context.js';
import { assignHostname, findHeldHostname } from './assignment.js';
import { normalizeIdentity, normalizeMac, normalizeSerial } from './identity.js';
import { normalizeVenueCode } from './venue.service.js';
import { servingBatchOf } from '../contracts/batch-queue.js';
import { settleBatch } from './batch-progress.js';
import type { DeviceProvisioning } from '../contracts/provisioning-profile.js';
import { provisionDeployment } from './profile.service.js';
import { FLEET_RATE_SAMPLE, fleetMedian, IDENTIFY_DEFAULT_S, identifyStateOf, type DeploymentLog, type IdentifyInstruction, type LogUpload } from '../contracts/card-health.js';

export interface DeviceConfig {
  deployment: Deployment;
  image: MasterImage;
  batch: Batch | null;
  /** True when the device already held its hostname (it asked again). */
  reused: boolean;
  /** The deployment's secret, for the configuration answer; only its SHA-256 is stored. */
  token: string;
  /** The venue's provisioning profile for this device (variables substituted), recorded against the deployment. */
  provisioning: DeviceProvisioning | null;
  /** The one-time secret of its first-boot check-in, written onto the card; only its SHA-256 is stored. */
  checkinToken: string;
}

export interface ReportOptions {
  /** Refuse reports without the deployment's token (PITCREW_REQUIRE_DEPLOYMENT_TOKEN), not only those with a wrong one. */
  requireToken?: boolean;
  /** Seconds a written card has from completion to check in before it counts as not booted (PITCREW_BOOT_DEADLINE_S). */
  bootDeadlineS?: number;
}

/** A status report's effect, and what its answer tells the device to do. */
export interface ReportOutcome {
  deployment: Deployment;
  identify: IdentifyInstruction | null;
}

export const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');
export const sameHash = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** PITCREW_BOOT_DEADLINE_S's default: a card set in its unit and powered on at once boots well within it. */
export const DEFAULT_BOOT_DEADLINE_S = 15 * 60;

const isFinal = (status: DeploymentStatus) => FINAL_DEPLOYMENT_STATUSES.includes(status);

/** Where a deployment counts on its batch: imaging, or its outcome. Only a move between these changes the counts. */
const batchBucketOf = (status: DeploymentStatus) => (isFinal(status) ? status : 'imaging');

export function normalizeStatus(status: StatusRequest['status']): DeploymentStatus {
  return (LEGACY_STATUS_ALIASES as Record<string, DeploymentStatus>)[status] ?? (status as DeploymentStatus);
}

/** "YYYY-MM-DD" as the start of that local day; `next` gives the start of the following one (exclusive end). */
export function localDayStart(day: string, next = false): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  const [year, month, dayOfMonth] = match ? [Number(match[1]), Number(match[2]) - 1, Number(match[3])] : [0, 0, 0];
  const date = new Date(year, month, dayOfMonth);
  // Date rolls 2026-13-45 over into 2027; a real date survives the round trip.
  if (!match || date.getFullYear() !== year || date.getMonth() !== month || date.getDate() !== dayOfMonth) throw new AppError('VALIDATION', `"${day.slice(0, 20)}" is not a date of the form YYYY-MM-DD.`);
  if (next) date.setDate(date.getDate() + 1);
  return date.toISOString();
}

/** `now` places the "stalled" line of the attention filter. */
export function toFilter(query: Omit<DeploymentQuery, 'page' | 'limit' | 'format'>, now: Date = new Date()): DeploymentFilter {
  const filter: DeploymentFilter = {
    venue: query.venue ? normalizeVenueCode(query.venue) : undefined,
    status: query.status,
    product: query.product,
    batch: query.batch,
    search: query.search?.trim() || undefined,
    from: query.from ? localDayStart(query.from) : undefined,
    to: query.to ? localDayStart(query.to, true) : undefined,
    attentionAt: query.attention ? now.toISOString() : undefined,
    boot: query.boot ? { state: query.boot, at: now.toISOString() } : undefined,
  };
  if (filter.from && filter.to && filter.from >= filter.to) throw new AppError('VALIDATION', 'The "from" date must not be after the "to" date.');
  return filter;
}

export function createDeploymentService(ctx: CoreContext) {
  const { repos } = ctx;

  const emitStatus = (emit: Emit, deployment: Deployment) =>
    emit('deployment_status', { deployment_id: deployment.id, status: deployment.status, progress: deployment.progress, deployment });

  /** Which venue and product this request is served for, and from which batch (if any). */
  function resolveTarget(request: ConfigRequest, heldVenue?: { venue_code: string; product_type: ProductType }) {
    if (heldVenue) return { ...heldVenue, batch: null };
    const batch = servingBatchOf(repos.batches.listActiveStored());
    if (batch) return { venue_code: batch.venue_code, product_type: batch.product_type, batch };
    if (!request.venue_code) {
      throw new AppError('NO_ACTIVE_BATCH', 'No deployment batch is active and the device did not name a venue: start a batch, or configure the installer with a venue code and product type.');
    }
    if (!request.product_type) throw new AppError('VALIDATION', `The device named venue ${request.venue_code} but no product type (KXP2 or RXP2).`);
    const venue_code = normalizeVenueCode(request.venue_code);
    if (!repos.venues.find(venue_code)) throw new AppError('NOT_FOUND', `There is no venue ${venue_code}.`);
    return { venue_code, product_type: request.product_type, batch: null };
  }

  /**
   * Only the device that received a deployment's token may report for it. A report carrying a wrong token is always
   * refused; one carrying none is refused when the server requires tokens, or once this deployment's reports have
   * carried it (its installer knows tokens, so a report without is not from it). Installers that predate tokens
   * (never sent one) keep working unless the operator requires them.
   */
  function checkToken(deployment: Deployment, presented: string | null, requireToken: boolean): void {
    const stored = repos.deployments.tokenOf(deployment.id);
    if (presented !== null) {
      if (!stored || !sameHash(stored.token_sha256, sha256Hex(presented))) {
        throw new AppError('FORBIDDEN', `The report's deployment_token is not the one deployment ${deployment.id} was given; the report was ignored.`);
      }
      if (!stored.confirmed_at) repos.deployments.confirmToken(deployment.id, isoOf(ctx.now()));
      return;
    }
    if (stored?.confirmed_at) {
      throw new AppError('FORBIDDEN', `Reports for deployment ${deployment.id} carry its deployment_token, and this one did not; it was ignored.`);
    }
    if (requireToken) {
      throw new AppError('FORBIDDEN', 'This server requires every status report to carry the deployment_token of its configuration answer (PITCREW_REQUIRE_DEPLOYMENT_TOKEN), and this one carried none: update the installer.');
    }
  }

  const service = {
    /**
     * The deployment a device speaks for, once its token checks out as for a status report (peer announces). A
     * final deployment still answers: a finished device serves others on.
     */
    authenticate(deploymentId: number, token: string | null, requireToken: boolean): Deployment {
      const deployment = repos.deployments.find(deploymentId);
      if (!deployment) throw new AppError('NOT_FOUND', `There is no deployment ${deploymentId}; ask for a configuration first.`);
      checkToken(deployment, token, requireToken);
      return deployment;
    },

    /**
     * Whether an image download (raw image, manifest, chunk) may go ahead: a token is always checked against the
     * deployment it names; none at all passes unless the server requires tokens (installers that predate them).
     * Chunk requests are hot (hundreds per device), so this is one primary-key probe by a prepared statement (the
     * page stays in SQLite's cache; microseconds beside a 4 MiB chunk) and a constant-time compare of the stored
     * hash. No cache of its own: one would have to follow deployments being deleted.
     */
    checkDownload(deploymentId: string | null, token: string | null, requireToken: boolean): void {
      if (token === null) {
        if (!requireToken) return;
        throw new AppError('UNAUTHENTICATED', 'This server requires every image download to carry the deployment token of its configuration answer (PITCREW_REQUIRE_DEPLOYMENT_TOKEN), and this one carried none: update the installer.');
      }
      const id = deploymentId !== null && /^[1-9]\d{0,14}$/.test(deploymentId) ? Number(deploymentId) : null;
      if (id === null) throw new AppError('VALIDATION', 'An image download that carries a deployment token must name its deployment (X-Pitcrew-Deployment-Id) as a positive integer.');
      const stored = repos.deployments.tokenOf(id);
      if (!stored || !sameHash(stored.token_sha256, sha256Hex(token))) {
        throw new AppError('FORBIDDEN', `The download's deployment token is not the one deployment ${id} was given; it was refused.`);
      }
    },

    /**
     * Everything a device needs to image itself, in one transaction: the hostname it holds or a new one (from the
     * active batch, else its own venue and product), the active image — checked before any hostname is consumed —
     * and a new deployment record. An earlier unfinished deployment of the same hostname is closed as superseded.
     */
    requestConfig(request: ConfigRequest, ip: string | null): DeviceConfig {
      const identity = normalizeIdentity(request);
      if (!identity.serial_number && !identity.mac_address) {
        throw new AppError('VALIDATION', 'The device sent neither a serial number nor a MAC address, so it cannot be told apart from others.');
      }
      return ctx.write((emit, markStatsChanged) => {
        const held = findHeldHostname(ctx, identity);
        const target = resolveTarget(request, held);
        const image = repos.images.findActive(target.product_type);
        if (!image) {
          throw new AppError('NO_ACTIVE_IMAGE', `No ${target.product_type} master image is active: upload one and activate it before deploying.`);
        }
        const assignment = held
          ? { entry: held, reused: true, batch: null }
          : assignHostname(ctx, emit, { venue_code: target.venue_code, product_type: target.product_type, identity, batch: target.batch });
        const now = isoOf(ctx.now());
        const movedBatches = new Set<number>();
        // An Identify asked for the device's previous record (a failed board retries on its own) is for this board still.
        const previous = repos.deployments.findLatest({ hostname: assignment.entry.hostname });
        const carriedIdentify = previous && identifyStateOf(previous, ctx.now().getTime()) === 'pending' ? previous : null;
        for (const open of repos.deployments.findOpenForHostname(assignment.entry.hostname)) {
          const closed = repos.deployments.update({
            ...open,
            status: 'superseded',
            message: 'Superseded: the device asked for its configuration again before finishing, and carries on under a newer deployment.',
            error_message: null,
            error_code: null,
            eta_s: null,
            rate_bps: 0,
            updated_at: now,
            completed_at: now,
          });
          if (closed) emitStatus(emit, closed);
          if (closed?.batch_id) movedBatches.add(closed.batch_id);
        }
        // Asking again is the re-image: earlier failures of this device, and cards it left unbooted or counterfeit,
        // are history now, off the lane.
        for (const resolved of repos.deployments.resolveFailuresOfHostname(assignment.entry.hostname, now)) emitStatus(emit, resolved);
        let deployment = repos.deployments.insert({
          hostname: assignment.entry.hostname,
          mac_address: identity.mac_address,
          serial_number: identity.serial_number,
          ip_address: ip,
          product_type: target.product_type,
          venue_code: assignment.entry.venue_code,
          // A device asking again stays a device of the batch that gave it its hostname: it is re-imaged there.
          batch_id: assignment.batch?.id ?? assignment.entry.batch_id,
          image_id: image.id,
          image_version: image.version,
          image_checksum: image.sha256,
          status: 'assigned',
          bytes_total: image.size_bytes,
          started_at: now,
          updated_at: now,
        });
        const token = randomBytes(24).toString('base64url');
        // Its own secret: the check-in's lives on the card, where anyone holding the card can read it, so it must
        // not be able to report progress, and it is good for one check-in only.
        const checkinToken = randomBytes(24).toString('base64url');
        repos.deployments.saveTokenHash(deployment.id, sha256Hex(token), sha256Hex(checkinToken));
        const provisioning = provisionDeployment(ctx, deployment, assignment.entry.kart_number);
        if (carriedIdentify) deployment = repos.deployments.requestIdentify(deployment.id, carriedIdentify.identify_requested_at!, carriedIdentify.identify_seconds ?? IDENTIFY_DEFAULT_S)!;
        emitStatus(emit, deployment);
        if (deployment.batch_id) movedBatches.add(deployment.batch_id);
        for (const batchId of movedBatches) settleBatch(ctx, emit, batchId);
        markStatsChanged();
        return { deployment, image, batch: assignment.batch, reused: assignment.reused, token, checkinToken, provisioning };
      });
    },

    /**
     * A device's progress report. Final states are final: a late report is refused, not applied, except that a
     * final report (completed or failed) overrules the stale sweep's failure, saying so in the audit log.
     */
    report(request: StatusRequest, ip: string | null, options: ReportOptions = {}): Deployment {
      return service.answerReport(request, ip, options).deployment;
    },

    /**
     * A report taken as `report` takes it, and what the answer carries: an operator's pending Identify, delivered
     * once (also to a device repeating its final report, since a failed board waits on the bench).
     */
    answerReport(request: StatusRequest, ip: string | null, options: ReportOptions = {}): ReportOutcome {
      const status = normalizeStatus(request.status);
      const serial = normalizeSerial(request.serial ?? request.serial_number);
      const mac = normalizeMac(request.mac_address);
      return ctx.write((emit, markStatsChanged) => {
        const deployment = request.deployment_id
          ? repos.deployments.find(request.deployment_id)
          : repos.deployments.findLatest({ hostname: request.hostname?.trim() || null, serial_number: serial, mac_address: mac });
        if (!deployment) {
          const which = request.deployment_id ? `deployment ${request.deployment_id}` : request.hostname ? `hostname ${request.hostname}` : serial ? `serial ${serial}` : mac ? `MAC ${mac}` : null;
          if (!which) throw new AppError('VALIDATION', 'A status report must name its deployment_id, hostname, serial or MAC address.');
          throw new AppError('NOT_FOUND', `No deployment matches ${which}; ask for a configuration first.`);
        }
        checkToken(deployment, request.deployment_token?.trim() || null, options.requireToken ?? false);
        if (request.hostname && request.deployment_id && request.hostname !== deployment.hostname) {
          throw new AppError('VALIDATION', `Deployment ${deployment.id} belongs to ${deployment.hostname}, not ${request.hostname}.`);
        }
        // The stale sweep's "failed" is a guess from silence; the device's own final word overrules it (a server
        // away while devices finished). Every other final state is final.
        const overrulesSweep = deployment.status === 'failed' && deployment.swept_at !== null && isFinal(status);
        const now = isoOf(ctx.now());
        const instruct = (current: Deployment): ReportOutcome => {
          const delivered = repos.deployments.deliverIdentify(current.id, now);
          if (!delivered) return { deployment: current, identify: null };
          emitStatus(emit, delivered);
          return { deployment: delivered, identify: { seconds: delivered.identify_seconds ?? IDENTIFY_DEFAULT_S } };
        };
        // The same final word again is a retry whose first attempt landed (its answer was lost): received, nothing changes.
        if (isFinal(deployment.status) && status === deployment.status && !overrulesSweep) return instruct(deployment);
        if (isFinal(deployment.status) && !overrulesSweep) {
          throw new AppError('DEPLOYMENT_FINAL', `Deployment ${deployment.id} (${deployment.hostname}) is already ${deployment.status}; the report was ignored.`);
        }
        const bytesTotal = request.bytes_total ?? deployment.bytes_total;
        const bytesDone = request.bytes_done ?? deployment.bytes_done;
        const progress =
          status === 'completed' ? 100 : request.progress ?? (request.bytes_done !== undefined && request.bytes_done !== null && bytesTotal > 0 ? Math.min(100, (100 * bytesDone) / bytesTotal) : deployment.progress);
        const change = {
          id: deployment.id,
          status,
          progress,
          bytes_done: status === 'completed' && bytesTotal > 0 ? bytesTotal : bytesDone,
          bytes_total: bytesTotal,
          rate_bps: request.rate_bps ?? (status === deployment.status ? deployment.rate_bps : 0),
          eta_s: isFinal(status) ? null : request.eta_s ?? (status === deployment.status ? deployment.eta_s : null),
          message: request.message ?? deployment.message,
          error_message: status === 'failed' ? request.error_message || request.message || 'The installer reported a failure without saying why.' : null,
          error_code: status === 'failed' ? request.error_code ?? null : null,
          ip_address: request.ip_address ?? ip,
          updated_at: now,
          completed_at: isFinal(status) ? now : null,
          bytes_from_peers: request.bytes_from_peers ?? deployment.bytes_from_peers,
          bytes_from_server: request.bytes_from_server ?? deployment.bytes_from_server,
        };
        let updated = overrulesSweep ? repos.deployments.overruleSweep(change) : repos.deployments.update(change);
        // The device's own failure is news: an acknowledgement given while it was open (of a stall) would keep it off
        // the lane for good. A re-image asked for stands; so does an acknowledged silence the stale sweep closes.
        if (updated && !overrulesSweep && status === 'failed' && updated.attention_resolution === 'acknowledged') {
          updated = repos.deployments.dropAcknowledgement(updated.id) ?? updated;
        }
        if (updated && status === 'completed' && request.checkin_installed && !updated.booted_at) {
          // From the instant recorded as completed_at: the deadline is exactly the boot deadline after it.
          updated = repos.deployments.setCheckinDue(updated.id, isoOf(new Date(Date.parse(now) + (options.bootDeadlineS ?? DEFAULT_BOOT_DEADLINE_S) * 1000)));
        }
        if (!updated) throw new AppError('DEPLOYMENT_FINAL', `Deployment ${deployment.id} (${deployment.hostname}) has just finished; the report was ignored.`);
        const writeBps = request.card_write_bps ?? null;
        if (request.card || writeBps !== null || request.card_read_bps != null) {
          // The fleet's median as it stood before this card: the "slow card" rule compares against it.
          const median = writeBps !== null ? fleetMedian(repos.deployments.recentWriteRates(FLEET_RATE_SAMPLE)) : null;
          updated = repos.deployments.saveCard({
            id: updated.id,
            card: request.card ?? null,
            write_bps: writeBps,
            read_bps: request.card_read_bps ?? null,
            fleet_median_write_bps: median === null ? null : Math.round(median),
          })!;
        }
        if (status === 'completed' && request.log_tail) repos.deployments.saveLogTail(deployment.id, request.log_tail, now);
        if (status === 'completed' && request.generalization) repos.deployments.saveGeneralization(deployment.id, request.generalization, now);
        if (overrulesSweep) {
          ctx.audit({
            actor: `device ${request.ip_address ?? ip ?? ''}`.trim(),
            action: 'deployment.sweep_overruled',
            target: deployment.hostname,
            details: `Deployment ${deployment.id} reported ${status} at ${now}, after the stale sweep had marked it failed at ${deployment.swept_at} (${deployment.error_message ?? 'no reports'}); the device's report stands.`,
          });
        }
        emitStatus(emit, updated);
        if (updated.batch_id && batchBucketOf(updated.status) !== batchBucketOf(deployment.status)) settleBatch(ctx, emit, updated.batch_id);
        if (updated.status !== deployment.status || overrulesSweep) markStatsChanged();
        return instruct(updated);
      });
    },

    /**
     * An operator's Identify: the board blinks its activity LED for `seconds` once its next status answer carries
     * the request. A device that no longer reports (installed and rebooted) never receives it.
     */
    requestIdentify(id: number, seconds: number = IDENTIFY_DEFAULT_S): Deployment {
      return ctx.write((emit) => {
        const deployment = repos.deployments.find(id);
        if (!deployment) throw new AppError('NOT_FOUND', `There is no deployment ${id}.`);
        if (deployment.status === 'completed' || deployment.status === 'superseded') {
          throw new AppError('CONFLICT', `Deployment ${id} (${deployment.hostname}) is ${deployment.status}: its installer no longer asks the server, so it cannot blink. Find the board by its hostname.`);
        }
        const requested = repos.deployments.requestIdentify(id, isoOf(ctx.now()), seconds)!;
        ctx.audit({ action: 'deployment.identify', target: deployment.hostname, details: { seconds } });
        emitStatus(emit, requested);
        return requested;
      });
    },

    /** The installer's log, sent by the device itself (its deployment token checks out as for a status report). */
    saveLog(id: number, upload: LogUpload, requireToken: boolean): DeploymentLog {
      return ctx.write(() => {
        const deployment = repos.deployments.find(id);
        if (!deployment) throw new AppError('NOT_FOUND', `There is no deployment ${id}; ask for a configuration first.`);
        checkToken(deployment, upload.deployment_token?.trim() || null, requireToken);
        const log: DeploymentLog = { deployment_id: id, kind: 'full', text: upload.log, truncated: upload.truncated ?? false, received_at: isoOf(ctx.now()) };
        repos.deployments.saveLog(log);
        return log;
      });
    },

    logOf(id: number): DeploymentLog {
      const log = repos.deployments.logOf(id);
      if (!log) throw new AppError('NOT_FOUND', repos.deployments.find(id) ? `Deployment ${id} has no installer log (installers before this version send none).` : `There is no deployment ${id}.`);
      return log;
    },

    /** Fails every unfinished deployment that has not reported within `timeoutMs`. Returns those it failed. */
    sweepStale(timeoutMs: number): Deployment[] {
      const cutoff = new Date(ctx.now().getTime() - timeoutMs);
      return ctx.write((emit, markStatsChanged) => {
        const now = isoOf(ctx.now());
        const minutes = Math.round(timeoutMs / 60_000);
        const failed: Deployment[] = [];
        for (const stale of repos.deployments.listStale(cutoff.toISOString())) {
          const updated = repos.deployments.update({
            ...stale,
            status: 'failed',
            error_message: `No report from the device for ${minutes >= 1 ? `${minutes} minute${minutes === 1 ? '' : 's'}` : `${Math.round(timeoutMs / 1000)} seconds`} (last status: ${stale.status}); marked failed.`,
            error_code: null,
            updated_at: now,
            completed_at: now,
          });
          if (!updated) continue;
          repos.deployments.markSwept(updated.id, now);
          failed.push({ ...updated, swept_at: now });
          emitStatus(emit, updated);
        }
        for (const batchId of new Set(failed.map((d) => d.batch_id).filter((id) => id !== null))) settleBatch(ctx, emit, batchId);
        if (failed.length) markStatsChanged();
        return failed;
      });
    },

    /**
     * Takes a device off the "needs attention" lane. `reimage` needs nothing more of the server: the device keeps
     * its hostname and starts over when it next asks for its configuration (requestConfig then marks it reimaged).
     */
    resolveAttention(id: number, resolution: OperatorResolution): Deployment {
      return ctx.write((emit) => {
        const deployment = repos.deployments.find(id);
        if (!deployment) throw new AppError('NOT_FOUND', `There is no deployment ${id}.`);
        const needsHand = isNotBooted(deployment, ctx.now().getTime()) || isWrittenOnCounterfeitCard(deployment);
        if ((deployment.status === 'completed' && !needsHand) || deployment.status === 'superseded') {
          throw new AppError('CONFLICT', `Deployment ${id} (${deployment.hostname}) is ${deployment.status}${deployment.status === 'completed' ? ', not overdue for its first-boot check-in and not on a counterfeit card' : ''}; only a failed, unfinished, not booted or counterfeit one can be acknowledged or re-imaged.`);
        }
        const resolved = repos.deployments.resolveAttention(id, resolution, isoOf(ctx.now()), ctx.actor())!;
        ctx.audit({ action: 'deployment.attention', target: resolved.hostname, details: { deployment: id, resolution } });
        emitStatus(emit, resolved);
        return resolved;
      });
    },

    get(id: number): Deployment {
      const deployment = repos.deployments.find(id);
      if (!deployment) throw new AppError('NOT_FOUND', `There is no deployment ${id}.`);
      return deployment;
    },

    list(query: DeploymentQuery): PagedResult<Deployment> {
      return repos.deployments.list(toFilter(query, ctx.now()), query.page ?? 1, query.limit ?? 50);
    },

    iterate: (query: DeploymentQuery, pageSize?: number): Iterable<Deployment> => repos.deployments.iterate(toFilter(query, ctx.now()), pageSize),

    /** Completion rate, durations, per venue and per day for a date range (local days, inclusive). */
    summarize(query: { from?: string; to?: string; venue?: string; product?: string }): Report {
      const now = ctx.now();
      const today = formatIsoDay(now);
      const to = query.to ?? today;
      const from = query.from ?? (() => {
        const start = new Date(localDayStart(to));
        start.setDate(start.getDate() - 29);
        return formatIsoDay(start);
      })();
      if (query.product && !PRODUCT_TYPES.includes(query.product as ProductType)) throw new AppError('VALIDATION', 'Product must be KXP2 or RXP2.');
      const filter = toFilter({ from, to, venue: query.venue, product: query.product as ProductType | undefined });
      const { overall, perVenue, perDay } = repos.deployments.summarize(filter, -now.getTimezoneOffset());
      const finished = overall.completed + overall.failed;
      return {
        from,
        to,
        total: overall.total,
        completed: overall.completed,
        failed: overall.failed,
        completion_rate: finished === 0 ? 0 : overall.completed / finished,
        average_duration_s: overall.average_duration_s,
        per_venue: perVenue,
        per_day: perDay,
      };
    },
  };
  return service;
}
export type DeploymentService = ReturnType<typeof createDeploymentService>;
