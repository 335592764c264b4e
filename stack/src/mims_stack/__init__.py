"""Developer tooling: the embedded PostgreSQL, migrations and the process supervisor behind
``make run`` and ``make test``. Not used by the services themselves."""
