"""The seed items' vectors, shipped beside them (``seeds/vectors.json``), so that a new data dir's first start
need not encode them: the items are long, and encoding them took ~0.6 s of the model on one thread, which the
start's first answer waited for.

Vectors are kept by the hash of the text encoded (``text_key``) and used only for the model that made them: an
edited seed, or another model, is encoded as before. After editing seeds, write the file again:
``python -m mcp_memory.knowledge.seed_vectors [SEEDS_DIR]``.
"""

from __future__ import annotations

import base64
import json
import logging
import sys
from array import array
from pathlib import Path
from typing import TYPE_CHECKING

from mcp_memory.knowledge.seeds import load_seed_items

if TYPE_CHECKING:
    from mcp_memory.storage.embeddings import Embedder

logger = logging.getLogger(__name__)

VECTORS_FILE = "vectors.json"


def shipped_vectors(seeds_dir: Path, model_name: str) -> dict[str, list[float]]:
    """Vectors by ``text_key`` from the seeds dir, if it has them for ``model_name`` (else none: they are encoded)."""
    path = seeds_dir / VECTORS_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("model") != model_name:
            return {}
        vectors = {key: array("f", base64.b64decode(packed)).tolist() for key, packed in data["vectors"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        logger.warning("seed vectors %s not used (%s): the seeds are encoded instead", path, exc)
        return {}
    if any(len(vector) != data.get("dimension") for vector in vectors.values()):
        logger.warning("seed vectors %s not used (a vector of the wrong length): the seeds are encoded instead", path)
        return {}
    return vectors


def write_seed_vectors(seeds_dir: Path, embedder: Embedder) -> Path:
    """Encode every seed item of ``seeds_dir`` and write their vectors beside them."""
    from mcp_memory.knowledge.service import seed_draft
    from mcp_memory.storage.embeddings import text_key

    texts = sorted({seed_draft(item).embed_text for item in load_seed_items(seeds_dir)})
    vectors = embedder.encode(texts)
    packed = {
        text_key(text): base64.b64encode(array("f", vector).tobytes()).decode("ascii")
        for text, vector in zip(texts, vectors, strict=True)
    }
    path = seeds_dir / VECTORS_FILE
    document = {"model": embedder.model_name, "dimension": embedder.dimension, "vectors": dict(sorted(packed.items()))}
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return path


def main(argv: list[str]) -> int:
    """Write the packaged model's vectors of the seeds in ``argv[0]`` (default: the seeds this install reads)."""
    from mcp_memory.config import default_seeds_dir
    from mcp_memory.storage.embeddings import Embedder

    print(write_seed_vectors(Path(argv[0]) if argv else default_seeds_dir(), Embedder()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
