"""The shipped knowledge base loads, is complete, and every Python example in it runs."""

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mcp_memory.errors import MemoryStoreError
from mcp_memory.knowledge.seeds import SeedFileError, SeedItem, load_seed_items, python_code_blocks

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"
SEED_FILES = sorted(SEEDS_DIR.glob("*/*.md"))
EXPECTED_SLUGS = {
    "pattern": {"singleton", "factory", "async-context-manager", "repository"},
    "best_practice": {"error-handling", "async-await", "type-hints"},
    "common_error": {
        "module-not-found-error",
        "nonetype-error",
        "asyncio-timeout-error",
        "connection-refused-error",
    },
}


def _code_block_cases() -> list[Any]:
    """One case per (file, block index), so a failure names the file and the block."""
    cases = []
    for path in SEED_FILES:
        for index, code in enumerate(python_code_blocks(path.read_text(encoding="utf-8"))):
            label = f"{path.parent.name}/{path.name}#{index}"
            cases.append(pytest.param(path, index, code, id=label))
    return cases


def _write_seed(root: Path, folder: str, name: str, text: str) -> Path:
    path = root / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def items() -> list[SeedItem]:
    return load_seed_items(SEEDS_DIR)


def test_every_seed_file_loads_into_a_complete_item(items: list[SeedItem]) -> None:
    assert len(items) == len(SEED_FILES)
    for item in items:
        assert item.title.strip() and item.summary.strip() and item.body, item.source_path
        assert item.language == "python", item.source_path
        assert item.tags and all(tag.strip() for tag in item.tags), item.source_path
        assert item.source_path.stem == item.slug


def test_the_knowledge_base_has_four_patterns_three_best_practices_and_four_common_errors(
    items: list[SeedItem],
) -> None:
    assert Counter(item.kind for item in items) == {"pattern": 4, "best_practice": 3, "common_error": 4}
    for kind, slugs in EXPECTED_SLUGS.items():
        assert {item.slug for item in items if item.kind == kind} == slugs


def test_items_are_sorted_by_kind_then_slug(items: list[SeedItem]) -> None:
    keys = [(item.kind, item.slug) for item in items]
    assert keys == sorted(keys)


def test_each_common_error_message_names_its_error_type(items: list[SeedItem]) -> None:
    for item in items:
        if item.kind != "common_error":
            continue
        assert item.error_type and item.error_message, item.source_path
        assert item.error_type in item.error_message, item.source_path
        assert item.error_message.startswith(item.error_type), item.source_path


def test_each_common_error_has_numbered_resolution_steps(items: list[SeedItem]) -> None:
    for item in items:
        if item.kind != "common_error":
            continue
        _, found, resolution = item.body.partition("## Resolution")
        assert found, f"{item.source_path}: no '## Resolution' section"
        assert re.search(r"^1\. ", resolution, re.MULTILINE), item.source_path
        assert python_code_blocks(resolution), f"{item.source_path}: no example code in the resolution"


def test_only_common_errors_carry_error_fields(items: list[SeedItem]) -> None:
    for item in items:
        if item.kind != "common_error":
            assert item.error_message is None and item.error_type is None, item.source_path


def test_every_seed_file_has_python_example_code() -> None:
    for path in SEED_FILES:
        assert python_code_blocks(path.read_text(encoding="utf-8")), path


