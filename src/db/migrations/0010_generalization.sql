-- Generalisation (each clone a machine of its own): per image, whether the installer generalises the cards it
-- writes (on unless an operator turns it off) and the steps it will run, found by inspecting the image when it was
-- registered (JSON {steps, problem}; NULL for images registered before); per deployment, the steps its installer
-- reported, done or skipped and why, as the JSON array of the report's `generalization` (contracts/generalization.ts).
ALTER TABLE images ADD COLUMN generalize INTEGER NOT NULL DEFAULT 1 CHECK (generalize IN (0, 1));
ALTER TABLE images ADD COLUMN generalization_preview TEXT;
CREATE TABLE deployment_generalization (
  deployment_id INTEGER PRIMARY KEY REFERENCES deployments(id) ON DELETE CASCADE,
  steps TEXT NOT NULL,
  reported_at TEXT NOT NULL
);
