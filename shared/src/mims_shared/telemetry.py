"""OpenTelemetry tracing: off by default, configured by the standard ``OTEL_*`` variables.

Tracing turns on when ``OTEL_TRACES_EXPORTER`` names ``otlp`` or ``console``, or when an OTLP
endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set,
unless ``OTEL_SDK_DISABLED=true``. Whether or not it is on, an incoming ``traceparent`` is
carried to every outgoing httpx call made while serving the request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import httpx
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from mims_shared.logs import request_id_var

_provider: TracerProvider | None = None


def tracing_requested(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    exporters = {e.strip() for e in env.get("OTEL_TRACES_EXPORTER", "").split(",") if e.strip()}
    if exporters & {"otlp", "console"}:
        return True
    if "none" in exporters:
        return False
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def setup_tracing(service_name: str) -> trace.Tracer | None:
    """Install a tracer provider when tracing is requested; the tracer, or None when off."""
    global _provider
    if not tracing_requested():
        return None
    if _provider is None:
        resource = Resource.create(
            {"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)}
        )
        _provider = TracerProvider(resource=resource)
        exporters = os.environ.get("OTEL_TRACES_EXPORTER", "otlp")
        if "console" in exporters:
            _provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        if "otlp" in exporters or "console" not in exporters:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(_provider)
    return trace.get_tracer("mims")


def shutdown_tracing() -> None:
    global _provider
    if _provider is not None:
        _provider.shutdown()
        _provider = None


async def _inject_context(request: httpx.Request) -> None:
    propagate.inject(request.headers)
    rid = request_id_var.get()
    if rid is not None and "x-request-id" not in request.headers:
        request.headers["x-request-id"] = rid


def http_client(**kwargs: Any) -> httpx.AsyncClient:
    """An httpx client that propagates ``traceparent`` and ``X-Request-ID`` on every call."""
    hooks = kwargs.pop("event_hooks", {})
    hooks.setdefault("request", []).append(_inject_context)
    return httpx.AsyncClient(event_hooks=hooks, **kwargs)
