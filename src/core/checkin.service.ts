// First-boot check-ins: the written system's one report from its first boot (src/contracts/checkin.ts), and the
// sweep that finds written cards past their check-in deadline ("not booted").
import type { Deployment } from '../contracts/domain.js';
import type { CheckinRequest, DeploymentCheckin } from '../contracts/checkin.js';
import { AppError, isAppError } from '../contracts/errors.js';
import { isoOf, type CoreContext, type Emit } from './context.js';
import { sameHash, sha256Hex } from './deployment.service.js';
import { normalizeMac, normalizeSerial } from './identity.js';

export interface CheckinOutcome {
  deployment: Deployment;
  checkin: DeploymentCheckin;
  /** A later deployment of the same hostname exists: this card carries an older installation (worth a look). */
  newerDeployment: Deployment | null;
}

export function createCheckinService(ctx: CoreContext) {
  const { repos } = ctx;
  // Their own events, not deployment_status: the outcome of the installation has not changed, and its listeners
  // (the outcome log, batch counts) must not hear "completed" twice.
  const announce = (emit: Emit, name: 'deployment_booted' | 'deployment_not_booted', deployment: Deployment) =>
    emit(name, { deployment_id: deployment.id, hostname: deployment.hostname, deployment });

  function record(request: CheckinRequest, sourceIp: string | null): CheckinOutcome {
    return ctx.write((emit) => {
      const deployment = repos.deployments.find(request.deployment_id);
      if (!deployment) throw new AppError('NOT_FOUND', `There is no deployment ${request.deployment_id}; the check-in was refused.`);
      const token = repos.deployments.checkinTokenOf(deployment.id);
      if (!token?.checkin_token_sha256 || !sameHash(token.checkin_token_sha256, sha256Hex(request.checkin_token))) {
        throw new AppError('FORBIDDEN', `The check-in's token is not the one deployment ${deployment.id} (${deployment.hostname}) was given; the check-in was refused.`);
      }
      const now = ctx.now();
      if (!repos.deployments.useCheckinToken(deployment.id, isoOf(now))) {
        throw new AppError('CONFLICT', `Deployment ${deployment.id} (${deployment.hostname}) already checked in (at ${token.checkin_used_at ?? 'this very moment'}); a check-in token is good once, this one was refused.`);
      }
      const bootedAt = isoOf(new Date(now.getTime() - Math.round(request.uptime_s * 1000)));
      const checkin: DeploymentCheckin = {
        deployment_id: deployment.id,
        received_at: isoOf(now),
        booted_at: bootedAt,
        source_ip: sourceIp,
        hostname: request.hostname,
        serial_number: normalizeSerial(request.serial_number),
        mac_address: normalizeMac(request.mac_address),
        ip_addresses: request.ip_addresses,
        os_release: request.os_release,
        image_version: request.image_version,
        boot_time_unit: request.boot_time_unit_s === null ? null : isoOf(new Date(request.boot_time_unit_s * 1000)),
      };
      repos.deployments.saveCheckin(checkin);
      const booted = repos.deployments.markBooted(deployment.id, bootedAt)!;
      announce(emit, 'deployment_booted', booted);
      const latest = repos.deployments.findLatest({ hostname: booted.hostname });
      return { deployment: booted, checkin, newerDeployment: latest && latest.id !== booted.id ? latest : null };
    });
  }

  return {
    /**
     * Records a check-in once: its token must be the one this deployment's configuration answer carried, unused.
     * The boot is dated by the server's clock less the reported uptime (a Pi has no real-time clock before NTP).
     * A refusal is kept in the audit log (a replay, a forged token or a card from a lost database is worth a look).
     */
    checkIn(request: CheckinRequest, sourceIp: string | null): CheckinOutcome {
      try {
        return record(request, sourceIp);
      } catch (error) {
        if (isAppError(error)) {
          const known = repos.deployments.find(request.deployment_id);
          ctx.write(() =>
            repos.audit.insert({
              at: isoOf(ctx.now()),
              actor: `device ${sourceIp ?? ''}`.trim(),
              action: 'deployment.checkin_refused',
              target: known?.hostname ?? `deployment ${request.deployment_id}`,
              details: `${error.message} (it said hostname ${request.hostname}, serial ${request.serial_number ?? 'unknown'}, MAC ${request.mac_address ?? 'unknown'})`,
            }),
          );
        }
        throw error;
      }
    },

    checkinOf(deploymentId: number): DeploymentCheckin | null {
      if (!repos.deployments.find(deploymentId)) throw new AppError('NOT_FOUND', `There is no deployment ${deploymentId}.`);
      return repos.deployments.checkinOf(deploymentId);
    },

    /**
     * Marks written cards past their check-in deadline as not booted, each once, and announces them
     * (`deployment_not_booted`, for dashboards and notifications). Returns those it marked.
     */
    sweepNotBooted(): Deployment[] {
      return ctx.write((emit) => {
        const now = isoOf(ctx.now());
        const marked: Deployment[] = [];
        for (const late of repos.deployments.listNewlyNotBooted(now)) {
          const updated = repos.deployments.markNotBooted(late.id, now);
          if (!updated) continue;
          marked.push(updated);
          announce(emit, 'deployment_not_booted', updated);
        }
        return marked;
      });
    },
  };
}
export type CheckinService = ReturnType<typeof createCheckinService>;