@pytest.mark.parametrize(("path", "index", "code"), _code_block_cases())
def test_python_block_runs_cleanly_with_only_the_standard_library(
    path: Path, index: int, code: str, tmp_path: Path
) -> None:
    script = tmp_path / f"{path.stem}_{index}.py"
    script.write_text(code, encoding="utf-8")
    # -I: ignore the environment and user site; -S: no site-packages, so only the standard library.
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(script)],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=20,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, (
        f"{path} python block #{index} exited with {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )


def test_content_hash_is_stable_and_changes_when_the_body_changes(items: list[SeedItem]) -> None:
    item = items[0]
    again = load_seed_items(SEEDS_DIR)[0]
    assert re.fullmatch(r"[0-9a-f]{64}", item.content_hash)
    assert again.content_hash == item.content_hash
    assert item.model_copy(update={"source_path": Path("/elsewhere.md")}).content_hash == item.content_hash
    assert item.model_copy(update={"body": item.body + "\nMore."}).content_hash != item.content_hash
    assert item.model_copy(update={"tags": [*item.tags, "extra"]}).content_hash != item.content_hash
    assert len({i.content_hash for i in items}) == len(items)


def test_content_hash_follows_an_edit_of_the_file(tmp_path: Path) -> None:
    text = "---\ntitle: T\nsummary: S.\ntags: [a]\n---\n\nBody one.\n"
    path = _write_seed(tmp_path, "patterns", "thing.md", text)
    before = load_seed_items(tmp_path)[0].content_hash
    assert load_seed_items(tmp_path)[0].content_hash == before
    path.write_text(text.replace("Body one.", "Body two."), encoding="utf-8")
    assert load_seed_items(tmp_path)[0].content_hash != before


def test_a_minimal_seed_dir_loads_with_defaults_and_ignores_other_files(tmp_path: Path) -> None:
    _write_seed(tmp_path, "best_practices", "b.md", "---\ntitle: B\nsummary: S.\ntags:\n---\n  Body\n")
    _write_seed(
        tmp_path,
        "common_errors",
        "e.md",
        "---\ntitle: E\nsummary: S.\nerror_message: 'KeyError: 1'\nerror_type: KeyError\n---\nBody\n",
    )
    _write_seed(tmp_path, "best_practices", "notes.txt", "not a seed")
    _write_seed(tmp_path, "drafts", "d.md", "no front matter")
    loaded = load_seed_items(tmp_path)
    assert [(i.kind, i.slug) for i in loaded] == [("best_practice", "b"), ("common_error", "e")]
    assert loaded[0].tags == [] and loaded[0].language is None and loaded[0].body == "Body"
    assert loaded[1].error_type == "KeyError" and loaded[1].error_message == "KeyError: 1"


MALFORMED = {
    "no front matter": ("patterns", "# Title\n\nJust Markdown.\n", "no front matter"),
    "unclosed front matter": ("patterns", "---\ntitle: T\nsummary: S.\n", "not closed"),
    "bad yaml": ("patterns", "---\ntitle: [unclosed\nsummary: S.\n---\nBody\n", "not valid YAML"),
    "not a mapping": ("patterns", "---\n- a\n- b\n---\nBody\n", "mapping"),
    "missing title": ("patterns", "---\nsummary: S.\n---\nBody\n", "'title'"),
    "missing summary": ("best_practices", "---\ntitle: T\n---\nBody\n", "'summary'"),
    "error without message": (
        "common_errors",
        "---\ntitle: T\nsummary: S.\nerror_type: KeyError\n---\nBody\n",
        "'error_message'",
    ),
    "error fields on a pattern": (
        "patterns",
        "---\ntitle: T\nsummary: S.\nerror_message: 'KeyError: 1'\n---\nBody\n",
        "error_message",
    ),
    "tags not a list": ("patterns", "---\ntitle: T\nsummary: S.\ntags: oops\n---\nBody\n", "'tags'"),
    "unknown field": ("patterns", "---\ntitle: T\nsummary: S.\ntitel: T\n---\nBody\n", "titel"),
}


@pytest.mark.parametrize(("folder", "text", "problem"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_seed_file_raises_seed_file_error_naming_the_file(
    tmp_path: Path, folder: str, text: str, problem: str
) -> None:
    path = _write_seed(tmp_path, folder, "broken.md", text)
    with pytest.raises(SeedFileError) as caught:
        load_seed_items(tmp_path)
    assert caught.value.path == path
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)
    assert isinstance(caught.value, MemoryStoreError)


def test_a_missing_seeds_directory_raises_seed_file_error(tmp_path: Path) -> None:
    with pytest.raises(SeedFileError, match="does not exist"):
        load_seed_items(tmp_path / "nowhere")


def test_python_code_blocks_returns_only_python_fences() -> None:
    markdown = (
        "Intro\n"
        "```python\nx = 1\n```\n"
        "```bash\npip install x\n```\n"
        "````text\n```python\nnot_code()\n```\n````\n"
        "1. Step\n\n   ```python\n   if True:\n       y = 2\n   ```\n"
        "~~~python title\nz = 3\n~~~\n"
        "```\nplain\n```\n"
    )
    assert python_code_blocks(markdown) == ["x = 1\n", "if True:\n    y = 2\n", "z = 3\n"]


def test_loading_seeds_imports_no_heavy_dependencies() -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from mcp_memory.knowledge.seeds import load_seed_items\n"
        f"load_seed_items(Path({str(SEEDS_DIR)!r}))\n"
        "heavy = {'torch', 'chromadb', 'mcp', 'sentence_transformers'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
