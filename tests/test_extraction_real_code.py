"""Extraction on real code nobody here wrote.

Python: CPython's standard library on this machine, three files of well-known PyPI packages (requests, attrs,
click; vendored with their licenses) and, when installed, every file of those packages. The function, method
and class units must be exactly the ones ``ast`` reports, file by file, by the rule in ``ast_units``.

JavaScript, TypeScript, Go, Rust, Java: real files vendored in ``tests/data/real_code`` with their licenses
(see its README). The functions and methods found must be exactly those the language's own parser reports
(go/parser, javac, rustc, the TypeScript compiler), recorded in ``expected.json`` by
``bench/extraction_accuracy.py --record``; plus hand-checked facts about types, error handling and async code.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import sysconfig
from pathlib import Path

import pytest

from mcp_memory.extraction import ExtractionResult, extract_patterns

STDLIB = Path(sysconfig.get_paths()["stdlib"])
STDLIB_MODULES = [
    "argparse.py", "ast.py", "asyncio/base_events.py", "asyncio/locks.py", "asyncio/tasks.py", "bisect.py",
    "calendar.py", "collections/__init__.py", "configparser.py", "contextlib.py", "csv.py", "dataclasses.py",
    "difflib.py", "email/utils.py", "enum.py", "fractions.py", "functools.py", "heapq.py", "http/client.py",
    "json/decoder.py", "json/encoder.py", "logging/__init__.py", "pathlib.py", "queue.py", "shutil.py",
    "statistics.py", "string.py", "tempfile.py", "textwrap.py", "typing.py", "urllib/parse.py", "zipfile.py",
]  # fmt: skip
REAL_CODE = Path(__file__).parent / "data" / "real_code"
EXPECTED = json.loads((REAL_CODE / "expected.json").read_text(encoding="utf-8"))["files"]
LANGUAGES = {
    ".py": "python",
    ".js": "javascript",
    ".ts": "typescript",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
}
UNIT_KINDS = ("function", "method", "class")
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)

Unit = tuple[str, str, int, int]


def ast_units(source: str) -> list[Unit]:
    """(kind, qualified name, first line, last line) of every unit, by the extractor's rule, sorted.

    Rule: every ``def``, ``async def`` and ``class`` in a module body or a class body counts, also when it
    sits inside ``if``/``elif``/``else``, ``try``/``except``/``else``/``finally`` or ``with`` blocks there.
    Nothing inside a function body counts: nested functions, and classes defined in functions, are part of
    the function that holds them. A def whose nearest enclosing unit is a class is a ``method`` (qualified
    with the class names, e.g. ``Outer.Inner.run``), otherwise a ``function``. The first line is that of
    the first decorator, if any; the last is ``end_lineno``. (On the 601 non-test modules of CPython 3.11 the
    broader rule "every def and class not inside a function" gives the same units.)
    """
    units: list[Unit] = []

    def walk(body: list[ast.stmt], prefix: list[str], in_class: bool) -> None:
        for node in body:
            if isinstance(node, (*_FUNCS, ast.ClassDef)):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                end = node.end_lineno or node.lineno
                name = ".".join([*prefix, node.name])
                if isinstance(node, ast.ClassDef):
                    units.append(("class", name, start, end))
                    walk(node.body, [*prefix, node.name], True)
                else:
                    units.append(("method" if in_class else "function", name, start, end))
            elif isinstance(node, ast.If | ast.Try | ast.TryStar | ast.With):
                for part in (node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])):
                    walk(part, prefix, in_class)
                for handler in getattr(node, "handlers", []):
                    walk(handler.body, prefix, in_class)

    walk(ast.parse(source).body, [], False)
    return sorted(units)


def extracted_units(result: ExtractionResult) -> list[Unit]:
    return sorted((p.kind, p.qualified_name, p.start_line, p.end_line) for p in result.patterns if p.kind in UNIT_KINDS)


def assert_python_file_matches_ast(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    result = extract_patterns(source, "python")
    assert result.parsed is True, result.notes
    expected = ast_units(source)
    assert extracted_units(result) == expected
    if expected:
        assert result.notes == []
    else:  # e.g. a __version__.py: the whole file becomes one snippet, and the result says why
        assert [p.kind for p in result.patterns] == ["snippet"]
        assert result.notes == ["no functions or classes found: stored as one snippet"]
    tree = ast.parse(source)
    direct_methods = {
        (min([node.lineno, *(d.lineno for d in node.decorator_list)]), node.end_lineno): [
            s.name for s in node.body if isinstance(s, _FUNCS)
        ]
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
    }
    for pattern in result.patterns:
        if pattern.kind == "class":
            methods = direct_methods[(pattern.start_line, pattern.end_line)]
            assert pattern.details["methods"] == methods, pattern.qualified_name
            assert pattern.details["method_count"] == len(pattern.details["methods"])


def counts(units: list[Unit]) -> dict[str, int]:
    return {kind: sum(1 for u in units if u[0] == kind) for kind in UNIT_KINDS}


# --- Python -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", STDLIB_MODULES)
def test_units_of_a_standard_library_module_are_exactly_what_ast_reports(module: str) -> None:
    path = STDLIB / module
    if not path.exists():
        pytest.skip(f"{module} is not in this Python's standard library")
    assert_python_file_matches_ast(path)


def test_the_standard_library_sample_is_large_enough_to_mean_something() -> None:
    present = [STDLIB / m for m in STDLIB_MODULES if (STDLIB / m).exists()]
    assert len(present) >= 25
    totals = counts([u for path in present for u in ast_units(path.read_text(encoding="utf-8"))])
    assert totals["function"] > 400
    assert totals["method"] > 1500
    assert totals["class"] > 250


@pytest.mark.parametrize("path", sorted((REAL_CODE / "python").rglob("*.py")), ids=lambda p: p.parent.name)
def test_units_of_vendored_pypi_files_are_exactly_what_ast_reports(path: Path) -> None:
    assert_python_file_matches_ast(path)


@pytest.mark.parametrize(
    ("relative", "functions", "methods", "classes"),
    [
        ("python/requests/sessions.py", 3, 26, 2),
        ("python/attrs/validators.py", 19, 26, 13),
        ("python/click/decorators.py", 22, 0, 0),
    ],
)
def test_vendored_pypi_files_have_the_counts_ast_reports(
    relative: str, functions: int, methods: int, classes: int
) -> None:
    result = extract_patterns((REAL_CODE / relative).read_text(encoding="utf-8"), "python")
    assert counts(extracted_units(result)) == {"function": functions, "method": methods, "class": classes}


@pytest.mark.parametrize("package", ["requests", "attr", "click"])
def test_every_file_of_an_installed_pypi_package_matches_ast(package: str) -> None:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        pytest.skip(f"{package} is not installed")
    files = sorted(Path(spec.origin).parent.rglob("*.py"))
    assert files
    for path in files:
        assert_python_file_matches_ast(path)


# --- tree-sitter languages ----------------------------------------------------------------------------


def matches_parser(result: ExtractionResult, expected: list[list[object]]) -> tuple[list[object], list[object]]:
    """False and missed units: a match has the same name and last line, and the true first line inside."""
    found = [(p.name, p.start_line, p.end_line) for p in result.patterns if p.kind in ("function", "method")]
    missed = []
    for name, start, end in expected:
        hit = next((f for f in found if f[0] == name and f[2] == end and f[1] <= start <= f[2]), None)  # type: ignore[operator]
        if hit is None:
            missed.append((name, start, end))
        else:
            found.remove(hit)
    return found, missed


TREE_SITTER_FILES = sorted(path for path in EXPECTED if not path.endswith(".py"))


@pytest.mark.parametrize("relative", TREE_SITTER_FILES)
def test_functions_in_a_real_file_are_exactly_what_the_languages_own_parser_reports(relative: str) -> None:
    path = REAL_CODE / relative
    result = extract_patterns(path.read_text(encoding="utf-8"), LANGUAGES[path.suffix])
    false, missed = matches_parser(result, EXPECTED[relative])
    assert (false, missed) == ([], [])


def test_every_tree_sitter_language_has_real_files_with_functions() -> None:
    per_language: dict[str, int] = {}
    for relative in TREE_SITTER_FILES:
        language = LANGUAGES[Path(relative).suffix]
        per_language[language] = per_language.get(language, 0) + len(EXPECTED[relative])
    assert set(per_language) == {"javascript", "typescript", "go", "rust", "java"}
    assert all(count >= 15 for count in per_language.values()), per_language


def extract_file(relative: str) -> ExtractionResult:
    path = REAL_CODE / relative
    return extract_patterns(path.read_text(encoding="utf-8"), LANGUAGES[path.suffix])


def find(result: ExtractionResult, kind: str, qualified_name: str) -> dict[str, object]:
    found = [p for p in result.patterns if p.kind == kind and p.qualified_name == qualified_name]
    assert len(found) == 1, [(p.kind, p.qualified_name) for p in result.patterns]
    return {
        "details": found[0].details,
        "description": found[0].description,
        "lines": (found[0].start_line, found[0].end_line),
    }


def test_javascript_class_methods_and_try_catch_in_semver() -> None:
    result = extract_file("javascript/semver/comparator.js")
    assert find(result, "class", "Comparator")["details"]["methods"] == [  # type: ignore[index]
        "ANY", "constructor", "parse", "toString", "test", "intersects",
    ]  # fmt: skip
    handler = find(result, "error_handling", "Comparator.test")
    assert handler["lines"] == (69, 73)
    assert "catches all errors" in str(handler["description"])


def test_typescript_interfaces_and_a_class_extending_error_in_zod() -> None:
    result = extract_file("typescript/zod/ZodError.ts")
    zod_error = find(result, "class", "ZodError")["details"]
    assert zod_error["flavour"] == "class"  # type: ignore[index]
    assert zod_error["bases"] == ["Error"]  # type: ignore[index]
    issues = [p for p in result.patterns if p.kind == "class" and p.details["flavour"] == "interface"]
    assert len(issues) == 16
    assert all(p.details["bases"] == ["ZodIssueBase"] for p in issues)


def test_go_structs_goroutines_and_err_checks_in_context() -> None:
    result = extract_file("go/go/context.go")
    assert find(result, "class", "cancelCtx")["details"]["flavour"] == "struct"  # type: ignore[index]
    assert find(result, "class", "Context")["details"]["methods"] == ["Deadline", "Done", "Err", "Value"]  # type: ignore[index]
    concurrency = str(find(result, "async", "propagateCancel")["description"])
    assert "goroutines" in concurrency
    assert "select" in concurrency
    assert "checks err != nil" in str(find(result, "error_handling", "cancelCtx.cancel")["description"])


def test_rust_traits_impls_and_question_mark_propagation() -> None:
    borrow = extract_file("rust/rust/borrow.rs")
    assert find(borrow, "class", "ToOwned")["details"]["flavour"] == "trait"  # type: ignore[index]
    assert find(borrow, "class", "Cow")["details"]["flavour"] == "enum"  # type: ignore[index]
    once = extract_file("rust/rust/once.rs")
    assert "propagates errors with ?" in str(
        find(once, "error_handling", "OnceCell.get_mut_or_try_init")["description"]
    )
    # `impl<T> const Default` is unstable syntax the grammar does not know: best effort, said so, no unit lost.
    assert once.parsed is False
    assert "does not parse" in once.notes[0]


def test_java_constructors_and_enum_methods_in_the_jdk() -> None:
    joiner = extract_file("java/openjdk/StringJoiner.java")
    methods = find(joiner, "class", "StringJoiner")["details"]["methods"]  # type: ignore[index]
    assert methods.count("StringJoiner") == 2  # type: ignore[union-attr]
    time_unit = extract_file("java/openjdk/TimeUnit.java")
    assert find(time_unit, "class", "TimeUnit")["details"]["flavour"] == "enum"  # type: ignore[index]
