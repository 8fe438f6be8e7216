"""Build the error dev set: run every snippet of ``causes.py`` under the interpreter and keep its real message.

Each snippet runs as ``main.py`` in a fresh folder named after its project, with ``-W ignore`` so that
warnings do not follow the traceback. The folder that holds the projects is written as ``/home/dev`` in the
output, so the file is the same on every machine; nothing else in a message is changed.

Output (``python-errors-dev.jsonl``), one row per cause:
``{"cause", "context", "resolution", "stored": {"error_message", "traceback"}, "queries": [{"query", "form",
"error_message"}]}`` — the first snippet's message is the stored memory, every other snippet's message a query
(alternately its last line and its whole traceback). A snippet whose last line repeats an earlier one of its
cause is dropped; a cause left with one message stays as a memory that no query asks for. Run: ``.venv/bin/python bench/datasets/errors/generate.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from causes import CAUSES, Cause, Snippet

OUTPUT = HERE / "python-errors-dev.jsonl"
SHOWN_ROOT = "/home/dev"


def run(snippet: Snippet, root: Path) -> str:
    """The snippet's stderr, with the projects folder shown as /home/dev."""
    folder = root / snippet.project
    if folder.exists():
        raise SystemExit(f"two snippets of one cause share the project folder {snippet.project!r}")
    folder.mkdir(parents=True)
    for name, text in snippet.files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    (folder / "main.py").write_text(snippet.code + "\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "main.py"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode == 0:
        raise SystemExit(f"snippet did not fail: {snippet.code!r}")
    return done.stderr.replace(str(root), SHOWN_ROOT).strip()


def last_line(stderr: str) -> str:
    return [line for line in stderr.splitlines() if line.strip()][-1].strip()


def build(cause: Cause) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        outputs = [run(snippet, Path(tmp)) for snippet in cause.snippets]
    seen: set[str] = set()
    distinct: list[str] = []
    for stderr in outputs:
        message = last_line(stderr)
        if message in seen:
            print(f"  {cause.id}: dropped a repeated message: {message}", file=sys.stderr)
            continue
        seen.add(message)
        distinct.append(stderr)
    if len(distinct) < 2:
        print(f"  {cause.id}: one distinct message, kept as a memory without queries", file=sys.stderr)
    stored, *others = distinct
    queries = []
    for index, stderr in enumerate(others):
        form = "line" if index % 2 == 0 else "traceback"
        queries.append(
            {"query": last_line(stderr) if form == "line" else stderr, "form": form, "error_message": last_line(stderr)}
        )
    return {
        "cause": cause.id,
        "context": cause.context,
        "resolution": cause.resolution,
        "stored": {"error_message": last_line(stored), "traceback": stored},
        "queries": queries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    rows = [build(cause) for cause in CAUSES]
    with args.output.open("w") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    pairs = sum(len(row["queries"]) for row in rows)  # type: ignore[arg-type]
    print(f"{len(rows)} causes, {pairs} query/memory pairs, Python {platform.python_version()} -> {args.output}")


if __name__ == "__main__":
    main()
