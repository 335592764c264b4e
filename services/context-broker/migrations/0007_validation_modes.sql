-- MIM2 validation modes: per tenant and entity type (IRI), 'off', 'warn' or 'enforce'.
-- A type without a row follows the broker's default (setting BROKER_VALIDATION_DEFAULT_MODE).
CREATE TABLE validation_mode (
    tenant      text        NOT NULL DEFAULT '',
    type        text        NOT NULL,
    mode        text        NOT NULL CHECK (mode IN ('off', 'warn', 'enforce')),
    modified_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, type)
);
