"""Entry point: route code to the right language extractor and never fail on what it is given."""

from __future__ import annotations

from mcp_memory.extraction.describe import describe_snippet
from mcp_memory.extraction.hashing import text_structure_hash
from mcp_memory.extraction.languages import SUPPORTED_LANGUAGES, normalize_language
from mcp_memory.extraction.models import ExtractedPattern, ExtractionResult
from mcp_memory.extraction.py_extract import extract_python
from mcp_memory.extraction.ts_extract import extract_tree_sitter
from mcp_memory.extraction.vocabulary import BRANCH_WORDS


def extract_patterns(code: str, language: str) -> ExtractionResult:
    """Reusable units in ``code``: functions, methods, classes and the behaviours inside them.

    Line endings are normalized to ``\\n`` first, so line numbers and segments agree everywhere.
    Code that does not parse gives the complete units found before the break (``parsed=False``);
    a language without a parser, or code with no units, becomes one whole-code snippet.
    """
    lang = normalize_language(language)
    code = code.replace("\r\n", "\n").replace("\r", "\n")
    if not code.strip():
        return ExtractionResult(language=lang, parsed=True, notes=["empty code: nothing to extract"])
    if lang not in SUPPORTED_LANGUAGES:
        note = f"language {lang!r} not supported: stored as one snippet"
        return ExtractionResult(language=lang, parsed=False, patterns=[snippet(code, lang)], notes=[note])
    try:
        if lang == "python":
            patterns, error = extract_python(code)
        else:
            patterns, error = extract_tree_sitter(code, lang, tsx=language.strip().lower().lstrip(".") == "tsx")
    except Exception as exc:
        note = f"extraction failed ({type(exc).__name__}): stored as one snippet"
        return ExtractionResult(language=lang, parsed=False, patterns=[snippet(code, lang)], notes=[note])
    notes: list[str] = []
    if not patterns:
        patterns = [snippet(code, lang)]
        reason = f"code does not parse ({error})" if error else "no functions or classes found"
        notes.append(f"{reason}: stored as one snippet")
    elif error:
        notes.append(f"code does not parse ({error}); best-effort patterns")
    return ExtractionResult(language=lang, parsed=error is None, patterns=patterns, notes=notes)


def snippet(code: str, language: str) -> ExtractedPattern:
    """The whole code as one pattern; its complexity is estimated from branch keywords."""
    lines = code.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), 0)
    last = max((i for i, line in enumerate(lines) if line.strip()), default=first)
    text = "\n".join(lines[first : last + 1])
    return ExtractedPattern(
        kind="snippet",
        name="snippet",
        qualified_name="snippet",
        language=language,
        code=text,
        start_line=first + 1,
        end_line=last + 1,
        cyclomatic=1 + len(BRANCH_WORDS.findall(text)),
        description=describe_snippet(language, text),
        structure_hash=text_structure_hash(text),
    )
