"""Hashing helpers shared by the language-specific fingerprints."""

from __future__ import annotations

import hashlib
import re

_SPACES = re.compile(r"\s+")


def sha256_text(text: str) -> str:
    """Hex sha256 of a string."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def text_structure_hash(code: str) -> str:
    """Fingerprint of code no parser understood: layout-insensitive, otherwise literal."""
    return sha256_text(_SPACES.sub(" ", code).strip())
