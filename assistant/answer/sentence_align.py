"""Sentence features of how the question lines up with a sentence (:mod:`.sentence_features`
adds them to its rows): the question's words in the question's order, its two rarest words,
the rarest word only in a neighbour, and a token of the expected answer type standing near the
question's words. Cross-validated on GermanQuAD (evals/ranker/train.py) they raise the sentence
model's accuracy from 0.595 to 0.611 end to end."""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence

from ..index.bm25 import LexicalIndex
from .question import Question, word_matches
from .words import ARTICLES, DIGIT, NUMBER_WORDS, PREPOSITIONS

ALIGN_FEATURES: tuple[tuple[str, str], ...] = (
    ("lcs_share", "longest run of question words in the question's order (not necessarily adjacent) / question words"),
    ("lcs_gain", "the same beyond the first word: 0 unless two question words stand in order"),
    ("rare2_cov", "share of the question's two rarest words it contains (the entity and the specific word)"),
    ("rarest_prev_only", "the rarest word is in the previous sentence but not in it: it may continue that one"),
    ("rarest_next_only", "the rarest word is in the next sentence but not in it"),
    (
        "type_near",
        "a token of the expected answer type (year/month for dates, a number, a capitalised non-question "
        "word for names and things) within 4 tokens of a question word",
    ),
    ("type_dist", "log token distance from such a token to the nearest question word (30 if none)"),
    ("type_count", "log count of tokens of the expected answer type that are not question words"),
    ("cov_idf_rel", "cov_idf relative to the pool's best cov_idf"),
    ("cov_idf_is_best", "1 for the sentence(s) with the pool's highest cov_idf"),
)
ALIGN_FEATURE_NAMES = tuple(name for name, _ in ALIGN_FEATURES)

_MONTHS = frozenset("januar februar märz april mai juni juli august september oktober november dezember".split())
_NAMED_TYPES = frozenset(("person", "entity", "place", "thing", "other"))
_NEAR = 4
_FAR = 30


def _ordered(seq: Sequence[int]) -> int:
    """Length of the longest strictly increasing subsequence of term indices."""
    tails: list[int] = []
    for k in seq:
        i = bisect.bisect_left(tails, k)
        if i == len(tails):
            tails.append(k)
        else:
            tails[i] = k
    return len(tails)


def _of_type(kind: str, token: str, low: str, position: int) -> bool:
    if kind == "date":
        return (token.isdigit() and len(token) in (3, 4)) or low in _MONTHS
    if kind == "number":
        return bool(DIGIT.search(token)) or low in NUMBER_WORDS
    if kind in _NAMED_TYPES:
        return token[:1].isupper() and position > 0 and low not in ARTICLES and low not in PREPOSITIONS
    return False


def _type_tokens(question: Question, text: str, lexical: LexicalIndex) -> tuple[int, int]:
    """(token distance from a token of the answer type to the nearest question word, 99 if
    none; number of such tokens)."""
    analyzer = lexical.analyzer
    asked: list[int] = []
    typed: list[int] = []
    for j, token in enumerate(re.findall(r"\w+", text)):
        low = token.lower()
        terms = analyzer.terms_of_word(low) if len(low) > 2 else ()
        if low in question.words or (terms and word_matches(question, low, tuple(terms))):
            asked.append(j)
        elif _of_type(question.answer_type, token, low, j):
            typed.append(j)
    if not asked or not typed:
        return 99, len(typed)
    return min(abs(a - b) for a in asked for b in typed), len(typed)


def align_features(
    question: Question,
    pool: Sequence,
    lexical: LexicalIndex,
    found: Sequence[Sequence[bool]],
    first_terms: Sequence[Sequence[int]],
) -> list[dict[str, float]]:
    """One dict of :data:`ALIGN_FEATURES` per sentence of ``pool``; ``found`` is per sentence
    and question term whether the sentence has it, ``first_terms`` per content word the first
    term it matches (-1: none), as :func:`.sentence_features._found` gives them."""
    terms = question.terms
    n = max(len(terms), 1)
    order = sorted(range(len(terms)), key=lambda k: -terms[k].idf)
    rare2 = order[:2]
    rarest = order[0] if order else None
    cov_idf = [sum(t.idf for t, hit in zip(terms, f, strict=False) if hit) / question.total_idf for f in found]
    best_idf = max(cov_idf, default=0.0) or 1.0
    rows = []
    for i, s in enumerate(pool):
        f = found[i]
        run = _ordered([k for k in first_terms[i] if k >= 0])
        distance, count = _type_tokens(question, s.text, lexical)
        here = rarest is not None and f[rarest]
        prev = i > 0 and pool[i - 1].group == s.group and rarest is not None and found[i - 1][rarest]
        nxt = i + 1 < len(pool) and pool[i + 1].group == s.group and rarest is not None and found[i + 1][rarest]
        rows.append(
            {
                "lcs_share": run / n,
                "lcs_gain": (run - 1) / n if run > 1 else 0.0,
                "rare2_cov": sum(f[k] for k in rare2) / max(len(rare2), 1),
                "rarest_prev_only": float(bool(prev and not here)),
                "rarest_next_only": float(bool(nxt and not here)),
                "type_near": float(distance <= _NEAR),
                "type_dist": math.log1p(min(distance, _FAR)),
                "type_count": math.log1p(count),
                "cov_idf_rel": cov_idf[i] / best_idf,
                "cov_idf_is_best": float(cov_idf[i] >= best_idf - 1e-9),
            }
        )
    return rows
