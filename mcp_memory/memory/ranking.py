"""How each memory type is ranked, and how reported outcomes move a result.

Every policy was chosen on dev data with ``bench/quality.py`` (MiniLM, numbers in README "How recall works"):

- pattern, solution, best_practice, episode — **dense only**. Natural-language questions about code are a
  dense problem: on CoSQA dev (500 web queries, 6,267 functions) dense R@5 is .730 (MRR .525); BM25 alone
  .444; fusing BM25 by reciprocal rank drops it to .632, a 0.8/0.2 blend to .718. A 0.9/0.1 blend reached
  .742 — inside the noise of 500 queries, and not worth a word index over the largest collection. (Episode
  recall proper is ranked by the episode service, which fuses its own summary vector and word index; see
  ``episode_index.py``.)
- error — **exception line, 50/50 dense + BM25, exact signature first**. Error messages are templates: on the
  error dev set (303 pairs of different real messages with one cause) dense over the whole query reaches R@5
  .815 / MRR .657; comparing only the traceback's exception line (dense alone: .842 / .713), blended half and
  half with BM25 over the stored error message (code-aware words, ``lexical.py``; BM25 alone .967 / .886),
  with exact signature matches first, reaches R@5 .974 / MRR .898. Blend weights from 0.4 to 0.6 land within
  .01 of that; reciprocal-rank fusion (signatures first) is worse, .964 / .868.

  The BM25 score enters the blend as a share of a *full match* — what a memory holding every query word once
  would score (``BM25Index.query_weight``) — not of the best match found. Scaling to the best match made a
  query's best word match worth 1 however few words it shared, so in a search over all types errors sharing
  one word with a question about code crowded out the code: CoSQA queries among patterns, errors and seeds
  fell from R@5 .87 to .77 (R@1 .55 to .34), below dense-only. As a share of a full match the words mean the
  same for every query: the code queries keep their ranking among all types, and errors alone gained a little.

RELEVANCE FLOORS: a hit whose relevance (the score before outcomes) is below its type's floor is marked weak, kept
out of the task prompt, and a recall with nothing above the floor says "no close match". Chosen with
``bench/relevance_floor.py`` as the highest floor keeping 90% of the right hits on the tuning half (every other
query) of the dev data, against the top hit of queries with no right answer (nonsense, and the other domain's
questions). Dense types, measured on CoSQA dev as patterns: 0.53, held-out half: 90.2% of right hits kept, 74.5%
of unrelated top hits marked weak. Errors, on the error dev set: 0.48, held-out: 93.9% kept, 97.3% marked weak.
Solutions take the dense floor; best practices and episodes, not measured yet, keep the task prompt's former 0.30.

Outcomes: each memory's success rate is smoothed, ``rate = (s + 1) / (s + f + 2)`` (a uniform prior: no reports
0.5, one success 0.67, one failure 0.33, 9 of 10 0.83), and moves its score by ``OUTCOME_WEIGHT * (rate - 0.5)``,
at most ±0.1 — enough to order equally relevant results, never enough to lift an unrelated one. A memory that
never worked (only failures) or keeps failing (``f >= 2`` and ``rate <= 1/3``) also loses ``FAILING_PENALTY`` and
says so in its ``why``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcp_memory.memory.error_signature import error_focus

OUTCOME_WEIGHT = 0.2
MAX_OUTCOME_RAISE = OUTCOME_WEIGHT / 2  # the most an outcome record can add (rate -> 1)
FAILING_PENALTY = 0.15
KEEPS_FAILING_RATE = 1 / 3
# Added to the score of an error whose signature is exactly the query's: those come first.
SIGNATURE_BONUS = 1.0


@dataclass(frozen=True)
class RankingPolicy:
    """How one memory type is ranked."""

    lexical_weight: float = 0.0  # share of BM25 (as a fraction of a full match) in the blend; 0 is dense only
    focus_on_error_line: bool = False  # compare a traceback's exception line, not its frames
    signature_first: bool = False  # exact error-signature matches before everything else
    depth: int = 0  # nearest vectors taken before fusing (at least 3 per result asked for)
    word_depth: int = 0  # best word matches taken before fusing (at least 3 per result asked for)
    floor: float = 0.0  # relevance below which a hit is a weak match (see RELEVANCE FLOORS above)

    @property
    def uses_words(self) -> bool:
        return self.lexical_weight > 0 or self.signature_first

    def query_text(self, query: str) -> str:
        """The part of the query that is compared with stored memories."""
        return error_focus(query) if self.focus_on_error_line else query


DENSE_FLOOR = 0.53
ERROR_FLOOR = 0.48
# Best practices are general advice, far in wording from any one task; episodes are ranked by their own service.
# Neither is measured yet: they keep the task prompt's former floor.
UNMEASURED_FLOOR = 0.30
DENSE = RankingPolicy(floor=DENSE_FLOOR)
GENERAL = RankingPolicy(floor=UNMEASURED_FLOOR)
ERRORS = RankingPolicy(
    lexical_weight=0.5, focus_on_error_line=True, signature_first=True, depth=50, word_depth=20, floor=ERROR_FLOOR
)
POLICIES: dict[str, RankingPolicy] = {
    "pattern": DENSE,
    "solution": DENSE,
    "best_practice": GENERAL,
    "episode": GENERAL,
    "error": ERRORS,
}


def policy_for(memory_type: str) -> RankingPolicy:
    return POLICIES.get(memory_type, DENSE)


NO_CLOSE_MATCH = (
    "No close match: every result is below its type's relevance floor (weak: true), so probably not about the query."
)


def is_weak(memory_type: str, relevance: float) -> bool:
    """A match below its type's relevance floor: shown, marked, kept out of the task prompt."""
    return relevance < policy_for(memory_type).floor


