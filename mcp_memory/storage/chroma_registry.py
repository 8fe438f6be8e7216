"""Chroma's module of embedding functions (``chromadb.utils.embedding_functions``), run when first needed.

That module imports about thirty other providers' embedding functions (with jsonschema, httpx and rich: ~0.1 s
of a start) to fill the registry Chroma reads by name when it opens a collection. Ours name our own function, so
the module starts as Chroma's package not yet run, holding a registry of the functions registered so far. The
first lookup of another name, or the first use of anything else in the module, runs the real module in place;
what was registered before is added to its registry.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Callable, Iterator, MutableMapping
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

MODULE = "chromadb.utils.embedding_functions"
_NOT_RUN, _RUNNING, _RAN = "not run", "running", "ran"


class Registry(MutableMapping[str, Any]):
    """``known_embedding_functions`` until the module runs; then a view of the module's own registry."""

    def __init__(self, module: OnDemandFunctions) -> None:
        self._module = module
        self.registered: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        real = self._module.real_registry(run=name not in self.registered)
        return self.registered[name] if real is None else real[name]

    def __setitem__(self, name: str, function: Any) -> None:
        with self._module.on_demand_lock:  # not between the module's run and the merge of what was registered
            self.registered[name] = function
            real = self._module.real_registry(run=False)
            if real is not None:
                real[name] = function

    def __delitem__(self, name: str) -> None:
        real = self._module.real_registry(run=True)
        assert real is not None
        del real[name]
        self.registered.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._module.real_registry(run=True) or ())

    def __len__(self) -> int:
        return len(self._module.real_registry(run=True) or ())


class OnDemandFunctions(ModuleType):
    """The package, not yet run: its registry and its ``register_embedding_function`` work before it runs."""

    def __init__(self, spec: ModuleSpec) -> None:
        super().__init__(spec.name)
        self.__spec__ = spec
        self.__loader__ = spec.loader
        self.__file__ = spec.origin
        self.__path__ = list(spec.submodule_search_locations or ())
        self.__package__ = spec.name
        self.on_demand_lock = threading.RLock()
        self._on_demand_state = _NOT_RUN
        self.known_embedding_functions: MutableMapping[str, Any] = Registry(self)
        self.register_embedding_function: Callable[..., Any] = self._register

    @classmethod
    def install(cls) -> None:
        """Put the package, not yet run, in ``sys.modules`` (before Chroma is imported; once)."""
        if MODULE in sys.modules:
            return
        chroma = importlib.util.find_spec("chromadb")
        if chroma is None or not chroma.submodule_search_locations:
            return
        folder = Path(next(iter(chroma.submodule_search_locations))) / "utils" / "embedding_functions"
        if not (folder / "__init__.py").is_file():  # another layout: Chroma imports it as usual
            return
        spec = importlib.util.spec_from_file_location(
            MODULE, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        if spec is not None and spec.loader is not None:
            sys.modules[MODULE] = cls(spec)

    @staticmethod
    def attach() -> None:
        """Make the package reachable as ``chromadb.utils.embedding_functions`` (after Chroma's import)."""
        module = sys.modules.get(MODULE)
        if isinstance(module, OnDemandFunctions):
            utils = importlib.import_module("chromadb.utils")  # the parent package is not imported on the way
            if "embedding_functions" not in vars(utils):
                utils.embedding_functions = module  # type: ignore[attr-defined]

    def _register(self, function: Any = None) -> Any:
        """As Chroma's ``register_embedding_function``: a decorator, or called with the class."""

        def register(cls: Any) -> Any:
            self.known_embedding_functions[cls.name()] = cls
            return cls

        return register if function is None else register(function)

    def real_registry(self, run: bool) -> MutableMapping[str, Any] | None:
        """The module's own registry once it has run (with what was registered before); None until then, when
        ``run`` is False or this thread is running it. A run on another thread is waited for."""
        if run and self._on_demand_state != _RAN:
            self._run()
        if self._on_demand_state != _RAN:
            return None
        real: MutableMapping[str, Any] = vars(self)["known_embedding_functions"]
        return real

    def _run(self) -> None:
        with self.on_demand_lock:
            if self._on_demand_state != _NOT_RUN:  # ran, or running on this thread: as a module being imported
                return
            registry = vars(self)["known_embedding_functions"]
            register = vars(self)["register_embedding_function"]
            self._on_demand_state = _RUNNING
            try:
                assert self.__spec__ is not None and self.__spec__.loader is not None
                self.__spec__.loader.exec_module(self)
            except BaseException:
                self.known_embedding_functions, self.register_embedding_function = registry, register
                self._on_demand_state = _NOT_RUN
                raise
            vars(self)["known_embedding_functions"].update(registry.registered)
            self._on_demand_state = _RAN

    def __getattr__(self, name: str) -> Any:
        """Anything but the registry runs the module first."""
        if name.startswith("__") and name != "__all__":
            raise AttributeError(name)
        self._run()
        try:
            return vars(self)[name]
        except KeyError:
            raise AttributeError(f"module {MODULE!r} has no attribute {name!r}") from None
