-- The @context a subscription was created with, as written (inline objects included), so that
-- its names can be read even when the ImplicitlyCreated @context hosted for it is deleted
-- (5.13.5 allows that). ``context`` keeps the URL that stands for it in notifications.
ALTER TABLE subscription ADD COLUMN context_value jsonb;
