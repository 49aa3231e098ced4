-- The installer's code for a failure (src/contracts/installer-errors.ts), beside its message: the attention lane
-- tells failures apart by it. Older installers and the server's own failures leave it empty.
ALTER TABLE deployments ADD COLUMN error_code TEXT;
