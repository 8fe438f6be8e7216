"""Importing Chromadb without what a server does not use: ~0.25 s of every start, most of Chroma's import.

- Chroma marks its methods with the ``overrides`` package's ``@override``, which, for every method as its class
  is defined, disassembles the defining module's code up to that line to find the base classes, then compares
  signatures: a check for Chroma's own developers, quadratic in a module's length. While Chroma is first imported
  here, the decorator only marks the method (``__override__``, which ``EnforceOverrides`` looks for), as a method
  that passed the check would be; the package's own decorators are put back after the import.
- Its module of other providers' embedding functions (about thirty, with jsonschema, httpx and rich) runs only
  when something other than the registry is asked of it: we register our own function, and Chroma looks up only
  the names its collections were made with (``chroma_registry``).
- Its OpenTelemetry span exporter (grpc and protobuf) is imported only if one is made: only when a collector
  endpoint is configured.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

from mcp_memory.storage.chroma_registry import OnDemandFunctions

_LOCK = threading.Lock()
DECORATORS = ("override", "overrides")
SPAN_EXPORTER_MODULE = "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"


def import_chromadb() -> ModuleType:
    """The ``chromadb`` package, imported on first use."""
    found = sys.modules.get("chromadb")
    if found is not None:
        return found
    with _LOCK:
        import overrides

        saved = {name: getattr(overrides, name) for name in DECORATORS}
        for name in DECORATORS:
            setattr(overrides, name, _marked)
        exporter_stand_in = _span_exporter_stand_in()
        OnDemandFunctions.install()
        try:
            import chromadb as package
            import chromadb.errors  # loaded beside the package: callers catch its errors
        finally:
            for name, decorator in saved.items():
                setattr(overrides, name, decorator)
            if exporter_stand_in is not None and sys.modules.get(SPAN_EXPORTER_MODULE) is exporter_stand_in:
                del sys.modules[SPAN_EXPORTER_MODULE]
        OnDemandFunctions.attach()
        return package


class _SpanExporterOnDemand:
    """What Chroma's telemetry module binds as ``OTLPSpanExporter``: making one makes the real exporter."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(*args, **kwargs)


def _span_exporter_stand_in() -> ModuleType | None:
    """A module in the exporter's place for the length of Chroma's import (None if the real one is loaded)."""
    if SPAN_EXPORTER_MODULE in sys.modules:
        return None
    stand_in = ModuleType(SPAN_EXPORTER_MODULE)
    stand_in.OTLPSpanExporter = _SpanExporterOnDemand  # type: ignore[attr-defined]
    sys.modules[SPAN_EXPORTER_MODULE] = stand_in
    return stand_in


def _marked(method: Any = None, **_options: Any) -> Any:
    """``@override`` or ``@override(...)``: the method, marked as overriding."""
    if method is None:
        return _mark
    return _mark(method)


def _mark(method: Callable[..., Any]) -> Callable[..., Any]:
    method.__override__ = True  # type: ignore[attr-defined]
    return method
