import type { ProductType } from '../contracts/domain.js';
import type { ProfileRevisionInfo, ProvisioningProfile } from '../contracts/provisioning-profile.js';
import type { Db } from './database.js';

export interface ProfileRevision extends ProfileRevisionInfo {
  profile: ProvisioningProfile;
}

interface RevisionRow extends ProfileRevisionInfo {
  profile: string;
}

const fromRow = (row: RevisionRow | undefined): ProfileRevision | null => (row ? { ...row, profile: JSON.parse(row.profile) as ProvisioningProfile } : null);

export function createProfileRepository(db: Db) {
  // `product_type IS ?` matches NULL (the venue-wide profile) as well as a product.
  const latest = db.prepare<[string, ProductType | null], RevisionRow>(
    'SELECT * FROM profile_revisions WHERE venue_code = ? AND product_type IS ? ORDER BY revision DESC LIMIT 1',
  );
  const byId = db.prepare<[number], RevisionRow>('SELECT * FROM profile_revisions WHERE id = ?');
  const insert = db.prepare<Omit<RevisionRow, 'id'>, RevisionRow>(`
    INSERT INTO profile_revisions (venue_code, product_type, revision, profile, created_at, created_by)
    VALUES (@venue_code, @product_type, @revision, @profile, @created_at, @created_by) RETURNING *`);
  const history = db.prepare<[string], ProfileRevisionInfo & { deployments: number }>(`
    SELECT r.id, r.venue_code, r.product_type, r.revision, r.created_at, r.created_by,
           (SELECT count(*) FROM deployment_profiles d WHERE d.revision_id = r.id) AS deployments
      FROM profile_revisions r WHERE r.venue_code = ? ORDER BY r.product_type IS NOT NULL, r.product_type, r.revision DESC`);
  const link = db.prepare<{ deployment_id: number; revision_id: number }>('INSERT INTO deployment_profiles (deployment_id, revision_id) VALUES (@deployment_id, @revision_id)');
  const ofDeployment = db.prepare<[number], RevisionRow>(
    'SELECT r.* FROM deployment_profiles d JOIN profile_revisions r ON r.id = d.revision_id WHERE d.deployment_id = ?',
  );

  return {
    latest: (venueCode: string, product: ProductType | null): ProfileRevision | null => fromRow(latest.get(venueCode, product)),
    find: (id: number): ProfileRevision | null => fromRow(byId.get(id)),
    insert: (revision: Omit<ProfileRevision, 'id'>): ProfileRevision => fromRow(insert.get({ ...revision, profile: JSON.stringify(revision.profile) }))!,
    /** Every revision of a venue (venue-wide first, newest first), with how many deployments received each. */
    history: (venueCode: string) => history.all(venueCode),
    recordForDeployment: (deploymentId: number, revisionId: number): void => void link.run({ deployment_id: deploymentId, revision_id: revisionId }),
    ofDeployment: (deploymentId: number): ProfileRevision | null => fromRow(ofDeployment.get(deploymentId)),
  };
}
export type ProfileRepository = ReturnType<typeof createProfileRepository>;
