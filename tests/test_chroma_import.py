"""Chroma imported without its ``@override`` checks (a fifth of its import time) works as usual, and the
``overrides`` package checks everything else again once the import is done."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PROBE = textwrap.dedent(
    """
    import sys
    import overrides
    from mcp_memory.storage.chroma_import import import_chromadb

    chromadb = import_chromadb()
    assert import_chromadb() is chromadb and sys.modules["chromadb"] is chromadb
    checks = sys.modules["overrides.overrides"]
    assert overrides.override is checks.override and overrides.overrides is checks.overrides  # put back

    class Base:
        def kept(self) -> int:
            return 1

    try:
        class Wrong(Base):
            @overrides.override
            def not_in_base(self) -> int:
                return 2
    except TypeError:
        print("checked again")

    client = chromadb.PersistentClient(path=sys.argv[1])
    collection = client.get_or_create_collection("probe", metadata={"hnsw:space": "cosine"}, embedding_function=None)
    collection.add(ids=["a", "b"], embeddings=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    found = collection.query(query_embeddings=[[0.9, 0.1, 0.0]], n_results=1, include=["distances"])
    print(found["ids"][0][0], collection.count())
    try:
        client.get_collection("missing")
    except chromadb.errors.NotFoundError:
        print("errors loaded")
    """
)


def test_chroma_imported_without_override_checks_works_and_the_checks_come_back(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "chroma")], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["checked again", "a 2", "errors loaded"]
