"""Pattern extraction: the reusable units (functions, classes, error handling, async, algorithms)
in a piece of code, with descriptions and fingerprints ready to embed and store."""

from mcp_memory.extraction.chunking import chunk_text
from mcp_memory.extraction.extractor import extract_patterns
from mcp_memory.extraction.languages import SUPPORTED_LANGUAGES, normalize_language
from mcp_memory.extraction.models import Complexity, ExtractedPattern, ExtractionResult, PatternKind

__all__ = [
    "SUPPORTED_LANGUAGES",
    "Complexity",
    "ExtractedPattern",
    "ExtractionResult",
    "PatternKind",
    "chunk_text",
    "extract_patterns",
    "normalize_language",
]
