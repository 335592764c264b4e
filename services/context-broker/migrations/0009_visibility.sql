-- The reader's visible entity types (ngsild/visibility.py): the gateway names entitled types,
-- and the broker compares them with the last segment of the stored type IRIs. type_name() is
-- the SQL twin of visibility.type_name (after the last '#', else '/', else ':'); a test holds
-- both to the same answers.
CREATE OR REPLACE FUNCTION type_name(iri text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT coalesce(
        substring(iri FROM '#([^#]+)$'),
        substring(iri FROM '/([^/]+)$'),
        substring(iri FROM ':([^:]+)$'),
        iri
    )
$$;

-- A subscription made through the gateway by a reader limited to some entity types is
-- notified of those types only (NULL: no limit).
-- Until when (the end of the entitlements that allowed it; NULL: no end). Such a subscriber
-- sees, changes and deletes only its own subscriptions (owner: the gateway's X-Mims-Subject):
-- another party's endpoint and receiverInfo (often a receiver's credentials) stay hidden.
ALTER TABLE subscription
    ADD COLUMN visible_types text[],
    ADD COLUMN visible_until timestamptz,
    ADD COLUMN owner text;
