"""The ONNX encoder: torch's vectors without torch, a graph cache that rebuilds what is broken and keys by model."""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mcp_memory.memory.drafts import error_draft
from mcp_memory.storage.embeddings import Embedder, TorchEncoder, packaged_model_path
from mcp_memory.storage.onnx_encoder import GRAPH_NAME, OnnxEncoder
from tests.conftest import REPO_ROOT

ERRORS = REPO_ROOT / "bench" / "datasets" / "errors" / "python-errors-dev.jsonl"
REAL_CODE = REPO_ROOT / "tests" / "data" / "real_code"


def real_texts() -> list[str]:
    """What the server embeds: error texts and queries from the error dev set, real code, and odd inputs."""
    rows = [json.loads(line) for line in ERRORS.open()][:30]
    texts = [error_draft(r["stored"]["error_message"], r["context"], r["resolution"], True).embed_text for r in rows]
    texts += [q["query"] for r in rows for q in r["queries"][:1]]
    texts += [path.read_text(errors="replace")[:1500] for path in sorted(REAL_CODE.rglob("*.*"))[:6]]
    texts += ["", "   ", "Ünïcödé 中文 🎉 café", "word " * 600]  # empty, blank, non-ASCII, past 256 word pieces
    return texts


@pytest.fixture(scope="session")
def graph_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A graph cache of the session's own (tests break it), holding a copy of the user's graph of the model.

    The user's graph is exported once if missing (the ``embedder`` fixture's encoder shares it).
    """
    cache = tmp_path_factory.mktemp("graph-cache")
    exported = Embedder(encoder="onnx").encoder
    assert isinstance(exported, OnnxEncoder)
    shutil.copytree(exported.folder, cache / "onnx" / exported.folder.name)
    return cache


@pytest.fixture(scope="session")
def torch_encoder() -> TorchEncoder:
    return TorchEncoder(packaged_model_path())


def graphs(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "onnx").iterdir() if p.is_dir() and not p.name.startswith("."))


def test_onnx_vectors_equal_torch_vectors_on_real_texts(graph_cache: Path, torch_encoder: TorchEncoder) -> None:
    onnx = OnnxEncoder.open(packaged_model_path(), graph_cache)
    texts = real_texts()
    for batch_size in (32, 1):  # batches (of texts of one length), and single texts as queries are encoded
        cosines = np.sum(onnx.encode(texts, batch_size, 1) * torch_encoder.encode(texts, batch_size, 1), axis=1)
        assert cosines.min() >= 0.9999, (batch_size, texts[int(cosines.argmin())][:80], cosines.min())
    assert onnx.dimension == torch_encoder.dimension == 384
    for text in texts[-4:] + texts[:3]:
        assert onnx.count_word_pieces(text) == torch_encoder.count_word_pieces(text)


def invariance_texts() -> list[str]:
    """Texts of many lengths, several of each length: error texts as stored and asked, code, odd inputs."""
    rows = [json.loads(line) for line in ERRORS.open()]
    texts = [error_draft(r["stored"]["error_message"], r["context"], r["resolution"], True).embed_text for r in rows]
    texts = texts[:60] + [q["query"] for r in rows for q in r["queries"]][:60]
    texts += [path.read_text(errors="replace")[:2000] for path in sorted(REAL_CODE.rglob("*.*"))[:6]]
    return [*texts, "", "   ", "x", "Ünïcödé 中文 🎉 café", "word " * 600, "word " * 700, "KeyError: 'a'"]


def test_a_texts_onnx_vector_is_the_same_to_the_bit_in_any_batch(graph_cache: Path) -> None:
    onnx = OnnxEncoder.open(packaged_model_path(), graph_cache)
    texts = invariance_texts()
    alone = [onnx.encode([text], 1, 1)[0].tobytes() for text in texts]
    lengths = [len(encoding.ids) for encoding in onnx.spec.tokenize(onnx._tokenizer, texts)]
    assert len(set(lengths)) > 40 and len(lengths) - len(set(lengths)) > 70  # many lengths, many texts sharing one

    def check(rows: list[int], batch_size: int, threads: int) -> None:
        vectors = onnx.encode([texts[i] for i in rows], batch_size, threads)
        changed = [texts[i][:60] for i, vector in zip(rows, vectors, strict=True) if vector.tobytes() != alone[i]]
        assert not changed, (batch_size, threads, len(rows), changed[:3])

    everything = list(range(len(texts)))
    check(everything, 64, 1)  # as an import encodes
    check(everything[::-1], 8, 2)  # two threads, as `import --threads 2`
    chance = random.Random(7)
    for _ in range(12):  # random companions, sizes, orders and repeats, as stores arriving together
        rows = chance.choices(everything, k=chance.randint(2, 24))
        check(rows, chance.choice((2, 5, 8, 32, 64)), chance.choice((1, 2)))
    crowded = [i for i in everything if lengths.count(lengths[i]) > 1]  # every text beside others of its length
    check(sorted(crowded, key=lambda i: (lengths[i], -i)), 64, 1)


def test_a_server_answers_a_recall_without_importing_torch(graph_cache: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import json, sys
        import anyio
        from mcp import Client
        from mcp_memory.app import MemoryApp
        from mcp_memory.config import Settings
        from mcp_memory.edge.server import build_server

        async def main():
            app = MemoryApp(Settings(data_dir=sys.argv[1], seed_on_start=False))
            async with Client(build_server(app)) as client:
                stored = await client.call_tool("store_error_resolution", {
                    "error_message": "ModuleNotFoundError: No module named 'requests'",
                    "context": "starting the API service", "resolution": "pip install requests", "success": True})
                assert not stored.is_error, stored.content
                asked = {"error_message": "No module named 'requests'"}
                found = await client.call_tool("recall_error_solutions", asked)
                assert not found.is_error, found.content
            heavy = [name for name in ("torch", "sentence_transformers", "transformers") if name in sys.modules]
            print(json.dumps({"results": len(found.structured_content["results"]), "encoder": app.embedder.encoder_name,
                              "imported": heavy}))

        anyio.run(main)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_MEMORY_")}  # the default encoder
    env.update(MCP_MEMORY_CACHE_DIR=str(graph_cache), HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"results": 1, "encoder": "onnx", "imported": []}


def test_a_corrupt_cached_graph_is_exported_again(
    graph_cache: Path, torch_encoder: TorchEncoder, caplog: pytest.LogCaptureFixture
) -> None:
    folder = OnnxEncoder.open(packaged_model_path(), graph_cache).folder
    (folder / GRAPH_NAME).write_bytes((folder / GRAPH_NAME).read_bytes()[:1_000_000])  # cut short, as by a full disk
    with caplog.at_level(logging.WARNING, logger="mcp_memory.storage.onnx_encoder"):
        onnx = OnnxEncoder.open(packaged_model_path(), graph_cache)
    assert "unusable" in caplog.text and "exporting it again" in caplog.text
    assert onnx.folder == folder and (folder / GRAPH_NAME).stat().st_size > 80_000_000
    text = ["TypeError: 'NoneType' object is not subscriptable"]
    assert float(onnx.encode(text, 1, 1)[0] @ torch_encoder.encode(text, 1, 1)[0]) >= 0.9999


def test_another_model_folder_gets_its_own_graph(graph_cache: Path, tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    other = tmp_path / "all-MiniLM-L6-v2"  # the same name and files, other weights: a fine-tuned copy
    source = packaged_model_path()
    for path in source.rglob("*"):
        if path.is_file() and path.name != "model.safetensors":
            (other / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (other / path.relative_to(source)).symlink_to(path)
    weights = load_file(str(source / "model.safetensors"))
    weights["encoder.layer.5.output.dense.bias"] = weights["encoder.layer.5.output.dense.bias"] * 1.5
    save_file(weights, str(other / "model.safetensors"))

    before = graphs(graph_cache)
    tuned = OnnxEncoder.open(other, graph_cache)
    assert len(graphs(graph_cache)) == len(before) + 1 and tuned.folder not in before
    texts = ["KeyError: 'user_id' when reading the session", "def add(a, b):\n    return a + b"]
    packaged = OnnxEncoder.open(packaged_model_path(), graph_cache)
    assert np.sum(tuned.encode(texts, 2, 1) * packaged.encode(texts, 2, 1), axis=1).max() < 0.9999
    reference = TorchEncoder(other).encode(texts, 2, 1)
    assert np.sum(tuned.encode(texts, 2, 1) * reference, axis=1).min() >= 0.9999


def test_a_model_the_onnx_encoder_cannot_reproduce_is_served_by_torch_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = tmp_path / "cls-pooled"
    source = packaged_model_path()
    for path in source.rglob("*"):
        if path.is_file() and path.relative_to(source) != Path("1_Pooling/config.json"):
            (model / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (model / path.relative_to(source)).symlink_to(path)
    pooling = json.loads((source / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (model / "1_Pooling").mkdir(parents=True, exist_ok=True)
    (model / "1_Pooling" / "config.json").write_text(json.dumps(pooling))

    embedder = Embedder(model_path=model, cache_dir=tmp_path / "cache", encoder="onnx")
    with caplog.at_level(logging.WARNING, logger="mcp_memory.storage.embeddings"):
        vectors = embedder.encode(["ValueError: too many values to unpack", "a second text"])
    assert embedder.encoder_name == "torch"
    warnings = [r.getMessage() for r in caplog.records if "ONNX" in r.getMessage()]
    expected = "the ONNX encoder is unavailable (pooling ['pooling_mode_cls_token'] is not mean pooling): "
    assert warnings == [expected + "encoding with torch instead"]
    assert len(vectors) == 2 and abs(float(np.linalg.norm(vectors[0])) - 1) < 1e-5


def test_the_encoder_setting_chooses_onnx_or_torch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from mcp_memory.app import MemoryApp
    from mcp_memory.config import Settings

    monkeypatch.delenv("MCP_MEMORY_ENCODER", raising=False)
    assert Settings(data_dir=tmp_path, _env_file=None).encoder == "onnx"  # type: ignore[call-arg]
    assert Embedder().encoder_name == "onnx"
    monkeypatch.setenv("MCP_MEMORY_ENCODER", "onnx")
    assert MemoryApp(Settings(data_dir=tmp_path, _env_file=None)).embedder.encoder_name == "onnx"  # type: ignore[call-arg]
    monkeypatch.setenv("MCP_MEMORY_ENCODER", "torch")
    settings = Settings(data_dir=tmp_path, seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
    app = MemoryApp(settings)
    assert settings.encoder == "torch" and app.embedder.encoder_name == "torch"
    app.embedder.load()
    assert isinstance(app.embedder.encoder, TorchEncoder)
