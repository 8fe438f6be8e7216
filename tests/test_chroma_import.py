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


ON_DEMAND_PROBE = textwrap.dedent(
    """
    import sys
    from mcp_memory.storage.chroma_import import import_chromadb

    SKIPPED = ("grpc", "jsonschema", "chromadb.utils.embedding_functions.cohere_embedding_function")
    chromadb = import_chromadb()
    from chromadb.api.types import Documents, EmbeddingFunction
    from chromadb.utils.embedding_functions import register_embedding_function

    @register_embedding_function
    class Constant(EmbeddingFunction[Documents]):
        def __init__(self) -> None:
            pass

        def __call__(self, input: Documents) -> list[list[float]]:
            return [[1.0, 0.0, 0.0] for _ in input]

        @staticmethod
        def name() -> str:
            return "probe_constant"

        def get_config(self) -> dict[str, object]:
            return {}

        @staticmethod
        def build_from_config(config: dict[str, object]) -> "Constant":
            return Constant()

    chromadb.PersistentClient(path=sys.argv[1]).get_or_create_collection(
        "probe", embedding_function=Constant()
    ).add(ids=["a"], documents=["hello"])
    reopened = chromadb.PersistentClient(path=sys.argv[1]).get_collection("probe")  # its function, by name
    print(reopened.query(query_texts=["hi"], n_results=1)["ids"][0], [m for m in SKIPPED if m in sys.modules])

    from chromadb.api.collection_configuration import known_embedding_functions
    import chromadb.utils.embedding_functions as functions
    print(known_embedding_functions["default"] is functions.DefaultEmbeddingFunction)
    print(functions.known_embedding_functions["probe_constant"] is Constant, "openai" in known_embedding_functions)

    from chromadb.telemetry.opentelemetry import OTLPSpanExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Real
    print(isinstance(OTLPSpanExporter(endpoint="http://127.0.0.1:4317"), Real))
    """
)


def test_other_providers_functions_and_the_span_exporter_load_only_when_asked_for(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", ON_DEMAND_PROBE, str(tmp_path / "chroma")], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:4] == ["['a'] []", "True", "True True", "True"]
