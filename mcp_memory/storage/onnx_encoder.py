"""Sentence embeddings on ONNX Runtime and ``tokenizers``: the model's own pipeline, without importing torch.

The transformer is exported once from the model's local weights (``onnx_export.py``, in a child process that
needs torch) into a cache folder named by a fingerprint of the model's files, so another model, or changed
weights, never reuse a graph. Tokenization uses the model's ``tokenizer.json``, truncated at the model's
``max_seq_length``; pooling (mean over the attention mask) and L2 normalization follow its ``modules.json``.
A cached graph must reproduce torch's vector of a probe text, or it is exported again.

A text's vector does not depend on the texts encoded with it (to the bit): a call to ONNX Runtime holds only texts
of one exact number of word pieces, so no padding enters an attention softmax, a matrix product or the pooling,
and the rows of one call never mix. A store, a batch of stores and an import give a text the same vector.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

GRAPH_NAME = "model.onnx"
META_NAME = "meta.json"
PROBE_TEXT = "ImportError: cannot import name 'Foo' from partially initialized module 'bar' (circular import)"
MIN_PROBE_COSINE = 0.9999
EXPORT_TIMEOUT_SECONDS = 900.0
# Texts per ONNX Runtime call: batches of 8 encoded code ~1.7x and error texts ~1.3x faster than batches of 32
# (bench/README.md), likely as a small batch's attention scores stay in the CPU's cache. Texts of one call all have
# the same number of word pieces (see ``OnnxEncoder.encode``).
MAX_BATCH = 8
_FINGERPRINTS = "fingerprints.json"


class EncoderUnavailable(Exception):
    """The ONNX encoder cannot serve this model here (unsupported pipeline, no runtime, export failed)."""


class BrokenGraph(Exception):
    """A cached graph that does not load, or does not reproduce torch's probe vector."""


