-- Which datasets each write version changed, so that every replica's in-memory search
-- index can follow the catalogue by reading only what changed since its own version.
-- Versions are taken under the lock of the catalogue_version row, which each writing
-- transaction holds until it commits: versions therefore commit in order, and a snapshot
-- that sees version V sees every change up to V and none after it.
CREATE TABLE catalogue_change (
    version  bigint NOT NULL,
    -- the dataset written or deleted; NULL: every dataset (TRUNCATE)
    id       text
);
CREATE INDEX catalogue_change_version_idx ON catalogue_change (version);

-- Changes of versions up to this one may have been pruned: an index older than it is
-- rebuilt from the records.
ALTER TABLE catalogue_version ADD COLUMN pruned bigint NOT NULL DEFAULT 0;

CREATE FUNCTION catalogue_record_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v bigint;
BEGIN
  UPDATE catalogue_version SET version = version + 1 WHERE id = 1 RETURNING version INTO v;
  IF TG_OP = 'INSERT' THEN
    INSERT INTO catalogue_change SELECT DISTINCT v, id FROM new_rows WHERE kind = 'dataset';
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO catalogue_change
      SELECT v, id FROM new_rows WHERE kind = 'dataset'
      UNION SELECT v, id FROM old_rows WHERE kind = 'dataset';
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO catalogue_change SELECT DISTINCT v, id FROM old_rows WHERE kind = 'dataset';
  ELSE
    INSERT INTO catalogue_change VALUES (v, NULL);
  END IF;
  -- keep the changes of the last 10,000 versions
  IF v % 1000 = 0 THEN
    DELETE FROM catalogue_change WHERE version <= v - 10000;
    UPDATE catalogue_version SET pruned = greatest(pruned, v - 10000) WHERE id = 1;
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER record_changed ON record;
CREATE TRIGGER record_inserted AFTER INSERT ON record REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION catalogue_record_changed();
CREATE TRIGGER record_updated AFTER UPDATE ON record
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION catalogue_record_changed();
CREATE TRIGGER record_deleted AFTER DELETE ON record REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION catalogue_record_changed();
CREATE TRIGGER record_truncated AFTER TRUNCATE ON record
  FOR EACH STATEMENT EXECUTE FUNCTION catalogue_record_changed();
