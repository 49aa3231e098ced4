import { FINAL_DEPLOYMENT_STATUSES, OUTCOME_DEPLOYMENT_STATUSES, type AttentionResolution, type Deployment, type DeploymentStatus, type PeerRole } from '../contracts/domain.js';
import type { ImageGeneralizationReport, PagedResult } from '../contracts/api.js';
import type { GeneralizationReport } from '../contracts/generalization.js';
import type { CardIdentity, DeploymentLog } from '../contracts/card-health.js';
import type { BootState, DeploymentCheckin } from '../contracts/checkin.js';
import { STALLED_AFTER_S } from '../contracts/attention.js';
import { COUNTERFEIT_CAPACITY_CHECKS } from '../contracts/card-health.js';
import type { Db } from './database.js';
import { containsPattern, SEARCH_DEVICE_COLUMNS, sqlList, whereOf } from './where.js';

export type NewDeployment = Pick<
  Deployment,
  'hostname' | 'mac_address' | 'serial_number' | 'ip_address' | 'product_type' | 'venue_code' | 'batch_id' | 'image_id' | 'image_version' | 'image_checksum' | 'status' | 'bytes_total' | 'started_at' | 'updated_at'
>;

/** What a report says about the card; absent parts keep what an earlier report said. */
export interface CardReport {
  id: number;
  card: CardIdentity | null;
  write_bps: number | null;
  read_bps: number | null;
  fleet_median_write_bps: number | null;
}

export interface DeploymentProgress {
  id: number;
  status: DeploymentStatus;
  progress: number;
  bytes_done: number;
  bytes_total: number;
  rate_bps: number;
  eta_s: number | null;
  message: string | null;
  error_message: string | null;
  error_code: string | null;
  ip_address: string | null;
  updated_at: string;
  completed_at: string | null;
  bytes_from_peers: number;
  bytes_from_server: number;
}

/** Filters with dates already turned into ISO instants (inclusive `from`, exclusive `to`). */
export interface DeploymentFilter {
  venue?: string;
  status?: DeploymentStatus;
  product?: string;
  batch?: number;
  from?: string;
  to?: string;
  search?: string;
  /** Only those needing a hand at this instant (src/contracts/attention.ts): failed, stalled, not booted or written on a counterfeit card. */
  attentionAt?: string;
  /** Only those in this boot state (bootStateOf in src/contracts/checkin.ts) at `at`. */
  boot?: { state: BootState; at: string };
}

// Written as NOT IN the final statuses, word for word as the partial index deployments_open, so SQLite uses it.
const OPEN = `status NOT IN (${sqlList(FINAL_DEPLOYMENT_STATUSES)})`;
const OUTCOME = `status IN (${sqlList(OUTCOME_DEPLOYMENT_STATUSES)})`;

// Mirrors attentionReasonOf in src/contracts/attention.ts: unresolved failures; open records silent for
// STALLED_AFTER_S before @attentionAt unless acknowledged after their last report; written cards past their check-in
// deadline unless re-imaged or acknowledged after it; cards written although the capacity check proved them
// counterfeit, unless re-imaged or acknowledged since they were written. The rule calls a counterfeit card past its
// deadline not booted first; no need to say so here, for its check-in deadline lies after its completion (set then,
// PITCREW_BOOT_DEADLINE_S later), so a silence counted as resolved counts the card as resolved too.
const AWAITING_CHECKIN = "status = 'completed' AND booted_at IS NULL AND checkin_due_at IS NOT NULL";
/** Nobody dealt with its silence: not re-imaged, and not acknowledged since its deadline. */
const BOOT_UNRESOLVED = "(attention_resolved_at IS NULL OR (attention_resolution <> 'reimaged' AND attention_resolved_at < checkin_due_at))";
const COUNTERFEIT_WRITTEN = `status = 'completed' AND card_capacity_check IN (${sqlList(COUNTERFEIT_CAPACITY_CHECKS)})`;
/** Nobody dealt with the card: not re-imaged, and not acknowledged since it was written. */
const COUNTERFEIT_UNRESOLVED = "(attention_resolved_at IS NULL OR (attention_resolution <> 'reimaged' AND attention_resolved_at < completed_at))";
const NEEDS_ATTENTION = `((status = 'failed' AND attention_resolved_at IS NULL)
  OR (${OPEN} AND updated_at < strftime('%Y-%m-%dT%H:%M:%fZ', @attentionAt, '-${STALLED_AFTER_S} seconds') AND (attention_resolved_at IS NULL OR attention_resolved_at < updated_at))
  OR (${AWAITING_CHECKIN} AND checkin_due_at <= @attentionAt AND ${BOOT_UNRESOLVED})
  OR (${COUNTERFEIT_WRITTEN} AND ${COUNTERFEIT_UNRESOLVED}))`;

