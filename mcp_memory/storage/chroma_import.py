"""Importing Chromadb without its ``@override`` checks: ~0.1 s of every start (a fifth of Chroma's import).

Chroma marks its methods with the ``overrides`` package's ``@override``, which, for every method as its class is
defined, disassembles the defining module's code up to that line to find the base classes, then compares
signatures: a check for Chroma's own developers, quadratic in a module's length. While Chroma is first imported
here, the decorator only marks the method (``__override__``, which ``EnforceOverrides`` looks for), as a method
that passed the check would be; the package's own decorators are put back after the import.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

_LOCK = threading.Lock()
DECORATORS = ("override", "overrides")


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
        try:
            import chromadb as package
            import chromadb.errors  # loaded beside the package: callers catch its errors
        finally:
            for name, decorator in saved.items():
                setattr(overrides, name, decorator)
        return package


def _marked(method: Any = None, **_options: Any) -> Any:
    """``@override`` or ``@override(...)``: the method, marked as overriding."""
    if method is None:
        return _mark
    return _mark(method)


def _mark(method: Callable[..., Any]) -> Callable[..., Any]:
    method.__override__ = True  # type: ignore[attr-defined]
    return method
