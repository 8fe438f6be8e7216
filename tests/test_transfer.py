"""Export and import: lossless round trips, bad lines, idempotent re-runs, and text embedded only once."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.errors import Conflict
from mcp_memory.memory.drafts import error_draft, knowledge_draft, pattern_draft, solution_draft
from mcp_memory.storage.embeddings import Embedder, packaged_model_path
from mcp_memory.transfer.exporting import export_to
from mcp_memory.transfer.importing import BadImportFile, import_file

pytestmark = pytest.mark.anyio

DRAFTS = [
    pattern_draft(
        "Retry with backoff",
        "async def retry(f):\n    ...\n",
        "py",
        "flaky HTTP",
        {"success_rate": 1.0},
        ["http", "retry"],
        agent="WORKER",
    ),
    pattern_draft("Factory", "export function make(k: string) {}\n", "typescript", "", {}, []),
    solution_draft(
        "CORS errors from the dev server", "Add the origin to the allow list.", "python", "FastAPI", {"success": True}
    ),
    error_draft("ModuleNotFoundError: No module named 'fastapi'", "starting the API", "pip install fastapi", True),
    error_draft("ModuleNotFoundError: No module named 'fastapi'", "starting the API", "pip install fast-api", False),
    knowledge_draft(
        "Prefer pathlib", "Use pathlib.Path for paths.", "best_practice", {"summary": "paths", "tags": ["io"]}
    ),
    knowledge_draft("Timeouts", "Always pass a timeout.", "error", {"error_message": "TimeoutError: timed out"}),
]


def fresh_app(tmp_path: Path, name: str, embedder: Embedder) -> MemoryApp:
    settings = Settings(data_dir=tmp_path / name, seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
    return MemoryApp(settings, embedder=embedder)


async def fill(app: MemoryApp) -> None:
    """Memories of every type, a repeated store (counters), seeds, and an ended and an open episode."""
    for draft in DRAFTS:
        await app.memory.remember(draft)
    await app.memory.remember(DRAFTS[0])
    app.knowledge.seed_blocking()
    ended = await app.episodes.start("Fix the flaky upload test", {"repo": "api"}, "PLANNER")
    await app.episodes.record(ended.episode_id, "edit", "CODER", {"file": "upload.py", "summary": "añadir retry"})
    await app.episodes.record(ended.episode_id, "test_run", "QA", {"passed": True, "ratio": 0.5})
    await app.episodes.end(ended.episode_id, True, {"tests": 12}, "Added a retry around the upload.")
    opened = await app.episodes.start("Refactor auth", {}, None)
    await app.episodes.record(opened.episode_id, "note", "CODER", {"text": "started"})


def export_text(app: MemoryApp, with_embeddings: bool = False) -> str:
    out = io.StringIO()
    export_to(app, out, with_embeddings)
    return out.getvalue()


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines))
    return path


@pytest.fixture
async def filled(app: MemoryApp) -> MemoryApp:
    await fill(app)
    return app


async def test_export_then_import_into_a_fresh_store_then_export_gives_the_same_bytes(
    filled: MemoryApp, tmp_path: Path, embedder: Embedder
) -> None:
    first = export_text(filled)
    kinds = [json.loads(line)["kind"] for line in first.splitlines()]
    assert kinds.count("header") == 1 and kinds.count("episode") == 2
    assert kinds.count("memory") == len(DRAFTS) + 11  # every stored memory and the 11 seeded items
    restored = fresh_app(tmp_path, "restored", embedder)
    report = import_file(restored, write(tmp_path, "export.jsonl", first.splitlines()))
    assert (report.memories_added, report.episodes_added, report.bad_lines) == (len(DRAFTS) + 11, 2, [])
    assert export_text(restored) == first


async def test_import_without_vectors_embeds_to_the_bit_what_each_store_embedded(
    filled: MemoryApp, tmp_path: Path, embedder: Embedder
) -> None:
    # Each memory was stored alone; the import encodes them together, in batches: the vectors are the same bytes.
    assert embedder.encoder_name == "onnx"
    original = {json.loads(line)["id"]: json.loads(line) for line in export_text(filled, True).splitlines()[1:]}
    restored = fresh_app(tmp_path, "restored", embedder)
    report = import_file(restored, write(tmp_path, "plain.jsonl", export_text(filled).splitlines()))
    assert report.embedded >= len(DRAFTS) - 1  # two drafts share one embedding text
    memories = [json.loads(line) for line in export_text(restored, True).splitlines()[1:]]
    memories = [record for record in memories if record["kind"] == "memory"]
    assert len(memories) == len(DRAFTS) + 11
    for record in memories:
        assert record["embedding"] == original[record["id"]]["embedding"], record["id"]


async def test_recall_finds_the_same_memory_after_a_restore(
    filled: MemoryApp, tmp_path: Path, embedder: Embedder
) -> None:
    restored = fresh_app(tmp_path, "restored", embedder)
    import_file(restored, write(tmp_path, "export.jsonl", export_text(filled).splitlines()))
    query = "No module named fastapi when starting the server"
    before = await filled.memory.recall(query, ["error"], 3)
    after = await restored.memory.recall(query, ["error"], 3)
    assert [h.id for h in after.results] == [h.id for h in before.results]
    similar = await restored.episodes.recall_similar("flaky upload test", 1, False)
    assert similar.results[0].task == "Fix the flaky upload test"


async def test_import_with_embeddings_never_runs_the_model(
    filled: MemoryApp, tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_vectors = export_text(filled, with_embeddings=True)
    encoded: list[str] = []
    real = embedder._run_model
    monkeypatch.setattr(embedder, "_run_model", lambda texts, size: encoded.extend(texts) or real(texts, size))
    restored = fresh_app(tmp_path, "restored", embedder)
    report = import_file(restored, write(tmp_path, "vectors.jsonl", with_vectors.splitlines()))
    assert report.embedded == 0
    assert not {d.embed_text for d in DRAFTS} & set(encoded)
    assert len(encoded) <= 1  # at most the ended episode's summary: episode vectors are rebuilt, not exported


async def test_a_vector_round_trip_gives_the_same_bytes(filled: MemoryApp, tmp_path: Path, embedder: Embedder) -> None:
    first = export_text(filled, with_embeddings=True)
    once = fresh_app(tmp_path, "once", embedder)
    import_file(once, write(tmp_path, "1.jsonl", first.splitlines()))
    second = export_text(once, with_embeddings=True)
    assert second == first  # the vector index keeps each vector exactly as written
    twice = fresh_app(tmp_path, "twice", embedder)
    import_file(twice, write(tmp_path, "2.jsonl", second.splitlines()))
    assert export_text(twice, with_embeddings=True) == first


async def test_an_imported_vector_far_from_unit_length_is_stored_at_unit_length(
    filled: MemoryApp, tmp_path: Path, embedder: Embedder
) -> None:
    lines = export_text(filled, with_embeddings=True).splitlines()
    record = json.loads(lines[1])
    vector = np.frombuffer(base64.b64decode(record["embedding"]), "<f4")
    doubled = base64.b64encode((vector * 2).astype("<f4").tobytes()).decode("ascii")
    restored = fresh_app(tmp_path, "restored", embedder)
    import_file(restored, write(tmp_path, "doubled.jsonl", [lines[0], json.dumps({**record, "embedding": doubled})]))
    stored = restored.store.vectors(record["type"], [record["id"]])[record["id"]]
    assert abs(float(np.linalg.norm(stored)) - 1) < 1e-6 and float(np.dot(stored, vector)) > 0.99999


async def test_importing_twice_adds_nothing_and_embeds_nothing_the_second_time(
    filled: MemoryApp, tmp_path: Path, embedder: Embedder
) -> None:
    path = write(tmp_path, "export.jsonl", export_text(filled).splitlines())
    restored = fresh_app(tmp_path, "restored", embedder)
    import_file(restored, path)
    again = import_file(restored, path)
    assert (again.memories_added, again.episodes_added, again.embedded) == (0, 0, 0)
    assert (again.memories_present, again.episodes_present) == (len(DRAFTS) + 11, 2)


async def test_equal_texts_in_one_import_are_embedded_once(
    app: MemoryApp, tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Same error and context, two resolutions: two memories, one embedding text (never seen before this test).
    message = f"ValueError: {uuid.uuid4().hex}"
    drafts = [error_draft(message, "parsing", "strip the input", True), error_draft(message, "parsing", "int()", False)]
    await app.memory.remember_many(drafts)
    app.store.settle()  # their vectors are in before the import's encodes are counted
    encoded: list[str] = []
    real = embedder._run_model
    monkeypatch.setattr(embedder, "_run_model", lambda texts, size: encoded.extend(texts) or real(texts, size))
    restored = fresh_app(tmp_path, "restored", embedder)
    report = import_file(restored, write(tmp_path, "export.jsonl", export_text(app).splitlines()))
    assert report.memories_added == 2
    assert encoded == [drafts[0].embed_text]


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("{not json", "Invalid JSON"),
        ('{"kind": "memory", "id": "x", "type": "nonsense", "content": "", "metadata": {}}', "type"),
        ('{"kind": "memory", "id": "x", "type": "error", "content": "", "metadata": {"n": [1]}}', "metadata.n"),
        (
            '{"kind": "memory", "id": "x", "type": "error", "content": "", "metadata": {}, "embedding": "AAAA"}',
            "float32",
        ),
        (
            (
                '{"kind": "episode", "id": "e", "task": "t", "context": {}, "agent_role": null, "status": "open", '
                '"success": null, "metrics": {}, "summary": "", "started_at": 1, "updated_at": 1, "ended_at": null, '
                '"events": [{"seq": 2, "event_type": "a", "agent_role": "b", "data": {}, "recorded_at": 1}]}'
            ),
            "numbered",
        ),
        ('{"kind": "other"}', "kind"),
        (
            '{"kind": "memory", "id": "x", "type": "error", "content": "c", "metadata": {"usage_count": "NaN-string"}}',
            "metadata.usage_count: 'NaN-string' is not a whole number",
        ),
        (
            '{"kind": "memory", "id": "x", "type": "error", "content": "c", "metadata": {"success_count": -3}}',
            "metadata.success_count",
        ),
        (
            '{"kind": "memory", "id": "x", "type": "error", "content": "c", "metadata": {"created_at": "yesterday"}}',
            "metadata.created_at",
        ),
        (
            '{"kind": "memory", "id": "x", "type": "error", "content": "c", "metadata": {"fields_json": "{not json"}}',
            "metadata.fields_json: is not a JSON object",
        ),
        (
            '{"kind": "memory", "id": "x", "type": "error", "content": "c", "metadata": {"metadata_json": "[1, 2]"}}',
            "metadata.metadata_json",
        ),
        ('{"kind": "memory", "id": "x", "type": "error", "content": "c", "metadata": {"title": 7}}', "metadata.title"),
        (
            '{"kind": "memory", "id": "x", "type": "error", "content": "c", "metadata": {"weight": NaN}}',
            "not a finite number",
        ),
        (
            '{"kind": "memory", "id": "x", "type": "error", "content": "' + "x" * 300_101 + '", "metadata": {}}',
            "content: 300,101 characters; stores take at most 300,100",
        ),
    ],
)
async def test_a_bad_line_aborts_the_import_before_anything_is_written(
    filled: MemoryApp, tmp_path: Path, embedder: Embedder, bad: str, expected: str
) -> None:
    lines = export_text(filled).splitlines()
    lines.insert(2, bad)
    restored = fresh_app(tmp_path, "restored", embedder)
    with pytest.raises(BadImportFile) as raised:
        import_file(restored, write(tmp_path, "bad.jsonl", lines))
    assert "line 3:" in str(raised.value) and expected in str(raised.value)
    assert "nothing was imported" in str(raised.value)
    assert sum(restored.store.count(t) for t in ("pattern", "solution", "error", "best_practice")) == 0
    assert restored.episodes.store.count() == 0


async def test_a_line_too_long_to_read_is_a_bad_line_and_the_lines_after_it_still_count(
    filled: MemoryApp, tmp_path: Path, embedder: Embedder
) -> None:
    lines = export_text(filled).splitlines()
    path = tmp_path / "huge.jsonl"
    with path.open("w") as out:
        out.write(lines[0] + "\n" + lines[1] + "\n")
        out.write('{"kind": "memory", "id": "x", "type": "error", "metadata": {}, "content": "')
        for _ in range(40):  # 40 MiB on one line
            out.write("x" * 2**20)
        out.write('"}\n')
        out.write("".join(line + "\n" for line in lines[2:]))
    restored = fresh_app(tmp_path, "restored", embedder)
    report = import_file(restored, path, skip_bad=True)
    assert [(b.line, b.error) for b in report.bad_lines] == [(3, "the line is longer than 32 MiB; it was not read")]
    assert report.memories_added == len(DRAFTS) + 11


async def test_skip_bad_imports_the_good_lines_and_lists_the_bad_ones(
    filled: MemoryApp, tmp_path: Path, embedder: Embedder
) -> None:
    lines = export_text(filled).splitlines()
    raw = [line.encode() for line in lines]
    raw[4:4] = [b"{oops", b'{"kind": "memory", "id": "\xff"}']  # the second is not UTF-8
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in raw))
    restored = fresh_app(tmp_path, "restored", embedder)
    report = import_file(restored, path, skip_bad=True)
    assert [b.line for b in report.bad_lines] == [5, 6]
    assert report.memories_added == len(DRAFTS) + 11


async def test_vectors_from_another_model_are_refused(filled: MemoryApp, tmp_path: Path, embedder: Embedder) -> None:
    lines = export_text(filled, with_embeddings=True).splitlines()
    header: dict[str, Any] = json.loads(lines[0])
    lines[0] = json.dumps({**header, "model": "other-model"})
    with pytest.raises(Conflict, match="other-model"):
        import_file(fresh_app(tmp_path, "restored", embedder), write(tmp_path, "other.jsonl", lines))
    texts_only = [lines[0], *export_text(filled).splitlines()[1:]]  # no vectors: re-embedded with our model
    report = import_file(fresh_app(tmp_path, "texts", embedder), write(tmp_path, "texts.jsonl", texts_only))
    assert report.memories_added == len(DRAFTS) + 11


async def test_vectors_of_another_length_than_the_models_are_refused_before_anything_is_written(
    filled: MemoryApp, tmp_path: Path, embedder: Embedder
) -> None:
    lines = export_text(filled, with_embeddings=True).splitlines()
    short = base64.b64encode(np.zeros(8, dtype="<f4").tobytes()).decode("ascii")
    record = json.loads(lines[1])
    mislabelled = [lines[0], json.dumps({**record, "embedding": short}), *lines[2:]]
    with pytest.raises(BadImportFile, match="line 2: embedding has 8 dimensions; the header says 384"):
        import_file(fresh_app(tmp_path, "a", embedder), write(tmp_path, "a.jsonl", mislabelled))

    headless = [json.dumps({**record, "embedding": short})]  # no header to check against: the store's model is
    restored = fresh_app(tmp_path, "b", embedder)
    with pytest.raises(Conflict, match=r"\(8 dimensions\); this store uses all-MiniLM-L6-v2 \(384\)"):
        import_file(restored, write(tmp_path, "b.jsonl", headless))
    assert restored.store.count(record["type"]) == 0


async def test_an_export_names_the_model_the_store_really_uses(
    filled: MemoryApp, tmp_path: Path, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("models") / "minilm-renamed"
    shutil.copytree(packaged_model_path(), folder, copy_function=os.symlink)  # the same weights under another name
    renamed = Embedder(model_path=folder)
    own = MemoryApp(
        Settings(data_dir=tmp_path / "own", seed_on_start=False, model=str(folder), _env_file=None),  # type: ignore[call-arg]
        embedder=renamed,
    )
    stored = own.memory.remember_blocking(DRAFTS[3])
    header = json.loads(export_text(own, with_embeddings=True).splitlines()[0])
    assert header["model"] == "minilm-renamed" and header["dimension"] == 384
    assert "dimension" not in json.loads(export_text(own).splitlines()[0])  # no vectors, nothing to measure

    exported = write(tmp_path, "own.jsonl", export_text(own, with_embeddings=True).splitlines())
    with pytest.raises(Conflict, match=r"model minilm-renamed .* this store uses all-MiniLM-L6-v2"):
        import_file(fresh_app(tmp_path, "packaged", embedder), exported)
    again = MemoryApp(
        Settings(data_dir=tmp_path / "again", seed_on_start=False, model=str(folder), _env_file=None),  # type: ignore[call-arg]
        embedder=renamed,
    )
    report = import_file(again, exported)
    assert report.memories_added == 1 and report.embedded == 0  # its own vectors, taken as they are
    assert again.store.get("error", [stored.id])[0].document == own.store.get("error", [stored.id])[0].document


async def test_skip_bad_skips_a_vector_of_the_wrong_length_and_imports_the_rest(
    filled: MemoryApp, tmp_path: Path, embedder: Embedder
) -> None:
    lines = export_text(filled, with_embeddings=True).splitlines()
    short = base64.b64encode(np.zeros(8, dtype="<f4").tobytes()).decode("ascii")
    record = json.loads(lines[2])
    lines[2] = json.dumps({**record, "embedding": short})
    restored = fresh_app(tmp_path, "restored", embedder)
    report = import_file(restored, write(tmp_path, "mixed.jsonl", lines), skip_bad=True)
    assert [b.line for b in report.bad_lines] == [3]
    assert "8 dimensions" in report.bad_lines[0].error
    assert report.memories_added == len(DRAFTS) + 10 and report.embedded == 0
    assert restored.store.get(record["type"], [record["id"]]) == []
