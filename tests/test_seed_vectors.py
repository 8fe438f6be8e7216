"""The seed items' vectors ship with them (``seeds/vectors.json``): a new data dir is seeded without running the
model, and what is stored is what the model makes of each item."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.knowledge.seed_vectors import VECTORS_FILE, shipped_vectors, write_seed_vectors
from mcp_memory.knowledge.seeds import load_seed_items
from mcp_memory.knowledge.service import seed_draft
from mcp_memory.storage.embeddings import Embedder, text_key

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"
REWRITE = "python -m mcp_memory.knowledge.seed_vectors"


def seed_texts(seeds_dir: Path) -> list[str]:
    return [seed_draft(item).embed_text for item in load_seed_items(seeds_dir)]


def test_the_shipped_vectors_are_the_models_vectors_of_every_seed_item(embedder: Embedder) -> None:
    shipped = shipped_vectors(SEEDS_DIR, embedder.model_name)
    texts = seed_texts(SEEDS_DIR)
    missing = [text.split("\n", 1)[0] for text in texts if text_key(text) not in shipped]
    assert not missing, f"seeds without a shipped vector (run `{REWRITE}`): {missing}"
    made = embedder.encoder.encode(texts, 32, 1)  # the model itself, not the embedder's cache
    shipped_rows = np.array([shipped[text_key(text)] for text in texts], dtype=np.float32)
    cosines = np.sum(made * shipped_rows, axis=1)
    assert float(cosines.min()) >= 0.9999, f"shipped seed vectors are stale (run `{REWRITE}`)"
    assert len(shipped) == len(set(texts)), f"vectors of seeds that are gone (run `{REWRITE}`)"


def test_a_new_data_dir_is_seeded_without_running_the_model(tmp_path: Path, embedder: Embedder) -> None:
    settings = Settings(data_dir=tmp_path / "data", seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
    not_loaded = Embedder()
    app = MemoryApp(settings, embedder=not_loaded)
    counts = app.knowledge.seed_blocking()
    assert counts.added == len(load_seed_items(SEEDS_DIR)) > 0
    assert not not_loaded.loaded
    shipped = shipped_vectors(SEEDS_DIR, embedder.model_name)
    for item in load_seed_items(SEEDS_DIR):
        draft = seed_draft(item)
        nearest = app.store.nearest(draft.type, shipped[text_key(draft.embed_text)], 1)
        assert nearest[0][0] == draft.fixed_id and nearest[0][1] < 1e-4


def test_vectors_of_another_model_or_a_damaged_file_are_not_used(
    tmp_path: Path, embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR, seeds)
    assert shipped_vectors(seeds, "another-model") == {}
    (seeds / VECTORS_FILE).write_text('{"model": "all-MiniLM-L6-v2", "dimension": 384, "vectors": {"k": "%%"}}')
    with caplog.at_level(logging.WARNING):
        assert shipped_vectors(seeds, embedder.model_name) == {}
    assert "seeds are encoded instead" in caplog.text
    settings = Settings(data_dir=tmp_path / "data", seeds_dir=seeds, seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
    assert MemoryApp(settings, embedder=embedder).knowledge.seed_blocking().added == len(load_seed_items(seeds))


def test_writing_the_vectors_again_gives_what_is_shipped(tmp_path: Path, embedder: Embedder) -> None:
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR, seeds)
    (seeds / VECTORS_FILE).unlink()
    write_seed_vectors(seeds, embedder)
    written, shipped = shipped_vectors(seeds, embedder.model_name), shipped_vectors(SEEDS_DIR, embedder.model_name)
    assert written.keys() == shipped.keys()
    for key, vector in written.items():
        assert float(np.dot(vector, shipped[key])) >= 0.9999
