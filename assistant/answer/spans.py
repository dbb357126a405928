"""Candidate short answers inside a sentence: the sentence as tokens with their word classes
and matches to the question (:class:`TokenView`), and the spans that may answer it (typed
phrases, runs of words between clause boundaries, windows of up to eight words)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..index.bm25 import LexicalIndex
from ..text.word_classes import word_classes
from .question import Question, word_matches
from .words import (
    ABBREVIATIONS,
    APPROXIMATORS,
    ARTICLES,
    AUXILIARIES,
    BOUNDARY_PUNCT,
    CLOSING,
    CONJUNCTIONS,
    DIGIT,
    NUMBER_WORDS,
    OPENING,
    PREPOSITIONS,
    RANGE_WORDS,
    REASON_OPENERS,
    TOKEN,
    UNITS,
    WORD_CHAR,
    dates_in,
)

MAX_WINDOW = 8  # any run of up to this many words is a candidate
MAX_LONG = 40  # longer runs only between clause boundaries


@dataclass(frozen=True)
class Token:
    text: str
    start: int  # offsets in the sentence
    end: int
    punct_before: bool  # clause punctuation (, ; : brackets, dashes, quotes) between it and the previous word
    punct_after: bool


def tokenize(text: str) -> list[Token]:
    """The words (and numbers, unit signs) of a sentence with offsets; punctuation is kept only
    as the ``punct_before``/``punct_after`` marks of its neighbours."""
    raw = [(m.group(0), m.start(), m.end()) for m in TOKEN.finditer(text)]
    words: list[list] = []
    pending = False
    for piece, start, end in raw:
        if WORD_CHAR.match(piece):
            words.append([piece, start, end, pending, False])
            pending = False
        elif piece in BOUNDARY_PUNCT or piece in ".!?…":
            pending = True
            if words:
                words[-1][4] = True
    return [Token(*w) for w in words]


@dataclass(frozen=True)
class Span:
    first: int  # word index, inclusive
    last: int  # word index, inclusive
    start: int  # character offsets in the sentence
    end: int
    sources: int  # bit mask of SOURCE_* (how it was proposed)


SOURCE_WINDOW, SOURCE_CLAUSE, SOURCE_DATE, SOURCE_NUMBER, SOURCE_NAME, SOURCE_PLACE, SOURCE_LONG = (
    1 << i for i in range(7)
)


@dataclass(frozen=True)
class TokenView:
    """Per-word classes of one sentence for one question (numpy arrays of equal length)."""

    tokens: tuple[Token, ...]
    term: np.ndarray  # index of the question term the word contains, -1 if none
    flags: dict[str, np.ndarray]  # bool arrays: see _CLASSES
    dates: tuple[tuple[int, int, str], ...]  # (first word, last word, precision) of dates the question does not name
    classes: np.ndarray  # word class of each word (index into text.word_classes.COARSE)


_CLASSES = (
    "q",
    "stop",
    "cap",
    "num",
    "unit",
    "prep",
    "art",
    "conj",
    "aux",
    "reason",
    "date",
    "year",
    "lower",
    "punct_before",
    "punct_after",
    "open",
    "close",
    "question_word",
    "head",
    "approx",
    "range",
)


def token_view(
    question: Question, text: str, lexical: LexicalIndex, tokens: Sequence[Token] | None = None
) -> TokenView:
    analyzer = lexical.analyzer
    tokens = tuple(tokens if tokens is not None else tokenize(text))
    n = len(tokens)
    term = np.full(n, -1, dtype=np.int32)
    flags = {name: np.zeros(n, dtype=bool) for name in _CLASSES}
    for i, tok in enumerate(tokens):
        low = tok.text.lower()
        content = analyzer.words_of(low)
        if content:
            hits = word_matches(question, content[0], analyzer.terms_of_word(content[0]))
            term[i] = hits[0] if hits else -1
        flags["stop"][i] = not content
        flags["cap"][i] = tok.text[:1].isupper()
        flags["num"][i] = bool(DIGIT.search(low)) or low in NUMBER_WORDS
        flags["unit"][i] = low in UNITS
        flags["prep"][i] = low in PREPOSITIONS
        flags["art"][i] = low in ARTICLES
        flags["conj"][i] = low in CONJUNCTIONS
        flags["aux"][i] = low in AUXILIARIES
        flags["reason"][i] = low in REASON_OPENERS
        flags["approx"][i] = low in APPROXIMATORS
        flags["range"][i] = low in RANGE_WORDS
        flags["year"][i] = (
            len(low) == 4
            and low.isdigit()
            and low[:2] in ("10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20")
        )
        flags["lower"][i] = bool(content) and tok.text[:1].islower()
        flags["punct_before"][i] = tok.punct_before
        flags["punct_after"][i] = tok.punct_after
        flags["question_word"][i] = low in question.words
        before = text[tokens[i - 1].end if i else 0 : tok.start]
        after = text[tok.end : tokens[i + 1].start if i + 1 < n else len(text)]
        flags["open"][i] = any(c in OPENING for c in before)
        flags["close"][i] = any(c in CLOSING for c in after)
    flags["q"] = term >= 0
    flags["head"] = (term == question.head) & (question.head >= 0)
    dates = []
    starts = np.array([t.start for t in tokens], dtype=np.int64)
    for m in dates_in(text):
        if m.text in question.asked_dates:
            continue
        first = int(np.searchsorted(starts, m.offset))
        last = int(np.searchsorted(starts, m.offset + len(m.text))) - 1
        if first <= last < n:
            flags["date"][first : last + 1] = True
            dates.append((first, last, m.precision))
    return TokenView(tokens, term, flags, tuple(dates), sentence_classes(text, n))


def sentence_classes(text: str, n: int) -> np.ndarray:
    """The word class of each of the ``n`` words :func:`tokenize` finds in ``text``: the tagger
    sees the punctuation too, for its context, and its tags of words are kept."""
    pieces = [m.group(0) for m in TOKEN.finditer(text)]
    classes = word_classes(pieces)
    words = np.fromiter((bool(WORD_CHAR.match(p)) for p in pieces), dtype=bool, count=len(pieces))
    out = classes[words]
    assert len(out) == n
    return out


def span_candidates(view: TokenView) -> list[Span]:
    """Candidate short answers of one sentence: every run of up to :data:`MAX_WINDOW` words
    that does not end on an article, preposition or conjunction and holds a new content word;
    longer runs (up to :data:`MAX_LONG`) from a clause start to a clause end; typed spans (dates,
    numbers with units, capitalised names, preposition + name) are marked in ``sources``."""
    f = view.flags
    n = len(view.tokens)
    if not n:
        return []
    new = ~f["q"] & ~f["stop"]
    new_cum = np.concatenate([[0], np.cumsum(new)])
    bad_end = f["art"] | f["prep"] | f["conj"]
    bad_start = f["conj"] & ~f["reason"]
    clause_start = np.zeros(n, dtype=bool)
    clause_start[0] = True
    clause_start |= f["punct_before"] | f["conj"] | f["reason"] | f["prep"]
    clause_start[1:] |= f["q"][:-1]
    clause_end = np.zeros(n, dtype=bool)
    clause_end[-1] = True
    clause_end |= f["punct_after"]
    clause_end[:-1] |= f["conj"][1:] | f["q"][1:]
    found: dict[tuple[int, int], int] = {}
    for i in range(n):
        if bad_start[i]:
            continue
        for j in range(i, min(n, i + MAX_LONG)):
            if bad_end[j] or new_cum[j + 1] - new_cum[i] == 0:
                continue
            bits = 0
            if j - i < MAX_WINDOW:
                bits |= SOURCE_WINDOW
            elif clause_start[i] and clause_end[j]:
                bits |= SOURCE_LONG
            if (i == 0 or f["punct_before"][i]) and (j == n - 1 or f["punct_after"][j]):
                bits |= SOURCE_CLAUSE
            if bits:
                found[(i, j)] = bits
    for first, last, _ in view.dates:
        found[(first, last)] = found.get((first, last), 0) | SOURCE_DATE
    for start in np.flatnonzero(f["num"] & ~f["date"]):
        i = j = int(start)
        first = i - 1 if i > 0 and f["approx"][i - 1] else i  # "rund 200.000"
        while True:  # the number alone, then with each following unit or number word
            for a in {i, first}:
                found[(a, j)] = found.get((a, j), 0) | SOURCE_NUMBER
            if j + 1 >= n or j - i >= 3 or not (f["unit"][j + 1] or f["num"][j + 1]):
                break
            j += 1
    for a, b in _runs(f["cap"] & ~f["stop"] & ~f["q"], allow_inside=f["art"] | (f["prep"] & ~f["cap"])):
        if a == 0 and b == 0:
            continue
        found[(a, b)] = found.get((a, b), 0) | SOURCE_NAME
        if a > 0 and f["prep"][a - 1]:
            found[(a - 1, b)] = found.get((a - 1, b), 0) | SOURCE_PLACE
        if a > 1 and f["prep"][a - 2] and f["art"][a - 1]:
            found[(a - 2, b)] = found.get((a - 2, b), 0) | SOURCE_PLACE
    text_end = [t.end for t in view.tokens]
    return [Span(i, j, view.tokens[i].start, text_end[j], bits) for (i, j), bits in sorted(found.items())]


def _runs(mask: np.ndarray, allow_inside: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of ``mask`` words, which may hold single ``allow_inside`` words ("Karl der
    Große", "Universität von Bologna")."""
    runs = []
    i, n = 0, len(mask)
    while i < n:
        if not mask[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and (mask[j + 1] or (allow_inside[j + 1] and j + 2 < n and mask[j + 2])):
            j += 2 if not mask[j + 1] else 1
        runs.append((i, j))
        i = j + 1
    return runs


def span_text(sentence: str, span: Span) -> str:
    """The span's text, with a closing bracket or quote it needs and the period of an
    abbreviation it ends on ("2,3 Mrd." not "2,3 Mrd")."""
    end = span.end
    rest = sentence[end : end + 2]
    opened = sum(sentence[span.start : end].count(c) for c in "(„") - sum(
        sentence[span.start : end].count(c) for c in ")“"
    )
    closes = opened > 0 and rest[:1] in (")", "“")
    abbreviated = rest[:1] == "." and sentence[span.start : end].rsplit(None, 1)[-1].lower() in ABBREVIATIONS
    if closes or abbreviated:
        end += 1
    return sentence[span.start : end]
