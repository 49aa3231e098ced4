-- Image delivery v2: how an image was uploaded, its block map and its store of zstd chunks (one row a chunk).

ALTER TABLE images ADD COLUMN source_format TEXT NOT NULL DEFAULT 'raw' CHECK (source_format IN ('raw', 'gzip', 'xz', 'zstd'));
-- NULL until the chunks are built; then 'filesystems' or 'whole' (mapping fell back to every byte).
ALTER TABLE images ADD COLUMN block_map TEXT CHECK (block_map IN ('filesystems', 'whole'));
ALTER TABLE images ADD COLUMN block_map_notes TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(block_map_notes));
ALTER TABLE images ADD COLUMN mapped_bytes INTEGER CHECK (mapped_bytes >= 0);
ALTER TABLE images ADD COLUMN compressed_bytes INTEGER CHECK (compressed_bytes >= 0);

CREATE TABLE image_chunks (
  image_id          INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  idx               INTEGER NOT NULL CHECK (idx >= 0),
  disk_offset       INTEGER NOT NULL CHECK (disk_offset >= 0),
  raw_length        INTEGER NOT NULL CHECK (raw_length > 0),
  -- Where the chunk's zstd frame lies in the image's chunk file.
  file_offset       INTEGER NOT NULL CHECK (file_offset >= 0),
  compressed_length INTEGER NOT NULL CHECK (compressed_length > 0),
  sha256            TEXT NOT NULL CHECK (length(sha256) = 64),
  PRIMARY KEY (image_id, idx)
) STRICT, WITHOUT ROWID;

-- The device's own estimate of the time left in its current phase (seconds).
ALTER TABLE deployments ADD COLUMN eta_s INTEGER CHECK (eta_s >= 0);
