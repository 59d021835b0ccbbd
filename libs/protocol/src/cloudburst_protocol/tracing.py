"""OpenTelemetry for Cloudburst services: set-up, context carried inside messages, and a
file exporter that keeps recent spans for ``cbctl trace``.

Configuration is the standard ``OTEL_*`` environment: ``OTEL_SDK_DISABLED=true`` (or
``CLOUDBURST_TRACING=off``) turns tracing off, leaving the no-op API (near zero cost);
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_TRACES_EXPORTER=otlp``) exports over OTLP;
``OTEL_TRACES_SAMPLER`` picks sampling. Whatever else is set, each service also writes its
spans as JSON lines under ``$CLOUDBURST_HOME/traces`` (bounded: the file rotates), which is
what ``cbctl trace`` reads.

The trace context of a call travels inside the messages themselves (``trace_context`` maps in
CallRequest and Trigger), not only in gRPC metadata, so one DAG call is one trace even when
triggers go from executor to executor without the scheduler.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from cloudburst_protocol import config

TRACING_ENV = "CLOUDBURST_TRACING"
TRACE_DIR_ENV = "CLOUDBURST_TRACE_DIR"
MAX_FILE_BYTES = 20 * 1024 * 1024

CALL_ID = "cloudburst.call_id"
DAG = "cloudburst.dag"
FUNCTION = "cloudburst.function"
EXECUTOR = "cloudburst.executor_id"
NODE = "cloudburst.node_id"
ERROR_TYPE = "error.type"

_propagator = TraceContextTextMapPropagator()
_installed: list[TracerProvider] = []  # the provider this process installed, if any


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def enabled() -> bool:
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return os.environ.get(TRACING_ENV, "on").strip().lower() not in ("off", "0", "false")


def trace_dir() -> Path:
    raw = os.environ.get(TRACE_DIR_ENV, "").strip()
    return Path(raw) if raw else config.home() / "traces"


def configure_tracing(service: str, instance: str = "") -> None:
    """Installs the SDK tracer provider for a service process (called from ``main``)."""
    if not enabled() or _installed:
        return
    # Spans should reach `cbctl trace` quickly; the SDK's default delay is 5 s.
    os.environ.setdefault("OTEL_BSP_SCHEDULE_DELAY", "200")
    resource = Resource.create(
        {"service.name": f"cloudburst-{service}", "service.instance.id": instance or service}
    )
    provider = TracerProvider(resource=resource)
    directory = trace_dir()
    provider.add_span_processor(
        BatchSpanProcessor(JsonLinesExporter(directory / f"{instance or service}.jsonl"))
    )
    exporter_names = os.environ.get("OTEL_TRACES_EXPORTER", "").lower()
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "otlp" in exporter_names:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _installed.append(provider)


def shutdown_tracing() -> None:
    """Flushes and stops the exporters (called when a service stops)."""
    while _installed:
        _installed.pop().shutdown()


def inject(carrier: MutableMapping[str, str], span: trace.Span | None = None) -> None:
    """Writes the context of ``span`` (default: the current span) into a message's
    ``trace_context`` map."""
    context = trace.set_span_in_context(span) if span is not None else None
    _propagator.inject(carrier, context=context)


def extract(carrier: Mapping[str, str]) -> otel_context.Context:
    """The context carried by a message (an empty context when there is none)."""
    return _propagator.extract(carrier)


class JsonLinesExporter(SpanExporter):
    """Writes finished spans as JSON lines; the file rotates at ``max_bytes`` (one old
    generation is kept), so disk use stays bounded."""

    def __init__(self, path: Path, max_bytes: int = MAX_FILE_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(span_record(s), separators=(",", ":")) + "\n" for s in spans)
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if self.path.exists() and self.path.stat().st_size > self.max_bytes:
                    self.path.replace(self.path.with_suffix(".1.jsonl"))
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(lines)
            except OSError:
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """A finished SDK span as a plain dict (the JSON-lines format ``cbctl trace`` reads)."""
    ctx = span.get_span_context()
    assert ctx is not None  # finished SDK spans always have one
    parent = span.parent
    return {
        "trace_id": f"{ctx.trace_id:032x}",
        "span_id": f"{ctx.span_id:016x}",
        "parent_id": f"{parent.span_id:016x}" if parent is not None else None,
        "name": span.name,
        "service": span.resource.attributes.get("service.name", ""),
        "instance": span.resource.attributes.get("service.instance.id", ""),
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": {k: _plain(v) for k, v in (span.attributes or {}).items()},
    }


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return [_plain(v) for v in value]


def read_spans(directory: Path | None = None) -> list[dict[str, Any]]:
    """Every span recorded under ``directory`` (the local cluster's trace files)."""
    directory = directory or trace_dir()
    spans: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.jsonl")):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            try:
                spans.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a concurrent write
    return spans


__all__ = [
    "CALL_ID",
    "DAG",
    "ERROR_TYPE",
    "EXECUTOR",
    "FUNCTION",
    "NODE",
    "JsonLinesExporter",
    "configure_tracing",
    "enabled",
    "extract",
    "inject",
    "read_spans",
    "shutdown_tracing",
    "span_record",
    "trace_dir",
    "tracer",
]
