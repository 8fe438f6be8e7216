"""How much of a text the embedding model reads: its own word pieces, counted, and the size of its window.

A tokenizer of its own, never the model's: the model's tokenizer changes its truncation settings on every
encode, and counting with it from another thread at that moment fails.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Any

from mcp_memory.extraction.chunking import estimate_tokens

DEFAULT_WINDOW = 256
# Measured on real code: the estimate is at worst 20% under the tokenizer's count; this covers it.
ESTIMATE_MARGIN = 1.25


class ModelWindow:
    """Word-piece counts and the input window of the sentence-transformers model in ``model_dir``.

    Without a ``model_dir``, the packaged all-MiniLM-L6-v2; nothing is read until the first count.
    """

    def __init__(self, model_dir: Path | None = None) -> None:
        self._model_dir = model_dir
        self._tokenizer: Any = None
        self._size: int | None = None
        self._lock = threading.Lock()

    @property
    def model_dir(self) -> Path:
        if self._model_dir is None:
            from mcp_memory.storage.embeddings import packaged_model_path

            self._model_dir = packaged_model_path()
        return self._model_dir

    @property
    def size(self) -> int:
        """Word pieces the model reads, special tokens included (256 for all-MiniLM-L6-v2)."""
        if self._size is None:
            config = self.model_dir / "sentence_bert_config.json"
            try:
                self._size = int(json.loads(config.read_text(encoding="utf-8"))["max_seq_length"])
            except (OSError, ValueError, KeyError, TypeError):
                self._size = DEFAULT_WINDOW
        return self._size

    def count(self, text: str) -> int:
        """Word pieces of ``text`` without special tokens; a safe over-estimate when no tokenizer file exists."""
        tokenizer = self._load()
        if tokenizer is None:
            return math.ceil(estimate_tokens(text) * ESTIMATE_MARGIN)
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    def _load(self) -> Any:
        if self._tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    self._tokenizer = _tokenizer(self.model_dir / "tokenizer.json") or False
        return self._tokenizer or None


def _tokenizer(path: Path) -> Any:
    if not path.exists():
        return None
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()  # set once, before any thread shares it; encode never changes it again
    tokenizer.no_padding()
    return tokenizer