@dataclass(frozen=True)
class ModelSpec:
    """What the ONNX path must reproduce of a sentence-transformers folder: Transformer → mean Pooling → Normalize."""

    folder: Path
    transformer_folder: Path
    max_seq_length: int
    do_lower_case: bool

    @classmethod
    def read(cls, folder: Path) -> ModelSpec:
        """The model's pipeline from ``modules.json``; anything but the pipeline above is unsupported."""
        try:
            modules = json.loads((folder / "modules.json").read_text())
            kinds = [module["type"].rsplit(".", 1)[-1] for module in modules]
            if kinds not in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"]):
                raise EncoderUnavailable(f"modules {kinds} are not Transformer, Pooling, Normalize")
            pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text())
            modes = {key for key, on in pooling.items() if key.startswith("pooling_mode_") and on}
            if modes != {"pooling_mode_mean_tokens"}:
                raise EncoderUnavailable(f"pooling {sorted(modes)} is not mean pooling")
            transformer = folder / modules[0]["path"]
            config = json.loads((transformer / "sentence_bert_config.json").read_text())
            if not (transformer / "tokenizer.json").is_file():
                raise EncoderUnavailable(f"{transformer} has no tokenizer.json")
            return cls(folder, transformer, int(config["max_seq_length"]), bool(config.get("do_lower_case", False)))
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise EncoderUnavailable(f"cannot read the model's configuration in {folder}: {exc}") from exc

    def tokenizer(self) -> Any:
        """The model's fast tokenizer, truncating at ``max_seq_length``, without padding."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.transformer_folder / "tokenizer.json"))
        tokenizer.enable_truncation(self.max_seq_length)
        tokenizer.no_padding()
        return tokenizer

    def tokenize(self, tokenizer: Any, texts: Sequence[str]) -> list[Any]:
        """Encodings of ``texts`` as sentence-transformers tokenizes them (special tokens, truncation)."""
        return tokenizer.encode_batch([text.lower() for text in texts] if self.do_lower_case else list(texts))

    def feeds(self, tokenizer: Any, texts: Sequence[str], names: Sequence[str]) -> dict[str, np.ndarray]:
        """The graph's inputs for ``texts``, padded to the longest (the export's sample; encoding never pads)."""
        return padded(self.tokenize(tokenizer, texts), names)

    def fingerprint(self, memo_dir: Path | None = None) -> str:
        """SHA-256 over every file of the model (names and contents), remembered by size and mtime in ``memo_dir``."""
        files = sorted(p for p in self.folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        stats = [[str(p.relative_to(self.folder)), p.stat().st_size, p.stat().st_mtime_ns] for p in files]
        memo_path = memo_dir / _FINGERPRINTS if memo_dir is not None else None
        memo = _read_json(memo_path) if memo_path is not None else {}
        known = memo.get(str(self.folder.resolve()))
        if known is not None and known.get("stats") == stats:
            return str(known["sha256"])
        digest = hashlib.sha256()
        for path, (name, size, _) in zip(files, stats, strict=True):
            digest.update(f"{name}\0{size}\0".encode())
            with path.open("rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
        sha = digest.hexdigest()
        if memo_path is not None:
            memo[str(self.folder.resolve())] = {"stats": stats, "sha256": sha}
            _write_atomically(memo_path, json.dumps(memo))
        return sha


def padded(encodings: Sequence[Any], names: Sequence[str]) -> dict[str, np.ndarray]:
    """int64 inputs padded to the longest encoding; padding is masked out, so its token id changes no vector."""
    ids = np.zeros((len(encodings), max(len(e.ids) for e in encodings)), dtype=np.int64)
    columns = {"input_ids": ids, "attention_mask": np.zeros_like(ids), "token_type_ids": np.zeros_like(ids)}
    for row, encoding in enumerate(encodings):
        length = len(encoding.ids)
        ids[row, :length] = encoding.ids
        columns["attention_mask"][row, :length] = 1
        columns["token_type_ids"][row, :length] = encoding.type_ids
    return {name: columns[name] for name in names}


def pooled_unit_vectors(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """Mean of the token vectors over the attention mask, then L2-normalized (float32)."""
    mask = attention_mask[..., None].astype(np.float32)
    pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
    norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
    return (pooled / norms).astype(np.float32)


class OnnxEncoder:
    """An exported graph with the model's tokenizer; one ONNX Runtime session per thread count in use."""

    def __init__(self, spec: ModelSpec, folder: Path) -> None:
        import onnxruntime  # noqa: F401  (fail here, before any export, when the runtime is missing)

        self.spec = spec
        self.folder = folder
        meta = json.loads((folder / META_NAME).read_text())
        self.dimension = int(meta["dimension"])
        self._inputs: list[str] = list(meta["inputs"])
        self._probe = np.asarray(meta["probe_vector"], dtype=np.float32)
        self._tokenizer = spec.tokenizer()
        self._counter: Any = None
        self._sessions: dict[int, Any] = {}

    @classmethod
    def open(cls, model_folder: Path, cache_dir: Path | None = None) -> OnnxEncoder:
        """The encoder for ``model_folder``, exporting its graph first when the cache has none or a broken one.

        Raises:
            EncoderUnavailable: the model's pipeline is not supported, or the runtime or the export failed.
        """
        spec = ModelSpec.read(model_folder)
        from mcp_memory.config import default_cache_dir

        root = (cache_dir or default_cache_dir()) / "onnx"
        root.mkdir(parents=True, exist_ok=True)
        folder = root / spec.fingerprint(root)[:24]  # the same files (a copied or renamed folder) share a graph
        with _locked(root / f"{folder.name}.lock"):  # one exporter per graph; other processes wait for it
            if folder.exists():
                try:
                    return cls._checked(spec, folder)
                except BrokenGraph as exc:
                    logger.warning("the cached ONNX graph in %s is unusable (%s): exporting it again", folder, exc)
                    shutil.rmtree(folder)
            _export(spec, folder)
            try:
                return cls._checked(spec, folder)
            except BrokenGraph as exc:
                raise EncoderUnavailable(f"the graph exported to {folder} does not match the model: {exc}") from exc

    @classmethod
    def _checked(cls, spec: ModelSpec, folder: Path) -> OnnxEncoder:
        """Load the graph and check that it gives torch's vector for the probe text."""
        try:
            from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors
        except ImportError as exc:
            raise EncoderUnavailable(f"onnxruntime is not installed: {exc}") from exc
        errors = (
            OSError,
            ValueError,
            KeyError,
            TypeError,
            ort_errors.Fail,
            ort_errors.InvalidProtobuf,
            ort_errors.InvalidGraph,
            ort_errors.InvalidArgument,
            ort_errors.NoSuchFile,
            ort_errors.RuntimeException,
        )
        try:
            encoder = cls(spec, folder)
            vector = encoder.encode([PROBE_TEXT], batch_size=1, threads=1)[0]
        except errors as exc:
            raise BrokenGraph(f"{type(exc).__name__}: {exc}") from exc
        cosine = float(vector @ encoder._probe)
        if not cosine >= MIN_PROBE_COSINE:
            raise BrokenGraph(f"probe cosine to torch {cosine:.6f} < {MIN_PROBE_COSINE}")
        return encoder

    def encode(self, texts: Sequence[str], batch_size: int, threads: int) -> np.ndarray:
        """Unit vectors for ``texts`` (float32, one row each), each the same whatever the batch it came in.

        One call to ONNX Runtime takes at most ``MAX_BATCH`` texts of one exact number of word pieces: nothing is
        padded, so the vector of a text is the one it gets alone. (Padding, though masked out, enters the sums of
        the softmax and of the matrix products; whether their last bits then move depends on the CPU's kernels.)
        No time goes to padding either.
        """
        session = self._session(threads)
        encodings = self.spec.tokenize(self._tokenizer, texts)
        same_length: dict[int, list[int]] = {}
        for row, encoding in enumerate(encodings):
            same_length.setdefault(len(encoding.ids), []).append(row)
        result = np.empty((len(texts), self.dimension), dtype=np.float32)
        step = max(1, min(batch_size, MAX_BATCH))
        for rows_of_length in same_length.values():
            for start in range(0, len(rows_of_length), step):
                rows = rows_of_length[start : start + step]
                feeds = padded([encodings[i] for i in rows], self._inputs)
                hidden = session.run(None, feeds)[0]
                result[rows] = pooled_unit_vectors(hidden, feeds["attention_mask"])
        return result

    def count_word_pieces(self, text: str) -> int:
        """Word pieces of ``text`` before truncation, without the special tokens."""
        if self._counter is None:
            from tokenizers import Tokenizer

            self._counter = Tokenizer.from_file(str(self.spec.transformer_folder / "tokenizer.json"))
            self._counter.no_truncation()
            self._counter.no_padding()
        text = text.lower() if self.spec.do_lower_case else text
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def _session(self, threads: int) -> Any:
        session = self._sessions.get(threads)
        if session is None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3
            session = ort.InferenceSession(str(self.folder / GRAPH_NAME), options, providers=["CPUExecutionProvider"])
            self._sessions[threads] = session
        return session


def _export(spec: ModelSpec, folder: Path) -> None:
    """Export in a child process (torch never enters this one) into a temporary folder renamed into place."""
    temporary = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    logger.warning("exporting the embedding model to ONNX once, into %s (takes seconds)", folder)
    start = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mcp_memory.storage.onnx_export", str(spec.folder), str(temporary)],
            check=False,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=EXPORT_TIMEOUT_SECONDS,
        )
        if done.returncode != 0:
            last = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
            raise EncoderUnavailable(f"exporting the ONNX graph failed: {last[0]}")
        os.replace(temporary, folder)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EncoderUnavailable(f"exporting the ONNX graph failed: {exc}") from exc
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    logger.info("exported the ONNX graph in %.1f s", time.monotonic() - start)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
