"""Ground truth for function detection, from each language's own parser rather than tree-sitter.

- Python: the standard library's ``ast``.
- Go: ``go/parser`` (``bench/truth/go_units.go``, built with the ``go`` toolchain).
- Java: javac's tree API (``bench/truth/JavaUnits.java``, run by ``java`` as a single-file program).
- JavaScript and TypeScript: the TypeScript compiler's parser (``bench/truth/ts_units.js`` under ``node``; the
  ``typescript`` npm package is looked up in ``MCP_MEMORY_TYPESCRIPT`` or installed into a cache dir with npm).
- Rust: ``rustc`` itself (``-Zunpretty=ast-tree`` of a nightly toolchain: the parsed AST before expansion).

Every tool applies the extractor's definition of a unit: functions and methods *with a body* at module level,
in type bodies (classes, impls, traits, nested types) and — Python only — in if/try/with blocks; a function
nested in another function's body belongs to that function and is not a unit of its own. A tool that is not
installed yields None, and the caller falls back to the recorded truth (``tests/data/real_code/expected.json``).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent / "truth"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mcp-memory-bench"
_SPAN = re.compile(r"span: .*:(\d+):\d+: (\d+):\d+ \(#\d+\)")


@dataclass(frozen=True, order=True)
class Unit:
    """A function or method: its bare name and its lines (start may be a decorator's or the keyword's line)."""

    name: str
    start: int
    end: int


def python_units(path: Path) -> list[Unit]:
    """Every def in a module or class body, also inside if/elif/else, try/except/else/finally and with."""
    units: list[Unit] = []

    def walk(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                units.append(Unit(node.name, start, node.end_lineno or node.lineno))
            elif isinstance(node, ast.ClassDef):
                walk(node.body)
            elif isinstance(node, ast.If | ast.Try | ast.TryStar | ast.With):
                walk(node.body)
                walk(getattr(node, "orelse", []))
                walk(getattr(node, "finalbody", []))
                for handler in getattr(node, "handlers", []):
                    walk(handler.body)

    walk(ast.parse(path.read_text(encoding="utf-8")).body)
    return units


def _run_json(command: list[str]) -> dict[str, list[dict[str, object]]]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)
    return json.loads(done.stdout)


def _units(found: dict[str, list[dict[str, object]]], paths: list[Path]) -> dict[Path, list[Unit]]:
    return {
        path: [Unit(str(u["name"]), int(u["start"]), int(u["end"])) for u in found[str(path)]]  # type: ignore[call-overload]
        for path in paths
    }


def go_units(paths: list[Path]) -> dict[Path, list[Unit]] | None:
    go = shutil.which("go")
    if go is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        binary = Path(tmp) / "go_units"
        subprocess.run(
            [go, "build", "-o", str(binary), str(HERE / "go_units.go")],
            check=True,
            timeout=600,
            capture_output=True,
            env={**os.environ, "GOFLAGS": "-mod=mod", "GO111MODULE": "off"},
        )
        return _units(_run_json([str(binary), *map(str, paths)]), paths)


def _java() -> str | None:
    """The newest installed java: the sources may use syntax newer than the default JDK knows."""
    candidates = sorted(Path("/usr/lib/jvm").glob("*/bin/java"), key=lambda p: _java_version(p.parent.parent.name))
    if candidates:
        return str(candidates[-1])
    return shutil.which("java")


def _java_version(name: str) -> int:
    found = re.search(r"(\d+)", name.replace("1.", "", 1) if name.startswith("java-1.") else name)
    return int(found.group(1)) if found else 0


def java_units(paths: list[Path]) -> dict[Path, list[Unit]] | None:
    java = _java()
    if java is None:
        return None
    return _units(_run_json([java, str(HERE / "JavaUnits.java"), *map(str, paths)]), paths)


def _typescript_module() -> str | None:
    configured = os.environ.get("MCP_MEMORY_TYPESCRIPT")
    if configured:
        return configured
    module = CACHE / "ts" / "node_modules" / "typescript"
    if not module.exists() and shutil.which("npm"):
        (CACHE / "ts").mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(CACHE / "ts"), "--no-audit", "--no-fund", "typescript@5"],
            capture_output=True,
            timeout=600,
            check=False,
        )
    return str(module) if module.exists() else None


def typescript_units(paths: list[Path]) -> dict[Path, list[Unit]] | None:
    node, module = shutil.which("node"), _typescript_module()
    if node is None or module is None:
        return None
    return _units(_run_json([node, str(HERE / "ts_units.js"), module, *map(str, paths)]), paths)


def _rustc_nightly() -> list[str] | None:
    rustc = shutil.which("rustc")
    if rustc is None:
        return None
    probe = subprocess.run([rustc, "+nightly", "--version"], capture_output=True, text=True, check=False)
    return [rustc, "+nightly"] if probe.returncode == 0 else None


def rust_units(paths: list[Path]) -> dict[Path, list[Unit]] | None:
    rustc = _rustc_nightly()
    if rustc is None:
        return None
    found: dict[Path, list[Unit]] = {}
    for path in paths:
        done = subprocess.run(
            [*rustc, "-Zunpretty=ast-tree", "--crate-type", "lib", "--edition", "2024", str(path)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"rustc could not parse {path}: {done.stderr[-500:]}")
        found[path] = _outermost(list(_rust_functions(done.stdout.splitlines())))
    return found


def _rust_functions(lines: list[str]) -> Iterator[Unit]:
    """Fn items with a body in rustc's AST dump: name from ``ident``, lines from the item's ``span``."""
    for index, line in enumerate(lines):
        if line.strip() != "kind: Fn(":
            continue
        indent = len(line) - len(line.lstrip())
        span = next(
            (
                _SPAN.search(lines[i])
                for i in range(index - 1, -1, -1)
                if len(lines[i]) - len(lines[i].lstrip()) == indent and lines[i].lstrip().startswith("span:")
            ),
            None,
        )
        name, has_body = None, False
        for inner in lines[index + 1 :]:
            depth = len(inner) - len(inner.lstrip())
            if depth <= indent:
                break
            if depth == indent + 8 and inner.lstrip().startswith("ident: "):
                name = inner.split("ident: ", 1)[1].split("#", 1)[0]
            elif depth == indent + 8 and inner.lstrip().startswith("body: Some("):
                has_body = True
        if span and name and has_body:
            yield Unit(name, int(span.group(1)), int(span.group(2)))


def _outermost(units: list[Unit]) -> list[Unit]:
    """Drop functions nested in another function's lines: they belong to that function."""
    return sorted(
        u for u in units if not any(o is not u and o.start <= u.start and u.end <= o.end and o != u for o in units)
    )


TRUTH = {
    "go": ("go/parser", go_units),
    "java": ("javac tree API", java_units),
    "javascript": ("TypeScript compiler", typescript_units),
    "typescript": ("TypeScript compiler", typescript_units),
    "rust": ("rustc -Zunpretty=ast-tree", rust_units),
}
