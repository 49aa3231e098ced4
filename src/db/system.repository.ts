// Figures about the whole database for the system page and /metrics.
import type { DeploymentStatus, HostnameStatus, ProductType } from '../contracts/domain.js';
import type { Db } from './database.js';

export function createSystemRepository(db: Db) {
  const version = db.prepare<[], { v: string }>('SELECT sqlite_version() AS v');
  const deploymentsByState = db.prepare<[], { status: DeploymentStatus; product_type: ProductType; n: number }>(
    'SELECT status, product_type, count(*) AS n FROM deployments GROUP BY status, product_type',
  );
  const poolByState = db.prepare<[], { status: HostnameStatus; product_type: ProductType; n: number }>(
    'SELECT status, product_type, count(*) AS n FROM hostnames GROUP BY status, product_type',
  );
  const batchesByState = db.prepare<[], { status: string; n: number }>('SELECT status, count(*) AS n FROM batches GROUP BY status');

  return {
    sqliteVersion: (): string => version.get()!.v,
    deploymentsByState: () => deploymentsByState.all(),
    poolByState: () => poolByState.all(),
    batchesByState: () => batchesByState.all(),
  };
}
export type SystemRepository = ReturnType<typeof createSystemRepository>;
