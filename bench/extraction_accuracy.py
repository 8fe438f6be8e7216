"""Precision and recall of function detection on real files, per language, against an independent parser.

The files are the vendored ones in ``tests/data/real_code/`` (always there) plus real sources found on this
machine (CPython's standard library; Go's GOROOT, the JDK's src.zip, Rust's documented library sources and
npm's own packages, when installed). Ground truth comes from each language's own parser — see
``extraction_truth`` — and follows the extractor's definition of a unit (functions and methods with a body,
not nested inside another function). A detected unit matches a true one when the bare names are equal, the
last lines are equal and the true start lies within the detected lines (the extractor's start includes
decorators and attributes). When a language's parser is not installed, the truth recorded for the vendored
files in ``tests/data/real_code/expected.json`` is used instead and the table says so.

Run: ``.venv/bin/python bench/extraction_accuracy.py [-v] [--record]``; ``--record`` rewrites expected.json
from the independent parsers (the tests compare the extractor against it).
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import sysconfig
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from extraction_truth import TRUTH, Unit, python_units

from mcp_memory.extraction import extract_patterns

ROOT = Path(__file__).resolve().parent.parent
VENDORED = ROOT / "tests" / "data" / "real_code"
EXPECTED = VENDORED / "expected.json"
EXTENSIONS = {
    "python": ".py",
    "javascript": ".js",
    "typescript": ".ts",
    "go": ".go",
    "rust": ".rs",
    "java": ".java",
}

STDLIB = [
    "json/decoder.py",
    "argparse.py",
    "asyncio/locks.py",
    "functools.py",
    "textwrap.py",
    "http/client.py",
]
GOROOT = Path("/usr/lib/go/src")
GO_FILES = ["sort/sort.go", "bufio/bufio.go", "encoding/json/encode.go", "net/http/cookie.go"]
NPM = Path("/usr/lib/node_modules/npm")
JS_FILES = [
    "node_modules/semver/classes/semver.js",
    "lib/utils/display.js",
    "node_modules/minipass/dist/commonjs/index.js",
]
# TypeScript sources shipped in npm packages (zod, ajv), wherever a node_modules with them is found.
NODE_MODULES = [
    Path.home() / ".cache/mcp-memory-test/conformance/node_modules",
    Path("/usr/lib/node_modules"),
]
TS_FILES = ["zod/src/v3/types.ts", "zod/src/v4/core/util.ts", "ajv/lib/core.ts", "ajv/lib/compile/index.ts"]
RUST_DOC_SOURCES = sorted(Path.home().glob(".rustup/toolchains/*/share/doc/rust/html/src"))
RUST_FILES = ["alloc/collections/binary_heap/mod.rs", "core/option.rs", "std/sync/once_lock.rs"]
JDK_SOURCES = sorted(Path("/usr/lib/jvm").glob("*/lib/src.zip"))
JAVA_FILES = ["java.base/java/util/ArrayList.java", "java.base/java/util/HashMap.java"]


def vendored(language: str) -> list[Path]:
    return sorted((VENDORED / language).rglob(f"*{EXTENSIONS[language]}"))


def rustdoc_source(page: Path, target: Path) -> Path:
    """The Rust source shown on a rustdoc source page, as plain text."""
    code = re.search(r'<pre class="rust"><code>(.*?)</code></pre>', page.read_text(encoding="utf-8"), re.DOTALL)
    assert code is not None, page
    text = re.sub(r"<a href=#\d+ id=\d+ data-nosnippet>\d+</a>", "", code.group(1))
    target.write_text(html.unescape(re.sub(r"<[^>]+>", "", text)), encoding="utf-8")
    return target


def machine_files(language: str, scratch: Path) -> list[Path]:
    """Real sources installed on this machine, when present."""
    if language == "python":
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        return [stdlib / name for name in STDLIB if (stdlib / name).exists()]
    if language == "go":
        return [GOROOT / name for name in GO_FILES if (GOROOT / name).exists()]
    if language == "javascript":
        return [NPM / name for name in JS_FILES if (NPM / name).exists()]
    if language == "typescript":
        return [root / name for root in NODE_MODULES for name in TS_FILES if (root / name).exists()]
    if language == "rust" and RUST_DOC_SOURCES:
        pages = [(RUST_DOC_SOURCES[0] / f"{name}.html") for name in RUST_FILES]
        return [
            rustdoc_source(p, scratch / f"rust_{i}_{Path(n).name}")
            for i, (p, n) in enumerate(zip(pages, RUST_FILES, strict=True))
            if p.exists()
        ]
    if language == "java" and JDK_SOURCES:
        found = []
        with zipfile.ZipFile(max(JDK_SOURCES, key=lambda p: p.stat().st_size)) as archive:
            for name in JAVA_FILES:
                if name in archive.namelist():
                    target = scratch / Path(name).name
                    target.write_bytes(archive.read(name))
                    found.append(target)
        return found
    return []


def detected(path: Path, language: str) -> list[Unit]:
    result = extract_patterns(path.read_text(encoding="utf-8"), language)
    return [Unit(p.name, p.start_line, p.end_line) for p in result.patterns if p.kind in ("function", "method")]


def match(found: list[Unit], truth: list[Unit]) -> tuple[int, list[Unit], list[Unit]]:
    """How many true units were found, the false detections and the missed units."""
    unmatched = list(found)
    missed: list[Unit] = []
    for unit in truth:
        hit = next(
            (f for f in unmatched if f.name == unit.name and f.end == unit.end and f.start <= unit.start <= f.end),
            None,
        )
        if hit is None:
            missed.append(unit)
        else:
            unmatched.remove(hit)
    return len(truth) - len(missed), unmatched, missed


def recorded_truth() -> dict[str, list[Unit]]:
    if not EXPECTED.exists():
        return {}
    data = json.loads(EXPECTED.read_text(encoding="utf-8"))
    return {path: [Unit(*u) for u in units] for path, units in data["files"].items()}


def recorded_json(sources: dict[str, str], record: dict[str, list[list[object]]]) -> str:
    """expected.json with one unit per line, so a change shows up as a readable diff."""
    files = ",\n".join(
        f"  {json.dumps(path)}: [\n" + ",\n".join(f"   {json.dumps(unit)}" for unit in units) + "\n  ]"
        for path, units in sorted(record.items())
    )
    return f'{{\n "sources": {json.dumps(sources)},\n "files": {{\n{files}\n }}\n}}\n'


def truth_for(language: str, paths: list[Path]) -> tuple[dict[Path, list[Unit]], str]:
    if language == "python":
        return {p: python_units(p) for p in paths}, "ast"
    name, tool = TRUTH[language]
    found = tool(paths)
    if found is not None:
        return found, name
    recorded = recorded_truth()
    kept = [p for p in paths if p.is_relative_to(VENDORED) and str(p.relative_to(VENDORED)) in recorded]
    return {p: recorded[str(p.relative_to(VENDORED))] for p in kept}, f"recorded ({name} not installed)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="list every false or missed unit")
    parser.add_argument("--record", action="store_true", help=f"rewrite {EXPECTED.relative_to(ROOT)}")
    args = parser.parse_args()
    rows = []
    record: dict[str, list[list[object]]] = {}
    sources: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for language in EXTENSIONS:
            paths = vendored(language) + machine_files(language, Path(tmp))
            truth, source = truth_for(language, paths)
            totals: Counter[str] = Counter()
            for path, units in truth.items():
                found = detected(path, language)
                matched, false, missed = match(found, units)
                totals.update(files=1, truth=len(units), found=len(found), matched=matched)
                if args.verbose and (false or missed):
                    print(f"{path}: false {false} missed {missed}", file=sys.stderr)
                if path.is_relative_to(VENDORED):
                    record[str(path.relative_to(VENDORED))] = [[u.name, u.start, u.end] for u in sorted(units)]
                    sources[language] = source
            precision = totals["matched"] / totals["found"] if totals["found"] else 1.0
            recall = totals["matched"] / totals["truth"] if totals["truth"] else 1.0
            rows.append(
                (
                    language,
                    totals["files"],
                    totals["truth"],
                    totals["found"],
                    totals["matched"],
                    f"{precision:.3f}",
                    f"{recall:.3f}",
                    source,
                )
            )
    header = ("language", "files", "true units", "detected", "matched", "precision", "recall", "ground truth")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)))
    if args.record:
        if any(source.startswith("recorded") for source in sources.values()):
            sys.exit("refusing to record: some languages have no independent parser installed here")
        EXPECTED.write_text(recorded_json(sources, record), encoding="utf-8")
        print(f"recorded {len(record)} files in {EXPECTED.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
