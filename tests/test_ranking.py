"""Ranking pieces: code-aware words, the BM25 index, the smoothed success rate, error signatures in recall."""

from __future__ import annotations

import random
from typing import Any

import pytest

from mcp_memory.memory.error_signature import error_focus, error_signature, signature_if_named
from mcp_memory.memory.ranking import POLICIES, keeps_failing, outcome_adjustment, success_rate
from mcp_memory.memory.word_index import BM25Index
from mcp_memory.words import K1, B, code_tokens, idf
from tests.conftest import call

pytestmark = pytest.mark.anyio


def test_code_tokens_keep_identifiers_and_dotted_names_whole_and_split_them() -> None:
    tokens = code_tokens("json.decoder.JSONDecodeError in getUserName: max_retries")

    assert "json.decoder.jsondecodeerror" in tokens
    assert {"json", "decoder", "jsondecodeerror", "decode", "error"} <= set(tokens)
    assert {"getusername", "get", "user", "name", "max_retries", "max", "retries"} <= set(tokens)
    assert "in" not in tokens


def test_code_tokens_keep_numbers_of_two_digits_or_more_and_drop_stopwords_and_single_characters() -> None:
    assert code_tokens("Fix issue 4821 in the v2 API: HTTP 404, not 5 retries") == [
        "fix", "issue", "4821", "v2", "api", "http", "404", "not", "retries"
    ]  # fmt: skip


def test_bm25_ranks_the_rarer_shared_word_first_and_follows_replace_and_remove() -> None:
    index = BM25Index()
    index.add("a", code_tokens("ModuleNotFoundError: No module named 'fastapi'"))
    index.add("b", code_tokens("ModuleNotFoundError: No module named 'flask'"))
    index.add("c", code_tokens("KeyError: 'fastapi'"))

    assert [doc for doc, _ in index.search(code_tokens("No module named fastapi"), 3)][:1] == ["a"]

    index.add("a", code_tokens("ZeroDivisionError: division by zero"))  # replaced content
    assert "a" not in [doc for doc, _ in index.search(code_tokens("fastapi"), 3)]
    index.remove("c")
    assert index.search(code_tokens("fastapi"), 3) == []
    assert len(index) == 2


def _plain_bm25(documents: dict[str, list[str]], query: list[str], doc_id: str) -> float:
    """BM25 of one document, written out as the formula (the index must agree to the last bit)."""
    average = sum(len(tokens) for tokens in documents.values()) / len(documents)
    tokens = documents[doc_id]
    score = 0.0
    for term in dict.fromkeys(query):
        holding = sum(term in other for other in documents.values())
        tf = tokens.count(term)
        if holding and tf:
            norm = K1 * (1.0 - B + B * len(tokens) / average)
            score += idf(len(documents), holding) * tf * (K1 + 1.0) / (tf + norm)
    return score


def test_bm25_scores_are_exact_at_scale_after_replaces_and_removes_and_honour_within_and_ties() -> None:
    rng = random.Random(5)
    documents: dict[str, list[str]] = {}
    index = BM25Index()
    for n in range(1500):  # "error" and "type" sit in most documents: the common-word path is taken
        tokens = ["error", *(["type"] if n % 3 else []), f"mod{rng.randrange(200)}", f"name{rng.randrange(40)}"]
        documents[f"d{n}"] = tokens
        index.add(f"d{n}", tokens)
    for n in range(0, 1500, 7):
        del documents[f"d{n}"]
        index.remove(f"d{n}")
    for n in range(1, 1500, 11):
        documents[f"d{n}"] = ["error", "timeout", f"host{n % 5}"]
        index.add(f"d{n}", documents[f"d{n}"])
    query = ["error", "type", "mod7", "name3", "timeout"]
    best = index.search(query, 10)
    assert len(best) == 10 and len(index) == len(documents)
    for doc_id, score in best:
        assert score == _plain_bm25(documents, query, doc_id)
    everything = sorted(documents, key=lambda doc_id: -_plain_bm25(documents, query, doc_id))
    assert [score for _, score in best] == [_plain_bm25(documents, query, d) for d in everything[:10]]
    within = set(everything[5:40:3])
    assert {doc_id for doc_id, _ in index.search(query, 50, within=within)} <= within
    assert index.search(query, 1, within=within)[0][0] == everything[5]
    twins = BM25Index()
    for doc_id in ["b", "a", "c"]:
        twins.add(doc_id, ["same", "words"])
    assert [doc_id for doc_id, _ in twins.search(["same"], 3)] == ["b", "a", "c"]  # ties: indexed first, first


@pytest.mark.parametrize(
    ("successes", "failures", "rate"),
    [(0, 0, 0.5), (1, 0, 2 / 3), (0, 1, 1 / 3), (9, 1, 10 / 12), (1, 5, 2 / 8)],
)
def test_success_rate_is_smoothed(successes: int, failures: int, rate: float) -> None:
    assert success_rate(successes, failures) == pytest.approx(rate)


