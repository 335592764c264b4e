-- One table for every TM Forum resource (TMF620, TMF622, TMF632, TMF637): they share one
-- shape (id, href, @type, extensible JSON) and one set of operations. The resource is kept
-- whole; attribute filters run as SQL/JSON path predicates on it (GIN, jsonb_path_ops).
CREATE TABLE tmf_resource (
    kind        text        NOT NULL,
    id          uuid        NOT NULL,
    resource    jsonb       NOT NULL,
    -- The status member of every kind (lifecycleStatus, state or status), the filter lists
    -- use most: a column, so that filtering and counting on it read an index only.
    status      text        GENERATED ALWAYS AS (
                    coalesce(resource->>'lifecycleStatus', resource->>'state',
                             resource->>'status')) STORED,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (id)
);
CREATE INDEX tmf_resource_page_idx ON tmf_resource (kind, created_at, id);
CREATE INDEX tmf_resource_status_idx ON tmf_resource (kind, status, created_at, id);
-- Counts (X-Total-Count) by status: a small, deduplicated index read alone.
CREATE INDEX tmf_resource_count_idx ON tmf_resource (kind, status);
CREATE INDEX tmf_resource_filter_idx ON tmf_resource USING gin (resource jsonb_path_ops);

INSERT INTO tmf_resource (kind, id, resource, created_at, updated_at)
SELECT 'organization', id, resource, created_at, updated_at FROM organization;
DROP TABLE organization;

-- Event hubs (TMF630 part 2, "Notifications"): listeners registered per API.
CREATE TABLE hub (
    id          uuid        PRIMARY KEY,
    api         text        NOT NULL,
    callback    text        NOT NULL,
    query       text,
    event_types text[],
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hub_api_idx ON hub (api);

-- The outbox: every event (and every policy push to the catalogue) is written here in the
-- transaction that caused it, then delivered over HTTP with retries and backoff.
CREATE TABLE outbox (
    id              bigserial   PRIMARY KEY,
    hub_id          uuid        REFERENCES hub (id) ON DELETE CASCADE,
    method          text        NOT NULL,
    url             text        NOT NULL,
    body            jsonb,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, id);

-- Entitlements: what a completed order grants (read by the gateway).
CREATE TABLE entitlement (
    id           uuid        PRIMARY KEY,
    party        text        NOT NULL,
    tenant       text,
    datasets     text[]      NOT NULL,
    entity_types text[]      NOT NULL,
    actions      text[]      NOT NULL,
    purpose      text[]      NOT NULL DEFAULT '{}',
    max_count    integer,
    valid_from   timestamptz NOT NULL,
    valid_until  timestamptz,
    order_id     uuid        NOT NULL,
    product_id   uuid        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX entitlement_party_idx ON entitlement (party, valid_until);
CREATE INDEX entitlement_types_idx ON entitlement USING gin (entity_types);
CREATE INDEX entitlement_datasets_idx ON entitlement USING gin (datasets);
CREATE INDEX entitlement_product_idx ON entitlement (product_id);
