from __future__ import annotations

import pytest
from pydantic import SecretStr

from mims_shared.db import database_name, database_url_for, libpq_url, maintenance_url
from mims_shared.settings import ServiceSettings
from mims_shared.telemetry import tracing_requested


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ("postgresql://u:p@db:5432/postgres", "postgresql+asyncpg://u:p@db:5432/mims_x"),
        ("postgres://u@db/other", "postgresql+asyncpg://u@db/mims_x"),
        (
            "postgresql://postgres:@/postgres?host=/tmp/pg",
            "postgresql+asyncpg://postgres:@/mims_x?host=%2Ftmp%2Fpg",
        ),
    ],
)
def test_database_url_for(server: str, expected: str) -> None:
    assert database_url_for(server, "mims_x") == expected


def test_database_names_must_be_plain_identifiers() -> None:
    with pytest.raises(ValueError, match="plain lower-case identifier"):
        database_url_for("postgresql://db/x", 'x"; DROP DATABASE y; --')
    with pytest.raises(ValueError, match="plain lower-case identifier"):
        database_name("postgresql+asyncpg://db/Bad-Name")


def test_libpq_and_maintenance_urls() -> None:
    url = "postgresql+asyncpg://u:p@db:5432/mims_x?host=/s"
    assert libpq_url(url) == "postgresql://u:p@db:5432/mims_x?host=%2Fs"
    assert maintenance_url(url) == "postgresql://u:p@db:5432/postgres?host=%2Fs"


def test_service_database_comes_from_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db:5432/postgres")
    s = ServiceSettings(service_name="context-broker")
    assert s.require_database_url() == "postgresql+asyncpg://u@db:5432/mims_context_broker"
    own = ServiceSettings(service_name="x", database_url=SecretStr("postgresql+asyncpg://o/o"))
    assert own.require_database_url() == "postgresql+asyncpg://o/o"


def test_missing_database_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="no database configured"):
        ServiceSettings(service_name="x").require_database_url()


def test_gateway_refuses_the_dev_admin_token_in_prod() -> None:
    from gateway.settings import GatewaySettings

    with pytest.raises(ValueError, match="GATEWAY_ADMIN_TOKEN"):
        GatewaySettings(environment="prod", database_url=SecretStr("postgresql+asyncpg://a/b"))
    ok = GatewaySettings(
        environment="prod",
        admin_token=SecretStr("s" * 32),
        auth_mode="enforce",  # prod also refuses the open development mode
        database_url=SecretStr("postgresql+asyncpg://a/b"),
    )
    assert ok.environment == "prod"


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_tracing_is_off_unless_the_otel_variables_ask(env: dict[str, str], on: bool) -> None:
    assert tracing_requested(env) is on