def test_a_memory_that_keeps_failing_is_penalized_and_a_proven_one_rises() -> None:
    assert keeps_failing(0, 1) and keeps_failing(1, 4)
    assert not keeps_failing(3, 1) and not keeps_failing(1, 1) and not keeps_failing(0, 0)
    assert outcome_adjustment(5, 0) > outcome_adjustment(1, 0) > outcome_adjustment(0, 0) == 0
    assert outcome_adjustment(1, 4) < outcome_adjustment(0, 1) + 0.1 < 0
    assert abs(outcome_adjustment(100, 0)) <= 0.1


def test_signatures_strip_names_and_free_text_has_none() -> None:
    assert error_signature("KeyError: 'DATABASE_URL'") == error_signature("KeyError: 'PORT'") == "KeyError: <name>"
    assert signature_if_named("Cannot import fastapi") is None
    traceback = "Traceback (most recent call last):\n  File \"/srv/app.py\", line 3, in <module>\nKeyError: 'PORT'"
    assert error_focus(traceback) == "KeyError: 'PORT'"
    assert error_focus("why does my import of fastapi fail") == "why does my import of fastapi fail"


def test_only_errors_use_words_and_signatures() -> None:
    assert POLICIES["error"].uses_words and POLICIES["error"].signature_first
    assert not any(POLICIES[kind].uses_words for kind in ("pattern", "solution", "best_practice", "episode"))


async def store_error(client: Any, error: str, resolution: str, success: bool = True, context: str = "") -> dict:
    return await call(
        client, "store_error_resolution", error_message=error, context=context, resolution=resolution, success=success
    )


async def test_an_exact_signature_match_comes_first_even_when_another_error_reads_closer(client: Any) -> None:
    env = await store_error(client, "KeyError: 'DATABASE_URL'", "export DATABASE_URL or use os.environ.get")
    await store_error(
        client,
        "RuntimeError: the REDIS_URL setting is missing from the environment",
        "set REDIS_URL in .env",
        context="Reading the REDIS_URL environment variable",
    )

    recalled = await call(client, "recall_error_solutions", error_message="KeyError: 'REDIS_URL'")

    top = recalled["results"][0]
    assert top["id"] == env["id"]
    assert "same error signature 'KeyError: <name>'" in top["why"]
    assert top["score"] > 1  # the signature tier


async def test_a_traceback_query_is_matched_by_its_exception_line(client: Any) -> None:
    fix = await store_error(client, "ModuleNotFoundError: No module named 'fastapi'", "pip install fastapi")
    await store_error(
        client, "FileNotFoundError: [Errno 2] No such file or directory: '/srv/app/main.py'", "fix the path"
    )

    traceback = (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/main.py", line 1, in <module>\n'
        "    import httpx\n"
        "ModuleNotFoundError: No module named 'httpx'"
    )
    recalled = await call(client, "recall_error_solutions", error_message=traceback)

    assert recalled["results"][0]["id"] == fix["id"]
    assert "shares words" in recalled["results"][0]["why"]


def test_word_scores_are_a_share_of_a_full_match_so_they_mean_the_same_for_every_query() -> None:
    index = BM25Index()
    for i, message in enumerate(["KeyError: 'sort_order'", "TimeoutError: timed out", "ValueError: bad key 'x'"]):
        index.add(str(i), code_tokens(message))
    query = code_tokens("how to sort a list of dicts by key")
    [(best, score), *_] = index.search(query, 3)
    assert best in {"0", "2"}
    assert 0 < score / index.query_weight(query) < 0.5  # the best match holds only a few of the query's words
    exact = code_tokens("TimeoutError: timed out")
    assert index.search(exact, 1)[0][1] / index.query_weight(exact) > 0.9


async def test_search_over_all_types_is_not_crowded_by_errors_that_share_one_word(client: Any) -> None:
    pattern = await call(
        client,
        "store_code_pattern",
        pattern_name="read a CSV file into dicts",
        code=(
            "import csv\ndef read_rows(path):\n    with open(path, newline='') as f:\n"
            "        return list(csv.DictReader(f))\n"
        ),
        language="python",
        context="load a CSV file as a list of dicts",
    )
    for message in [
        "csv.Error: line contains NUL",
        "FileNotFoundError: [Errno 2] No such file or directory: 'data.csv'",
        "KeyError: 'sort_order'",
    ]:
        await call(
            client, "store_error_resolution", error_message=message, context="", resolution="fix it", success=True
        )
    found = await call(client, "search_memory", query="parse csv rows into dictionaries", n_results=4)
    assert found["results"][0]["id"] == pattern["id"], [(h["type"], h["title"], h["score"]) for h in found["results"]]
