-- API clients are bound to tenants and act for a marketplace party; the built-in issuer's
-- signing keys (kept until retired so that tokens signed before a rotation stay valid).
ALTER TABLE api_client ADD COLUMN tenants text[] NOT NULL DEFAULT '{}';
ALTER TABLE api_client ADD COLUMN party text;

CREATE TABLE signing_key (
    kid         text PRIMARY KEY,
    private_pem bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);
