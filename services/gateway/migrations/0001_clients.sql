-- API clients of the gateway. Keys are stored only as SHA-256 digests.
CREATE TABLE api_client (
    id          uuid PRIMARY KEY,
    name        text        NOT NULL,
    roles       text[]      NOT NULL DEFAULT '{}',
    key_prefix  text        NOT NULL,
    key_sha256  bytea       NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
