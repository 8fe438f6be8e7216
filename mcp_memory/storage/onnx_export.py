"""Export a sentence-transformers model's transformer to an ONNX graph, from its local weights (needs torch).

Run in its own process (``python -m mcp_memory.storage.onnx_export MODEL_FOLDER TARGET_FOLDER``) so that a server
never holds torch in memory: the server only loads the graph this writes (see ``onnx_encoder.py``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from mcp_memory.storage.onnx_encoder import GRAPH_NAME, META_NAME, PROBE_TEXT, ModelSpec, pooled_unit_vectors

OPSET = 17
# Two texts of different lengths, so the traced graph sees padding and keeps the attention mask.
SAMPLE_TEXTS = ["a short text", "another, somewhat longer text to pad the first one"]


def export_graph(spec: ModelSpec, target: Path) -> None:
    """Write ``model.onnx`` and ``meta.json`` into ``target`` (a folder that is renamed into place after).

    ``meta.json`` keeps torch's own vector of a probe text, so a loaded graph can be checked against it.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import warnings

    import numpy as np
    import torch
    from transformers import AutoModel

    warnings.filterwarnings("ignore", category=UserWarning)  # tracer notes on control flow fixed at export
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    # Eager attention traces to plain MatMul/Softmax ops that ONNX Runtime fuses; SDPA's mask shortcuts could
    # be traced as constants.
    bert = AutoModel.from_pretrained(str(spec.transformer_folder), attn_implementation="eager").eval()
    tokenizer = spec.tokenizer()
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if _accepts(bert, name)]

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = bert

        def forward(self, *inputs: Any) -> Any:
            return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

    def feeds(texts: list[str]) -> dict[str, np.ndarray]:
        return spec.feeds(tokenizer, texts, names)

    sample, probe = feeds(SAMPLE_TEXTS), feeds([PROBE_TEXT])
    graph = target / GRAPH_NAME
    with torch.no_grad():
        # Before the export: tracing leaves the module in a state that no longer computes the same vectors.
        hidden = bert(**{n: torch.from_numpy(probe[n]) for n in names}).last_hidden_state.numpy()
        torch.onnx.export(
            LastHiddenState(),
            tuple(torch.from_numpy(sample[n]) for n in names),
            str(graph),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]},
            opset_version=OPSET,
            dynamo=False,
        )
    vector = pooled_unit_vectors(hidden, probe["attention_mask"])[0]
    meta = {
        "fingerprint": spec.fingerprint(),
        "inputs": names,
        "dimension": int(vector.shape[0]),
        "probe_vector": [float(x) for x in vector],
    }
    (target / META_NAME).write_text(json.dumps(meta))


def _accepts(model: Any, name: str) -> bool:
    import inspect

    return name in inspect.signature(model.forward).parameters


def main(argv: list[str]) -> None:
    folder, target = Path(argv[0]), Path(argv[1])
    export_graph(ModelSpec.read(folder), target)


if __name__ == "__main__":
    main(sys.argv[1:])
