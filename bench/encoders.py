"""The server's two encoders head to head: ONNX Runtime against torch, on the same texts in the same process.

Fidelity: the cosine of each ONNX vector to the torch one, on the CoSQA dev queries and code snippets
(``../shared/data``) and the error dev set as the server embeds it (stored texts and queries,
``datasets/errors``), in batches and one text at a time. Speed: one-text encodes (the path of a query or a
store) and batches of code (the path of an import), one thread as the server uses them (and two for
``import --threads 2``). Rounds alternate the encoders (torch, onnx, onnx, torch, ...) so the machine's load
falls on both alike; the load average is recorded with every round.

Run: ``.venv/bin/python bench/encoders.py [--rounds 4] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from mcp_memory.memory.drafts import error_draft
from mcp_memory.storage.embeddings import Embedder, Encoder

BENCH = Path(__file__).resolve().parent
DATA = BENCH.parent.parent / "shared" / "data"
ERRORS = BENCH / "datasets" / "errors" / "python-errors-dev.jsonl"


def texts() -> dict[str, list[str]]:
    """The dev texts: questions, code, and the error dev set's stored texts and queries."""
    queries = [json.loads(line)["query"] for line in (DATA / "cosqa-dev-queries.jsonl").open()]
    code = [
        json.loads(line)["code"] for _, line in zip(range(500), (DATA / "cosqa-code-pool.jsonl").open(), strict=False)
    ]
    rows = [json.loads(line) for line in ERRORS.open()]
    stored = [error_draft(r["stored"]["error_message"], r["context"], r["resolution"], True).embed_text for r in rows]
    asked = [q["query"] for r in rows for q in r["queries"]]
    return {"cosqa queries": queries, "cosqa code": code, "error texts": stored + asked}


def loaded(name: str) -> Encoder:
    embedder = Embedder(encoder=name)  # type: ignore[arg-type]
    encoder = embedder.encoder
    assert embedder.encoder_name == name, f"{name} did not load"
    return encoder


def fidelity(torch_encoder: Encoder, onnx_encoder: Encoder, sets: dict[str, list[str]]) -> list[dict[str, Any]]:
    rows = []
    for label, items in sets.items():
        for mode, batch in (("batch 32", 32), ("one at a time", 1)):
            sample = items if batch > 1 else items[:150]
            cosines = np.sum(torch_encoder.encode(sample, batch, 2) * onnx_encoder.encode(sample, batch, 2), axis=1)
            rows.append(
                {
                    "texts": label,
                    "mode": mode,
                    "count": len(sample),
                    "min": float(cosines.min()),
                    "mean": float(cosines.mean()),
                }
            )
            print(
                f"cosine onnx/torch, {label} ({len(sample)}, {mode}): min {cosines.min():.7f} "
                f"mean {cosines.mean():.7f}",
                flush=True,
            )
    return rows


def query_ms(encoder: Encoder, queries: Sequence[str]) -> list[float]:
    """Milliseconds per one-text encode, one thread (a query or a store)."""
    times = []
    for query in queries:
        start = time.perf_counter()
        encoder.encode([query], 1, 1)
        times.append((time.perf_counter() - start) * 1000)
    return times


def batch_seconds(encoder: Encoder, code: Sequence[str], batch_size: int, threads: int) -> float:
    start = time.perf_counter()
    encoder.encode(code, batch_size, threads)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=4, help="Rounds per encoder, alternating.")
    parser.add_argument("--queries", type=int, default=150, help="One-text encodes per round.")
    parser.add_argument("--code", type=int, default=128, help="Code snippets per batch run.")
    parser.add_argument("--no-fidelity", action="store_true", help="Timings only.")
    parser.add_argument("--json", help="Also write the figures to this file.")
    args = parser.parse_args()
    sets = texts()
    encoders = {"torch": loaded("torch"), "onnx": loaded("onnx")}
    figures: dict[str, Any] = {"rounds": []}
    if not args.no_fidelity:
        figures["fidelity"] = fidelity(encoders["torch"], encoders["onnx"], sets)
    queries, code, errors = sets["cosqa queries"], sets["cosqa code"][: args.code], sets["error texts"]
    for encoder in encoders.values():  # first-call setup is not what is measured
        encoder.encode(queries[:3], 1, 1)
        encoder.encode(code[:8], 8, 1)
    order = ["torch", "onnx", "onnx", "torch"] * args.rounds
    for i, name in enumerate(order[: 2 * args.rounds]):
        encoder = encoders[name]
        start = queries[(i * args.queries) % len(queries) :][: args.queries]
        row = {
            "encoder": name,
            "load_before": os.getloadavg()[0],
            "query_ms": query_ms(encoder, start),
            "code": len(code),
            "errors": len(errors),
        }
        for batch_size, threads in ((32, 1), (64, 1), (64, 2)):
            row[f"batch{batch_size}_t{threads}_s"] = batch_seconds(encoder, code, batch_size, threads)
        row["errors_b32_t1_s"] = batch_seconds(encoder, errors, 32, 1)
        row["load_after"] = os.getloadavg()[0]
        figures["rounds"].append(row)
        p50 = statistics.median(row["query_ms"])
        print(
            f"round {i + 1:2} {name:5} load {row['load_before']:5.2f}->{row['load_after']:5.2f} | query p50 "
            f"{p50:6.1f} ms | {len(code)} code: b32/t1 {row['batch32_t1_s']:5.2f} s, b64/t1 "
            f"{row['batch64_t1_s']:5.2f} s, b64/t2 {row['batch64_t2_s']:5.2f} s | {len(errors)} error texts b32/t1 "
            f"{row['errors_b32_t1_s']:5.2f} s",
            flush=True,
        )
    print(summary(figures["rounds"]))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


def summary(rounds: list[dict[str, Any]]) -> str:
    lines = [
        (
            f"{'encoder':7} {'query p50 ms':>12} {'p95':>6} | {'code/s b32 t1':>13} {'b64 t1':>7} {'b64 t2':>7} | "
            f"{'errors/s b32 t1':>15}"
        )
    ]
    medians: dict[str, dict[str, float]] = {}
    for name in ("torch", "onnx"):
        mine = [r for r in rounds if r["encoder"] == name]
        times = [t for r in mine for t in r["query_ms"]]
        rates = {
            key: statistics.median(r["code"] / r[key] for r in mine)
            for key in ("batch32_t1_s", "batch64_t1_s", "batch64_t2_s")
        }
        rates["errors_b32_t1_s"] = statistics.median(r["errors"] / r["errors_b32_t1_s"] for r in mine)
        medians[name] = {"p50": float(np.percentile(times, 50)), "p95": float(np.percentile(times, 95)), **rates}
        m = medians[name]
        lines.append(
            f"{name:7} {m['p50']:12.1f} {m['p95']:6.1f} | {m['batch32_t1_s']:13.1f} "
            f"{m['batch64_t1_s']:7.1f} {m['batch64_t2_s']:7.1f} | {m['errors_b32_t1_s']:15.1f}"
        )
    t, o = medians["torch"], medians["onnx"]
    lines.append(
        f"onnx / torch: query p50 {o['p50'] / t['p50']:.2f}x time; "
        f"batches {o['batch32_t1_s'] / t['batch32_t1_s']:.2f}x, "
        f"{o['batch64_t1_s'] / t['batch64_t1_s']:.2f}x, {o['batch64_t2_s'] / t['batch64_t2_s']:.2f}x, errors "
        f"{o['errors_b32_t1_s'] / t['errors_b32_t1_s']:.2f}x throughput"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