// Mirrors bootStateOf in src/contracts/checkin.ts.
const BOOT_STATE_SQL: Record<BootState, string> = {
  booted: 'booted_at IS NOT NULL',
  awaiting: `${AWAITING_CHECKIN} AND checkin_due_at > @bootAt`,
  'not-booted': `${AWAITING_CHECKIN} AND checkin_due_at <= @bootAt`,
  'no-checkin': "status = 'completed' AND booted_at IS NULL AND checkin_due_at IS NULL",
};

const whereClause = (filter: DeploymentFilter) =>
  whereOf({
    venue: ['venue_code = @venue', filter.venue?.toUpperCase()],
    status: ['status = @status', filter.status],
    product: ['product_type = @product', filter.product],
    batch: ['batch_id = @batch', filter.batch],
    from: ['started_at >= @from', filter.from],
    to: ['started_at < @to', filter.to],
    search: [SEARCH_DEVICE_COLUMNS, containsPattern(filter.search)],
    attentionAt: [NEEDS_ATTENTION, filter.attentionAt],
    bootAt: [filter.boot ? `(${BOOT_STATE_SQL[filter.boot.state]})` : '', filter.boot?.at],
  });

export function createDeploymentRepository(db: Db) {
  const byId = db.prepare<[number], Deployment>('SELECT * FROM deployments WHERE id = ?');
  const insert = db.prepare<NewDeployment, Deployment>(`
    INSERT INTO deployments (hostname, mac_address, serial_number, ip_address, product_type, venue_code, batch_id, image_id,
                             image_version, image_checksum, status, bytes_total, started_at, updated_at)
    VALUES (@hostname, @mac_address, @serial_number, @ip_address, @product_type, @venue_code, @batch_id, @image_id,
            @image_version, @image_checksum, @status, @bytes_total, @started_at, @updated_at)
    RETURNING *`);
  const latestByHostname = db.prepare<[string], Deployment>('SELECT * FROM deployments WHERE hostname = ? ORDER BY id DESC LIMIT 1');
  const latestByHostnameAndSerial = db.prepare<[string, string], Deployment>(
    'SELECT * FROM deployments WHERE hostname = ? AND serial_number = ? ORDER BY id DESC LIMIT 1',
  );
  const latestBySerial = db.prepare<[string], Deployment>('SELECT * FROM deployments WHERE serial_number = ? ORDER BY id DESC LIMIT 1');
  const latestByMac = db.prepare<[string], Deployment>('SELECT * FROM deployments WHERE mac_address = ? ORDER BY id DESC LIMIT 1');
  const openForHostname = db.prepare<[string], Deployment>(`SELECT * FROM deployments WHERE hostname = ? AND ${OPEN}`);
  // The status guard makes a final state final even against a report racing the one that closed it.
  const update = db.prepare<DeploymentProgress, Deployment>(`
    UPDATE deployments SET status = @status, progress = @progress, bytes_done = @bytes_done, bytes_total = @bytes_total,
           rate_bps = @rate_bps, eta_s = @eta_s, message = @message, error_message = @error_message, error_code = @error_code,
           ip_address = coalesce(@ip_address, ip_address), updated_at = @updated_at, completed_at = @completed_at,
           bytes_from_peers = @bytes_from_peers, bytes_from_server = @bytes_from_server
     WHERE id = @id AND ${OPEN} RETURNING *`);
  const dropAcknowledgement = db.prepare<[number], Deployment>(`
    UPDATE deployments SET attention_resolved_at = NULL, attention_resolution = NULL, attention_resolved_by = NULL
     WHERE id = ? AND attention_resolution = 'acknowledged' RETURNING *`);
  // Only a record the stale sweep closed can be reopened, and only by the device's own final report.
  const overruleSweep = db.prepare<DeploymentProgress, Deployment>(`
    UPDATE deployments SET status = @status, progress = @progress, bytes_done = @bytes_done, bytes_total = @bytes_total,
           rate_bps = @rate_bps, eta_s = @eta_s, message = @message, error_message = @error_message, error_code = @error_code,
           ip_address = coalesce(@ip_address, ip_address), updated_at = @updated_at, completed_at = @completed_at,
           bytes_from_peers = @bytes_from_peers, bytes_from_server = @bytes_from_server
     WHERE id = @id AND status = 'failed' AND swept_at IS NOT NULL RETURNING *`);
  // A role in the swarm is not a status: a finished device serves on, so final records take it too.
  const setDeliveryRole = db.prepare<{ id: number; role: PeerRole; at: string }, Deployment>(
    'UPDATE deployments SET delivery_role = @role, updated_at = @at WHERE id = @id RETURNING *',
  );
  // Not guarded by status: a failure is final, and taking it off the lane changes nothing of its outcome.
  const resolveAttention = db.prepare<{ id: number; at: string; resolution: AttentionResolution; by: string }, Deployment>(
    'UPDATE deployments SET attention_resolved_at = @at, attention_resolution = @resolution, attention_resolved_by = @by WHERE id = @id RETURNING *',
  );
  const resolveFailuresOfHostname = db.prepare<{ hostname: string; at: string }, Deployment>(`
    UPDATE deployments SET attention_resolved_at = @at, attention_resolution = 'reimaged', attention_resolved_by = 'server'
     WHERE hostname = @hostname AND (status = 'failed' OR (${AWAITING_CHECKIN}) OR (${COUNTERFEIT_WRITTEN}))
       AND (attention_resolved_at IS NULL OR attention_resolution = 'reimage' OR (status = 'completed' AND attention_resolved_at < checkin_due_at)
            OR (${COUNTERFEIT_WRITTEN} AND ${COUNTERFEIT_UNRESOLVED})) RETURNING *`);
  const inSwarms = db.prepare<[], Deployment>("SELECT * FROM deployments WHERE delivery_role IN ('receiving', 'serving') ORDER BY id");
  const markSwept = db.prepare<{ id: number; swept_at: string }>('UPDATE deployments SET swept_at = @swept_at WHERE id = @id');
  const insertToken = db.prepare<{ deployment_id: number; token_sha256: string; checkin_token_sha256: string | null }>(
    'INSERT INTO deployment_tokens (deployment_id, token_sha256, checkin_token_sha256) VALUES (@deployment_id, @token_sha256, @checkin_token_sha256)',
  );
  const checkinTokenOf = db.prepare<[number], { checkin_token_sha256: string | null; checkin_used_at: string | null }>(
    'SELECT checkin_token_sha256, checkin_used_at FROM deployment_tokens WHERE deployment_id = ?',
  );
  // Guarded, so of two check-ins racing with the same token exactly one gets the change.
  const useCheckinToken = db.prepare<{ deployment_id: number; at: string }>(
    'UPDATE deployment_tokens SET checkin_used_at = @at WHERE deployment_id = @deployment_id AND checkin_used_at IS NULL',
  );
  const setCheckinDue = db.prepare<{ id: number; due: string }, Deployment>('UPDATE deployments SET checkin_due_at = @due WHERE id = @id RETURNING *');
  const markBooted = db.prepare<{ id: number; booted_at: string }, Deployment>('UPDATE deployments SET booted_at = @booted_at WHERE id = @id RETURNING *');
  const insertCheckin = db.prepare<Omit<DeploymentCheckin, 'ip_addresses'> & { ip_addresses: string }>(`
    INSERT INTO deployment_checkins (deployment_id, received_at, booted_at, source_ip, hostname, serial_number, mac_address, ip_addresses, os_release, image_version, boot_time_unit)
    VALUES (@deployment_id, @received_at, @booted_at, @source_ip, @hostname, @serial_number, @mac_address, @ip_addresses, @os_release, @image_version, @boot_time_unit)`);
  const checkinOf = db.prepare<[number], Omit<DeploymentCheckin, 'ip_addresses'> & { ip_addresses: string }>('SELECT * FROM deployment_checkins WHERE deployment_id = ?');
  // A card re-imaged (or acknowledged) before the sweep saw it is nobody's news.
  const newlyNotBooted = db.prepare<[string], Deployment>(
    `SELECT * FROM deployments WHERE ${AWAITING_CHECKIN} AND checkin_due_at <= ? AND not_booted_at IS NULL AND ${BOOT_UNRESOLVED} ORDER BY id`,
  );
  const markNotBooted = db.prepare<{ id: number; at: string }, Deployment>(
    `UPDATE deployments SET not_booted_at = @at WHERE id = @id AND ${AWAITING_CHECKIN} AND not_booted_at IS NULL RETURNING *`,
  );
  const tokenOf = db.prepare<[number], { token_sha256: string; confirmed_at: string | null }>('SELECT token_sha256, confirmed_at FROM deployment_tokens WHERE deployment_id = ?');
  const confirmToken = db.prepare<{ deployment_id: number; at: string }>('UPDATE deployment_tokens SET confirmed_at = @at WHERE deployment_id = @deployment_id AND confirmed_at IS NULL');
  const staleOpen = db.prepare<[string], Deployment>(`SELECT * FROM deployments WHERE ${OPEN} AND updated_at < ? ORDER BY id`);
  const activeCount = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM deployments WHERE ${OPEN}`);
  const finishedSince = db.prepare<[string], { status: DeploymentStatus; n: number }>(
    `SELECT status, count(*) AS n FROM deployments WHERE ${OUTCOME} AND completed_at >= ? GROUP BY status`,
  );
  const saveGeneralization = db.prepare<{ deployment_id: number; steps: string; reported_at: string }>(`
    INSERT INTO deployment_generalization (deployment_id, steps, reported_at) VALUES (@deployment_id, @steps, @reported_at)
    ON CONFLICT (deployment_id) DO UPDATE SET steps = excluded.steps, reported_at = excluded.reported_at`);
  const generalizationOf = db.prepare<[number], { steps: string }>('SELECT steps FROM deployment_generalization WHERE deployment_id = ?');
  const latestGeneralizationOfImage = db.prepare<[number], { deployment_id: number; hostname: string; reported_at: string; steps: string }>(`
    SELECT g.deployment_id, d.hostname, g.reported_at, g.steps FROM deployment_generalization g JOIN deployments d ON d.id = g.deployment_id
     WHERE d.image_id = ? ORDER BY g.reported_at DESC, g.deployment_id DESC LIMIT 1`);

  const saveCard = db.prepare<Record<string, unknown>, Deployment>(`
    UPDATE deployments SET card_kind = coalesce(@kind, card_kind), card_manufacturer = coalesce(@manufacturer, card_manufacturer),
           card_name = coalesce(@name, card_name), card_serial = coalesce(@serial, card_serial), card_cid = coalesce(@cid, card_cid),
           card_size_bytes = coalesce(@size_bytes, card_size_bytes), card_capacity_check = coalesce(@capacity_check, card_capacity_check),
           card_write_bps = coalesce(@write_bps, card_write_bps), card_read_bps = coalesce(@read_bps, card_read_bps),
           fleet_median_write_bps = coalesce(@fleet_median_write_bps, fleet_median_write_bps)
     WHERE id = @id RETURNING *`);
  const recentWriteRates = db.prepare<[number], number>(
    "SELECT card_write_bps FROM deployments WHERE status = 'completed' AND card_write_bps IS NOT NULL ORDER BY completed_at DESC LIMIT ?",
  ).pluck();
  const requestIdentify = db.prepare<{ id: number; at: string; seconds: number }, Deployment>(
    'UPDATE deployments SET identify_requested_at = @at, identify_seconds = @seconds WHERE id = @id RETURNING *',
  );
  // Only a pending request is delivered, once: the answer that carries it marks it so.
  const deliverIdentify = db.prepare<{ id: number; at: string }, Deployment>(`
    UPDATE deployments SET identify_delivered_at = @at
     WHERE id = @id AND identify_requested_at IS NOT NULL AND (identify_delivered_at IS NULL OR identify_delivered_at < identify_requested_at) RETURNING *`);
  const saveLog = db.prepare<{ deployment_id: number; kind: DeploymentLog['kind']; text: string; truncated: number; received_at: string }>(`
    INSERT INTO deployment_logs (deployment_id, kind, text, truncated, received_at) VALUES (@deployment_id, @kind, @text, @truncated, @received_at)
    ON CONFLICT (deployment_id) DO UPDATE SET kind = excluded.kind, text = excluded.text, truncated = excluded.truncated, received_at = excluded.received_at`);
  // A tail never replaces a full log (a failure's upload says more than a success's last lines).
  const saveTail = db.prepare<{ deployment_id: number; text: string; received_at: string }>(`
    INSERT INTO deployment_logs (deployment_id, kind, text, truncated, received_at) VALUES (@deployment_id, 'tail', @text, 1, @received_at)
    ON CONFLICT (deployment_id) DO UPDATE SET text = excluded.text, received_at = excluded.received_at WHERE deployment_logs.kind = 'tail'`);
  const logOf = db.prepare<[number], { deployment_id: number; kind: DeploymentLog['kind']; text: string; truncated: number; received_at: string }>(
    'SELECT deployment_id, kind, text, truncated, received_at FROM deployment_logs WHERE deployment_id = ?',
  );

  return {
    saveCard: (report: CardReport): Deployment | undefined =>
      saveCard.get({
        id: report.id,
        kind: report.card?.kind ?? null,
        manufacturer: report.card?.manufacturer ?? null,
        name: report.card?.name ?? null,
        serial: report.card?.serial ?? null,
        cid: report.card?.cid?.toLowerCase() ?? null,
        size_bytes: report.card?.size_bytes ?? null,
        capacity_check: report.card?.capacity_check ?? null,
        write_bps: report.write_bps,
        read_bps: report.read_bps,
        fleet_median_write_bps: report.fleet_median_write_bps,
      }),
    /** Write rates of the newest completed deployments that measured one. */
    recentWriteRates: (limit: number): number[] => recentWriteRates.all(limit),
    requestIdentify: (id: number, at: string, seconds: number): Deployment | undefined => requestIdentify.get({ id, at, seconds }),
    /** Marks a pending Identify delivered; undefined when none was pending. */
    deliverIdentify: (id: number, at: string): Deployment | undefined => deliverIdentify.get({ id, at }),
    saveLog: (log: Omit<DeploymentLog, 'truncated'> & { truncated: boolean }): void => void saveLog.run({ ...log, truncated: log.truncated ? 1 : 0 }),
    saveLogTail: (deploymentId: number, text: string, at: string): void => void saveTail.run({ deployment_id: deploymentId, text, received_at: at }),
    logOf: (deploymentId: number): DeploymentLog | undefined => {
      const row = logOf.get(deploymentId);
      return row ? { ...row, truncated: row.truncated === 1 } : undefined;
    },
    find: (id: number): Deployment | undefined => byId.get(id),
    insert: (row: NewDeployment): Deployment => insert.get(row)!,
    findLatest: (by: { hostname?: string | null; serial_number?: string | null; mac_address?: string | null }): Deployment | undefined => {
      if (by.hostname && by.serial_number) return latestByHostnameAndSerial.get(by.hostname, by.serial_number);
      if (by.hostname) return latestByHostname.get(by.hostname);
      if (by.serial_number) return latestBySerial.get(by.serial_number);
      if (by.mac_address) return latestByMac.get(by.mac_address);
      return undefined;
    },
    findOpenForHostname: (hostname: string): Deployment[] => openForHostname.all(hostname),
    /** Undefined when the deployment had already reached a final state. */
    update: (change: DeploymentProgress): Deployment | undefined => update.get(change),
    /** A final report overruling the stale sweep; undefined unless the sweep closed the record. */
    overruleSweep: (change: DeploymentProgress): Deployment | undefined => overruleSweep.get(change),
    markSwept: (id: number, at: string): void => void markSwept.run({ id, swept_at: at }),
    setDeliveryRole: (id: number, role: PeerRole, at: string): Deployment | undefined => setDeliveryRole.get({ id, role, at }),
    resolveAttention: (id: number, resolution: AttentionResolution, at: string, by: string): Deployment | undefined => resolveAttention.get({ id, resolution, at, by }),
    /** The device of `hostname` asked again: its earlier failures are history (also those marked for a re-image). */
    resolveFailuresOfHostname: (hostname: string, at: string): Deployment[] => resolveFailuresOfHostname.all({ hostname, at }),
    /** Deployments whose record says they take part in a swarm (receiving or serving). */
    listInSwarms: (): Deployment[] => inSwarms.all(),
    /** Keeps the SHA-256 of a deployment's token (never the token). */
    saveTokenHash: (deploymentId: number, sha256: string, checkinSha256: string | null = null): void =>
      void insertToken.run({ deployment_id: deploymentId, token_sha256: sha256, checkin_token_sha256: checkinSha256 }),
    checkinTokenOf: (deploymentId: number) => checkinTokenOf.get(deploymentId),
    /** Spends the deployment's one check-in; false when it was spent already. */
    useCheckinToken: (deploymentId: number, at: string): boolean => useCheckinToken.run({ deployment_id: deploymentId, at }).changes === 1,
    setCheckinDue: (id: number, due: string): Deployment | undefined => setCheckinDue.get({ id, due }),
    /** Forgets an acknowledgement (not a re-image asked for); undefined when there was none. */
    dropAcknowledgement: (id: number): Deployment | undefined => dropAcknowledgement.get(id),
    markBooted: (id: number, bootedAt: string): Deployment | undefined => markBooted.get({ id, booted_at: bootedAt }),
    saveCheckin: (checkin: DeploymentCheckin): void => void insertCheckin.run({ ...checkin, ip_addresses: JSON.stringify(checkin.ip_addresses) }),
    checkinOf: (deploymentId: number): DeploymentCheckin | null => {
      const row = checkinOf.get(deploymentId);
      return row ? { ...row, ip_addresses: JSON.parse(row.ip_addresses) as string[] } : null;
    },
    /** Written cards past their check-in deadline at `now` that nobody has announced as not booted yet. */
    listNewlyNotBooted: (now: string): Deployment[] => newlyNotBooted.all(now),
    /** Undefined when it checked in (or was marked) meanwhile. */
    markNotBooted: (id: number, at: string): Deployment | undefined => markNotBooted.get({ id, at }),
    tokenOf: (deploymentId: number): { token_sha256: string; confirmed_at: string | null } | undefined => tokenOf.get(deploymentId),
    /** From now on this deployment's reports must carry its token. */
    confirmToken: (deploymentId: number, at: string): void => void confirmToken.run({ deployment_id: deploymentId, at }),
    listStale: (updatedBefore: string): Deployment[] => staleOpen.all(updatedBefore),
    activeCount: (): number => activeCount.get()!.n,
    /** The generalisation steps a device reported with its final report. */
    saveGeneralization: (deploymentId: number, steps: GeneralizationReport, at: string): void =>
      void saveGeneralization.run({ deployment_id: deploymentId, steps: JSON.stringify(steps), reported_at: at }),
    generalizationOf: (deploymentId: number): GeneralizationReport | null => {
      const row = generalizationOf.get(deploymentId);
      return row ? (JSON.parse(row.steps) as GeneralizationReport) : null;
    },
    /** The newest report of generalisation steps among the image's deployments. */
    latestGeneralizationOfImage: (imageId: number): ImageGeneralizationReport | null => {
      const row = latestGeneralizationOfImage.get(imageId);
      return row ? { ...row, steps: JSON.parse(row.steps) as GeneralizationReport } : null;
    },
    finishedSince: (since: string): { completed: number; failed: number } => {
      const counts = { completed: 0, failed: 0 };
      for (const row of finishedSince.all(since)) counts[row.status as 'completed' | 'failed'] = row.n;
      return counts;
    },
    list: (filter: DeploymentFilter, page: number, limit: number): PagedResult<Deployment> => {
      const { clause, params } = whereClause(filter);
      const total = (db.prepare(`SELECT count(*) AS n FROM deployments ${clause}`).get(params) as { n: number }).n;
      const items = db
        .prepare(`SELECT * FROM deployments ${clause} ORDER BY id DESC LIMIT @limit OFFSET @offset`)
        .all({ ...params, limit, offset: (page - 1) * limit }) as Deployment[];
      return { items, total, page, limit };
    },
    /**
     * Every matching row, newest first, a page at a time (CSV export of any size). Pages, not one open cursor:
     * better-sqlite3 refuses every write on the connection while a statement iterates, and an export streams to
     * the client for as long as it takes, so one cursor would stall devices asking for their configuration.
     */
    iterate: function* (filter: DeploymentFilter, pageSize = 500): Generator<Deployment, void, undefined> {
      const { clause, params } = whereClause(filter);
      const page = db.prepare(`SELECT * FROM deployments ${clause ? `${clause} AND` : 'WHERE'} id < @before ORDER BY id DESC LIMIT @limit`);
      let before = Number.MAX_SAFE_INTEGER;
      for (;;) {
        const rows = page.all({ ...params, before, limit: pageSize }) as Deployment[];
        yield* rows;
        if (rows.length < pageSize) return;
        before = rows.at(-1)!.id;
      }
    },
    /** Finished deployments in a period, for reports: per venue and per local day (`dayOffsetMinutes` east of UTC). */
    summarize: (filter: DeploymentFilter, dayOffsetMinutes: number) => {
      const { clause, params } = whereClause(filter);
      const finished = `${clause ? `${clause} AND` : 'WHERE'} ${OUTCOME}`;
      const duration = "(julianday(completed_at) - julianday(started_at)) * 86400.0";
      const perVenue = db
        .prepare(`SELECT venue_code, sum(status = 'completed') AS completed, sum(status = 'failed') AS failed,
                         avg(CASE WHEN status = 'completed' THEN ${duration} END) AS average_duration_s
                    FROM deployments ${finished} GROUP BY venue_code ORDER BY venue_code`)
        .all(params) as Array<{ venue_code: string; completed: number; failed: number; average_duration_s: number | null }>;
      const perDay = db
        .prepare(`SELECT date(started_at, @offset) AS day, sum(status = 'completed') AS completed, sum(status = 'failed') AS failed
                    FROM deployments ${finished} GROUP BY day ORDER BY day`)
        .all({ ...params, offset: `${dayOffsetMinutes >= 0 ? '+' : ''}${dayOffsetMinutes} minutes` }) as Array<{ day: string; completed: number; failed: number }>;
      // Superseded records are neither results nor failures: the device carried on under a newer record.
      const overall = db
        .prepare(`SELECT count(*) AS total, coalesce(sum(status = 'completed'), 0) AS completed, coalesce(sum(status = 'failed'), 0) AS failed,
                         avg(CASE WHEN status = 'completed' THEN ${duration} END) AS average_duration_s
                    FROM deployments ${clause ? `${clause} AND` : 'WHERE'} status <> 'superseded'`)
        .get(params) as { total: number; completed: number; failed: number; average_duration_s: number | null };
      return { overall, perVenue, perDay };
    },
  };
}
export type DeploymentRepository = ReturnType<typeof createDeploymentRepository>;
