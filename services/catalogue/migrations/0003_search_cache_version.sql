-- The catalogue's write version: bumped by every statement that changes records or
-- policies. Search results cached by a replica are valid while the version is unchanged
-- (each replica reads it, so caches never serve what another replica has changed).
CREATE TABLE catalogue_version (
    id       integer PRIMARY KEY CHECK (id = 1),
    version  bigint  NOT NULL
);
INSERT INTO catalogue_version (id, version) VALUES (1, 0);

CREATE FUNCTION catalogue_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE catalogue_version SET version = version + 1 WHERE id = 1;
  RETURN NULL;
END
$$;

CREATE TRIGGER record_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON record
  FOR EACH STATEMENT EXECUTE FUNCTION catalogue_bump_version();
CREATE TRIGGER policy_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON policy
  FOR EACH STATEMENT EXECUTE FUNCTION catalogue_bump_version();
