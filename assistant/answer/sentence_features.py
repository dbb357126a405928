"""Features of candidate sentences for the fitted sentence ranker (:mod:`.ranker`): one row of
:data:`SENTENCE_FEATURES` per sentence of a pool, each feature listed with the reason it is
there. Features relative to the pool (local IDF, the document's best coverage) are computed over
the whole pool."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..index.bm25 import LexicalIndex
from .question import Question, word_matches, word_variants
from .sentence_align import ALIGN_FEATURES, align_features
from .words import (
    ACRONYM,
    CONTINUES,
    DEFINITION,
    DIGIT,
    HEADING,
    NAME_SEQ,
    NUMBER_WORDS,
    PLACE,
    PROCEDURE,
    REASON,
    UNITS,
    dates_in,
)


@dataclass(frozen=True)
class SentenceInput:
    """One candidate sentence as the answerer sees it."""

    text: str
    rank: int  # retrieval rank of its passage (0 = best); extra chunks of the best document get the pool size
    retrieval_score: float  # passage score / best passage score (0 for the extra chunks)
    group: int  # its passage (chunk id): neighbours in the pool with the same group are adjacent sentences
    index_in_passage: int
    doc_id: str
    doc_position: float  # sentence start / document length
    is_doc_start: bool  # first sentence of the document


SENTENCE_FEATURES: tuple[tuple[str, str], ...] = (
    ("cov_idf", "share of the question's IDF weight the sentence contains: the main evidence"),
    (
        "cov_local",
        "coverage with each word weighed down by how many pool sentences contain it: "
        "topic words tell sentences apart less",
    ),
    ("cov_count", "share of question words found, unweighted: robust where IDF misjudges short questions"),
    ("soft_cov", "local coverage counting spelling variants and derivations too (kolonialisiert ~ Kolonisation)"),
    ("soft_gain", "what the variants add to the exact local coverage"),
    ("cov_with_prev", "local coverage of this and the previous sentence together: the question may be split over both"),
    ("cov_with_next", "local coverage of this and the next sentence together"),
    ("cov_rel", "local coverage relative to the pool's best: the ranking is within one question"),
    ("cov_is_best", "1 for the sentence(s) with the pool's highest local coverage"),
    ("cov_rank", "log rank of the local coverage in the pool"),
    (
        "uncovered_idf",
        "IDF sum of the question words it misses (absolute, log): many missing rare words argue against it",
    ),
    ("rarest_covered", "it contains the question's rarest word (usually the named entity)"),
    (
        "gram_overlap",
        "share of the question's character 4-grams it contains: inflection and compounds the stemmer misses",
    ),
    ("ordered_pairs", "share of adjacent question-word pairs that also stand close (<=3 words) in it: phrase matches"),
    ("proximity", "matched words / width of the stretch holding them: question words close together"),
    ("window_density", "most distinct question words within 8 content words / question words: a local match"),
    ("novel_words", "log count of its content words the question does not contain: an answer adds information"),
    ("novel_share", "share of its content words not in the question"),
    ("says_nothing", "fewer than 2 new content words: repeats the question"),
    ("has_new_date", "a date not named in the question"),
    ("has_day_date", "a day or month date (not only a year)"),
    ("has_number", "a digit or number word outside dates"),
    ("number_unit", "a number followed by a unit (Euro, km, Prozent, Einwohner, ...)"),
    ("has_name", "a capitalised multi-word name or acronym that is not in the question"),
    ("has_place", "a preposition followed by a capitalised word (in Rottweil, an der RWTH)"),
    ("has_reason", "a causal marker (weil, denn, um ... zu, aufgrund, dadurch)"),
    ("has_definition", "a definition pattern (ist ein, bezeichnet, gilt als)"),
    ("type_match", "it has what the expected answer type needs (date/number/name/place/reason/definition)"),
    ("type_date", "expected type date: a constant per question, lets trees condition on it"),
    ("type_number", "expected type number"),
    ("type_person", "expected type person"),
    ("type_place", "expected type place"),
    ("type_reason", "expected type reason"),
    ("type_manner", "expected type manner (Wie ...)"),
    ("type_open", "expected type thing/entity/other"),
    ("rank", "retrieval rank of its passage (pool size for the extra chunks of the best document)"),
    ("top_passage", "it is in the best passage"),
    ("extra_chunk", "it comes from a chunk of the best document that retrieval did not return"),
    ("retrieval_score", "passage score relative to the best passage"),
    ("same_doc_as_top", "it is in the best passage's document"),
    ("index_in_passage", "log position in its passage"),
    ("doc_position", "relative position in its document"),
    ("doc_start", "first sentence of the document (often a definition)"),
    ("log_chars", "log length in characters"),
    ("too_short", "under 25 characters"),
    ("too_long", "over 400 characters: hard to read, but holds more"),
    ("heading", "a section heading (=== ... ===): never an answer"),
    ("prev_cov", "previous sentence's local coverage: the answer often follows the matching sentence"),
    ("prev_gain", "how much more the previous sentence covers than this one"),
    ("continues", "it opens with an anaphor (Sie, Dabei, Diese ...): it continues the previous sentence"),
    ("prev_gain_continues", "prev_gain when it continues the previous sentence"),
    ("next_cov", "next sentence's local coverage: the matching sentence may be followed by the answer"),
    ("next_gain", "how much more the next sentence covers"),
    ("doc_best_cov", "best local coverage in its document: how well its document matches"),
    ("question_terms", "log number of question content words (constant per question)"),
    (
        "defines_term",
        "a question word is followed by an apposition, a bracket or a copula (X, die ...; X ist ...): "
        "the sentence says what X is",
    ),
    ("defines_term_open", "defines_term for the open types (Was ist X?, Welche ...?)"),
    ("procedure_words", "log count of words of procedures (Antrag, anmelden, Schritt, empfohlen, Voraussetzung ...)"),
    ("procedure_manner", "procedure_words for Wie-questions (Wie kann man teilnehmen?)"),
    *ALIGN_FEATURES,
)
SENTENCE_FEATURE_NAMES = tuple(name for name, _ in SENTENCE_FEATURES)


@dataclass(frozen=True)
class _Parsed:
    terms: frozenset[str]
    content: tuple[tuple[str, ...], ...]  # index terms of each content word, in order
    words: tuple[str, ...]  # the content words (lower case)


def _parse(text: str, lexical: LexicalIndex) -> _Parsed:
    analyzer = lexical.analyzer
    words = tuple(analyzer.words_of(text))
    content = tuple(analyzer.terms_of_word(w) for w in words)
    terms = frozenset(t for word in content for t in word)
    return _Parsed(terms, content, words)


def _found(question: Question, parsed: _Parsed) -> tuple[list[bool], list[bool], list[int]]:
    """Per question term: found in the sentence (as :func:`covers` on all its terms), found also
    counting spelling variants; and per content word the first term it matches (-1: none)."""
    found = [bool(t.parts) and all(p in parsed.terms for p in t.parts) for t in question.terms]
    soft = list(found)
    first: list[int] = []
    for word, word_terms in zip(parsed.words, parsed.content, strict=False):
        hits = word_matches(question, word, word_terms)
        for k in hits:
            found[k] = soft[k] = True
        for k in word_variants(question, word):
            soft[k] = True
        first.append(hits[0] if hits else -1)
    return found, soft, first


def sentence_features(question: Question, pool: Sequence[SentenceInput], lexical: LexicalIndex) -> np.ndarray:
    """One row of :data:`SENTENCE_FEATURES` per sentence of ``pool`` (float32)."""
    parsed = [_parse(s.text, lexical) for s in pool]
    matched = [_found(question, p) for p in parsed]
    found = [m[0] for m in matched]
    soft = [m[1] for m in matched]
    n = max(len(pool), 1)
    share = [sum(f[k] for f in found) / n for k in range(len(question.terms))]
    local = [t.idf * (1.0 - 0.8 * s) for t, s in zip(question.terms, share, strict=False)]
    local_total = sum(local) or 1.0

    def weigh(hits: Sequence[bool]) -> float:
        return sum(w for w, hit in zip(local, hits, strict=False) if hit) / local_total

    cov_local = [weigh(f) for f in found]
    soft_local = [weigh(f) for f in soft]
    best = max(cov_local, default=0.0)
    order = sorted(range(len(pool)), key=lambda i: -cov_local[i])
    rank_of = {i: r for r, i in enumerate(order)}
    doc_best: dict[str, float] = {}
    for s, c in zip(pool, cov_local, strict=False):
        doc_best[s.doc_id] = max(doc_best.get(s.doc_id, 0.0), c)
    rarest = max(range(len(question.terms)), key=lambda k: question.terms[k].idf, default=None)
    aligned = align_features(question, pool, lexical, found, [m[2] for m in matched])
    rows = []
    for i, (s, p, f, m) in enumerate(zip(pool, parsed, found, matched, strict=False)):
        has_prev = i > 0 and pool[i - 1].group == s.group
        has_next = i + 1 < len(pool) and pool[i + 1].group == s.group
        prev = cov_local[i - 1] if has_prev else 0.0
        nxt = cov_local[i + 1] if has_next else 0.0
        row = {
            "soft_cov": soft_local[i],
            "soft_gain": soft_local[i] - cov_local[i],
            "cov_with_prev": weigh(_either(f, found[i - 1])) if has_prev else cov_local[i],
            "cov_with_next": weigh(_either(f, found[i + 1])) if has_next else cov_local[i],
            "cov_idf": sum(t.idf for t, hit in zip(question.terms, f, strict=False) if hit) / question.total_idf,
            "cov_local": cov_local[i],
            "cov_count": sum(f) / max(len(f), 1),
            "cov_rel": cov_local[i] / best if best else 0.0,
            "cov_is_best": float(best > 0 and cov_local[i] >= best),
            "cov_rank": math.log1p(rank_of[i]),
            "uncovered_idf": math.log1p(sum(t.idf for t, hit in zip(question.terms, f, strict=False) if not hit)),
            "rarest_covered": float(rarest is not None and f[rarest]),
            "doc_best_cov": doc_best[s.doc_id],
            "prev_cov": prev,
            "prev_gain": max(0.0, prev - cov_local[i]),
            "next_cov": nxt,
            "next_gain": max(0.0, nxt - cov_local[i]),
            "rank": float(s.rank),
            "top_passage": float(s.rank == 0),
            "extra_chunk": float(s.retrieval_score == 0.0 and s.rank > 0),
            "retrieval_score": s.retrieval_score,
            "same_doc_as_top": float(s.doc_id == pool[0].doc_id) if pool else 0.0,
            "index_in_passage": math.log1p(s.index_in_passage),
            "doc_position": s.doc_position,
            "doc_start": float(s.is_doc_start),
        }
        facts = text_facts(s.text)
        row.update(_match_features(question, m[2]))
        row.update(_content_features(question, facts, p))
        row.update(_form_features(question, s.text, p, row["type_open"], row["type_manner"]))
        row["continues"] = float(facts.continues)
        row["prev_gain_continues"] = row["prev_gain"] * row["continues"]
        row.update(aligned[i])
        rows.append([row[name] for name in SENTENCE_FEATURE_NAMES])
    return np.asarray(rows, dtype=np.float32).reshape(len(pool), len(SENTENCE_FEATURE_NAMES))


def _either(a: Sequence[bool], b: Sequence[bool]) -> list[bool]:
    return [x or y for x, y in zip(a, b, strict=True)]


def _match_features(question: Question, hits: list[int]) -> dict[str, float]:
    positions = [i for i, k in enumerate(hits) if k >= 0]
    distinct = {hits[i] for i in positions}
    n_terms = max(len(question.terms), 1)
    proximity = 0.0
    if positions:
        width = positions[-1] - positions[0] + 1
        proximity = len(distinct) / width if len(distinct) > 1 else 1.0 / n_terms
    density = 0
    for a in range(len(positions)):
        window = {hits[p] for p in positions[a:] if p - positions[a] < 8}
        density = max(density, len(window))
    pairs = [(question.terms[k], question.terms[k + 1]) for k in range(len(question.terms) - 1)]
    close = 0
    for first, second in pairs:
        ia = [i for i in positions if question.terms[hits[i]] is first]
        ib = [i for i in positions if question.terms[hits[i]] is second]
        close += any(0 < abs(b - a) <= 3 for a in ia for b in ib)
    return {
        "proximity": proximity,
        "window_density": density / n_terms,
        "ordered_pairs": close / len(pairs) if pairs else 0.0,
    }


@dataclass(frozen=True)
class TextFacts:
    """What a sentence holds, independent of the question (cached per text)."""

    lowers: tuple[str, ...]  # all words, lower case
    padded: str  # "#word#word#...#": a word 4-gram "#abc" / "abc#" is a substring of it
    dates: tuple[tuple[str, str], ...]  # (text, precision) of each date
    digits_outside_dates: bool
    number: bool  # digits outside dates or a number word
    unit: bool  # a number followed by a unit
    names: tuple[str, ...]  # capitalised multi-word names and acronyms
    place: bool
    reason: bool
    definition: bool
    heading: bool
    continues: bool
    length: int


@lru_cache(maxsize=20_000)
def text_facts(text: str) -> TextFacts:
    lowers = tuple(w.lower() for w in re.findall(r"\w+", text))
    dates = tuple((m.text, m.precision) for m in dates_in(text))
    outside = text
    for date_text, _ in dates:
        outside = outside.replace(date_text, " ")
    digits = bool(DIGIT.search(outside))
    following = lowers[1:] + ("",)
    unit = any((DIGIT.search(a) or a in NUMBER_WORDS) and b in UNITS for a, b in zip(lowers, following, strict=False))
    names = tuple(m.group(0) for m in NAME_SEQ.finditer(text)) + tuple(ACRONYM.findall(text))
    heading = bool(HEADING.match(text)) or (len(lowers) <= 6 and not re.search(r"[.!?:]\s*$", text))
    return TextFacts(
        lowers,
        "#" + "#".join(lowers) + "#",
        dates,
        digits,
        digits or any(w in NUMBER_WORDS for w in lowers),
        unit,
        names,
        bool(PLACE.search(text)),
        bool(REASON.search(text)),
        bool(DEFINITION.search(text)),
        heading,
        bool(CONTINUES.match(text.lstrip())),
        len(text),
    )


# After a word of the question: ", der/die/das ...", "(...", "– ...", "ist/sind/war/bezeichnet ..."
_DEFINES_AFTER = re.compile(
    r"\w{0,3}[“”\"»«]?\s*(?:,\s*(?:der|die|das|ein|eine|einer)\s|\(|[–—]\s|(?:ist|sind|war|waren|"
    r"bezeichnet|steht|gilt|bedeutet)\b)",
    re.I,
)


def _form_features(
    question: Question, text: str, parsed: _Parsed, type_open: float, type_manner: float
) -> dict[str, float]:
    lower = text.lower()
    defines = 0.0
    for word in dict.fromkeys(parsed.words):
        if word in question.words and len(word) > 2:
            at = lower.find(word)
            if at >= 0 and _DEFINES_AFTER.match(lower, at + len(word)):
                defines = 1.0
                break
    procedure = math.log1p(len(PROCEDURE.findall(text)))
    return {
        "defines_term": defines,
        "defines_term_open": defines * type_open,
        "procedure_words": procedure,
        "procedure_manner": procedure * type_manner,
    }


def _content_features(question: Question, facts: TextFacts, parsed: _Parsed) -> dict[str, float]:
    novel = sum(1 for word_terms in parsed.content if not any(t in question.stems for t in word_terms))
    new_dates = [(t, p) for t, p in facts.dates if t not in question.asked_dates]
    new_name = any(not all(w.lower() in question.words for w in n.split()) for n in facts.names)
    number, place, reason, definition = facts.number, facts.place, facts.reason, facts.definition
    date_text, digits_outside = bool(facts.dates), facts.digits_outside_dates
    kind = question.answer_type
    match = {
        "date": bool(new_dates),
        "number": number and not (date_text and not digits_outside),
        "person": new_name,
        "place": place,
        "reason": reason,
        "thing": definition,
        "manner": reason or definition,
    }.get(kind, False)
    return {
        "gram_overlap": sum(g in facts.padded for g in question.grams) / max(len(question.grams), 1),
        "novel_words": math.log1p(novel),
        "novel_share": novel / max(len(parsed.content), 1),
        "says_nothing": float(novel < 2),
        "has_new_date": float(bool(new_dates)),
        "has_day_date": float(any(p != "year" for _, p in new_dates)),
        "has_number": float(number),
        "number_unit": float(facts.unit),
        "has_name": float(new_name),
        "has_place": float(place),
        "has_reason": float(reason),
        "has_definition": float(definition),
        "type_match": float(match),
        "type_date": float(kind == "date"),
        "type_number": float(kind == "number"),
        "type_person": float(kind == "person"),
        "type_place": float(kind == "place"),
        "type_reason": float(kind == "reason"),
        "type_manner": float(kind == "manner"),
        "type_open": float(kind in ("thing", "entity", "other")),
        "log_chars": math.log1p(facts.length),
        "too_short": float(facts.length < 25),
        "too_long": float(facts.length > 400),
        "heading": float(facts.heading),
        "question_terms": math.log1p(len(question.terms)),
    }
