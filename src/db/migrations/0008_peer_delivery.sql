-- One-to-many delivery: per batch, whether its devices also fetch chunks from each other and how long a finished
-- device may keep serving; per deployment, where its chunk bytes came from and its part in the swarm.
ALTER TABLE batches ADD COLUMN peer_delivery INTEGER NOT NULL DEFAULT 1 CHECK (peer_delivery IN (0, 1));
ALTER TABLE batches ADD COLUMN peer_linger_s INTEGER NOT NULL DEFAULT 600 CHECK (peer_linger_s BETWEEN 0 AND 86400);
ALTER TABLE deployments ADD COLUMN bytes_from_peers INTEGER NOT NULL DEFAULT 0 CHECK (bytes_from_peers >= 0);
ALTER TABLE deployments ADD COLUMN bytes_from_server INTEGER NOT NULL DEFAULT 0 CHECK (bytes_from_server >= 0);
ALTER TABLE deployments ADD COLUMN delivery_role TEXT CHECK (delivery_role IN ('receiving', 'serving', 'done'));
