-- The per-deployment secret handed to a device in its configuration answer: only its SHA-256 is kept. Once a report
-- has carried it (`confirmed_at`), every later report of that deployment must carry it too.
CREATE TABLE deployment_tokens (
  deployment_id INTEGER PRIMARY KEY REFERENCES deployments(id) ON DELETE CASCADE,
  token_sha256  TEXT NOT NULL CHECK (length(token_sha256) = 64),
  confirmed_at  TEXT
) STRICT;