def success_rate(successes: int, failures: int) -> float:
    """The smoothed success rate (s + 1) / (s + f + 2): 0.5 with no reports, never exactly 0 or 1."""
    return (successes + 1) / (successes + failures + 2)


def keeps_failing(successes: int, failures: int) -> bool:
    """Never worked, or failed at least twice and mostly."""
    if failures and not successes:
        return True
    return failures >= 2 and success_rate(successes, failures) <= KEEPS_FAILING_RATE + 1e-9


def outcome_adjustment(successes: int, failures: int) -> float:
    """What the outcome record adds to (or takes from) a relevance score."""
    adjustment = OUTCOME_WEIGHT * (success_rate(successes, failures) - 0.5)
    if keeps_failing(successes, failures):
        adjustment -= FAILING_PENALTY
    return adjustment


def blend(cosine: float, lexical: float, full_match: float, weight: float) -> float:
    """Relevance in 0..1: cosine similarity blended with BM25 as a fraction of ``full_match``, the score of a
    memory holding every query word (``BM25Index.query_weight``), so it means the same for every query and
    compares with the cosine-only relevance of other types."""
    if weight <= 0:
        return cosine
    words = min(1.0, lexical / full_match) if full_match > 0 else 0.0
    return (1.0 - weight) * cosine + weight * words


def outcome_why(successes: int, failures: int, has_failure_note: bool = False) -> str:
    """The outcome part of a hit's ``why``. A failure note is another agent's text: the hit carries it in its own
    field (``last_failure_note``), never spliced into this sentence."""
    if not successes and not failures:
        return ""
    rate = success_rate(successes, failures)
    if failures and not successes:
        text = f"a failed attempt ({failures}x did not work), not a fix"
    elif keeps_failing(successes, failures):
        text = (
            f"KEEPS FAILING: failed {failures} of {successes + failures} times (success rate {rate:.2f}); "
            "try other results first"
        )
    else:
        text = f"worked {successes}x" + (f", failed {failures}x" if failures else "") + f" (success rate {rate:.2f})"
    if failures and has_failure_note:
        text += "; the last failure's note is in last_failure_note"
    return text


def part_why(part: int, parts: object) -> str:
    """Where in a long pattern's code the match was, for a ``why``."""
    return f" in part {part}" + (f" of {parts}" if parts else "") + " of its code"
