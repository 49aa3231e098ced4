-- Provisioning profiles: per venue (product_type NULL) and optionally per product, each change a new immutable
-- revision (JSON of contracts/provisioning-profile.ts `ProvisioningProfile`, secrets included: devices need them).
-- The current profile of a scope is its highest revision. Each deployment records the revision it was given, so a
-- profile changed while a batch runs leaves the devices already configured with theirs, and the record says which.
CREATE TABLE profile_revisions (
  id INTEGER PRIMARY KEY,
  venue_code TEXT NOT NULL REFERENCES venues(code) ON DELETE CASCADE,
  product_type TEXT CHECK (product_type IN ('KXP2', 'RXP2')),
  revision INTEGER NOT NULL CHECK (revision >= 1),
  profile TEXT NOT NULL,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL
);
CREATE UNIQUE INDEX profile_revisions_scope ON profile_revisions (venue_code, coalesce(product_type, ''), revision);
CREATE TRIGGER profile_revisions_immutable BEFORE UPDATE ON profile_revisions
BEGIN
  SELECT RAISE(ABORT, 'profile revisions are immutable');
END;
CREATE TABLE deployment_profiles (
  deployment_id INTEGER PRIMARY KEY REFERENCES deployments(id) ON DELETE CASCADE,
  revision_id INTEGER NOT NULL REFERENCES profile_revisions(id)
);
CREATE INDEX deployment_profiles_revision ON deployment_profiles (revision_id);
