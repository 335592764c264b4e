-- Subscriptions and notifications (ETSI GS CIM 009 V1.8.1, 5.8 and 5.11).
--
-- subscription: one row per subscription and tenant. ``doc`` is the subscription as the
-- client wrote it (compacted in ``context``); the columns beside it are what the broker
-- updates or filters on. ``generation`` (a sequence) moves on every subscription write so
-- that every broker process can tell cheaply that its in-memory copy is stale.
CREATE SEQUENCE subscription_generation;

CREATE TABLE subscription (
    tenant             text        NOT NULL DEFAULT '',
    id                 text        NOT NULL,
    doc                jsonb       NOT NULL,
    context            jsonb,
    is_active          boolean     NOT NULL DEFAULT true,
    expires_at         timestamptz,
    time_interval      double precision,
    next_periodic      timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    modified_at        timestamptz NOT NULL DEFAULT now(),
    times_sent         bigint      NOT NULL DEFAULT 0,
    times_failed       bigint      NOT NULL DEFAULT 0,
    last_notification  timestamptz,
    last_success       timestamptz,
    last_failure       timestamptz,
    delivery_status    text,
    PRIMARY KEY (tenant, id)
);

-- entity_change: the durable outbox of entity writes. A row is written by the triggers
-- below in the transaction of the write itself, so a change acknowledged to the writer is
-- never lost, whatever happens to the broker process afterwards. Rows are claimed by one
-- broker process at a time (FOR UPDATE SKIP LOCKED), turned into notification jobs and
-- deleted in one transaction. Nothing is written while no subscription exists.
CREATE TABLE entity_change (
    seq          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant       text        NOT NULL,
    id           text        NOT NULL,
    op           text        NOT NULL CHECK (op IN ('create', 'update', 'delete')),
    old_types    text[],
    old_attrs    jsonb,
    old_scopes   text[],
    new_types    text[],
    new_attrs    jsonb,
    new_scopes   text[],
    created_at   timestamptz,
    modified_at  timestamptz,
    at           timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- notification_job: a notification to deliver, its body rendered when the change was
-- matched. A process owns a job while ``lease_until`` is in the future; a job whose owner
-- died is taken over when the lease ends. Failed deliveries wait until ``next_at``.
CREATE TABLE notification_job (
    job           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant        text        NOT NULL,
    subscription  text        NOT NULL,
    endpoint      jsonb       NOT NULL,
    body          jsonb       NOT NULL,
    headers       jsonb       NOT NULL DEFAULT '{}',
    attempts      integer     NOT NULL DEFAULT 0,
    next_at       timestamptz NOT NULL DEFAULT now(),
    lease_until   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX notification_job_due_idx ON notification_job (next_at);

CREATE FUNCTION entity_change_capture() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM subscription) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO entity_change (tenant, id, op, new_types, new_attrs, new_scopes,
                                   created_at, modified_at)
        SELECT n.tenant, n.id, 'create', n.types, n.attrs, n.scopes, n.created_at, n.modified_at
        FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO entity_change (tenant, id, op, old_types, old_attrs, old_scopes,
                                   new_types, new_attrs, new_scopes, created_at, modified_at)
        SELECT n.tenant, n.id, 'update', o.types, o.attrs, o.scopes, n.types, n.attrs, n.scopes,
               n.created_at, n.modified_at
        FROM new_rows n JOIN old_rows o ON o.tenant = n.tenant AND o.id = n.id;
    ELSE
        INSERT INTO entity_change (tenant, id, op, old_types, old_attrs, old_scopes,
                                   created_at, modified_at)
        SELECT o.tenant, o.id, 'delete', o.types, o.attrs, o.scopes, o.created_at, o.modified_at
        FROM old_rows o;
    END IF;
    PERFORM pg_notify('mims_entity_change', '');
    RETURN NULL;
END
$$;

-- One trigger per event: PostgreSQL allows transition tables on single-event triggers only.
CREATE TRIGGER entity_change_insert AFTER INSERT ON entity
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION entity_change_capture();
CREATE TRIGGER entity_change_update AFTER UPDATE ON entity
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION entity_change_capture();
CREATE TRIGGER entity_change_delete AFTER DELETE ON entity
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION entity_change_capture();
