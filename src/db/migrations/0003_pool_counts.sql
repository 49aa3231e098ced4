-- Pool counts kept up to date by triggers, so dashboards and capacity checks read a handful of rows instead of
-- counting a venue's whole pool on every assignment; and an index for "finished today".

CREATE TABLE pool_counts (
  venue_code   TEXT NOT NULL,
  product_type TEXT NOT NULL,
  status       TEXT NOT NULL,
  n            INTEGER NOT NULL CHECK (n >= 0),
  PRIMARY KEY (venue_code, product_type, status)
) STRICT, WITHOUT ROWID;

INSERT INTO pool_counts (venue_code, product_type, status, n)
  SELECT venue_code, product_type, status, count(*) FROM hostnames GROUP BY venue_code, product_type, status;

CREATE TRIGGER pool_counts_insert AFTER INSERT ON hostnames BEGIN
  INSERT INTO pool_counts (venue_code, product_type, status, n) VALUES (NEW.venue_code, NEW.product_type, NEW.status, 1)
    ON CONFLICT (venue_code, product_type, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER pool_counts_delete AFTER DELETE ON hostnames BEGIN
  UPDATE pool_counts SET n = n - 1 WHERE venue_code = OLD.venue_code AND product_type = OLD.product_type AND status = OLD.status;
END;

CREATE TRIGGER pool_counts_update AFTER UPDATE OF venue_code, product_type, status ON hostnames
  WHEN OLD.venue_code IS NOT NEW.venue_code OR OLD.product_type IS NOT NEW.product_type OR OLD.status IS NOT NEW.status
BEGIN
  UPDATE pool_counts SET n = n - 1 WHERE venue_code = OLD.venue_code AND product_type = OLD.product_type AND status = OLD.status;
  INSERT INTO pool_counts (venue_code, product_type, status, n) VALUES (NEW.venue_code, NEW.product_type, NEW.status, 1)
    ON CONFLICT (venue_code, product_type, status) DO UPDATE SET n = n + 1;
END;

CREATE INDEX deployments_by_completed ON deployments(completed_at) WHERE completed_at IS NOT NULL;
