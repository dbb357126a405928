"""A question as the answer rankers see it: its terms with their IDF and the kind of answer it
expects (date, number, person, place, reason, manner, thing, entity), and how a word of a
sentence matches a question term (stems, compound parts, spelling variants)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from ..index.bm25 import LexicalIndex
from ..ingest.dates import extract_dates
from ..search.query import GENERIC_WORDS, understand

ANSWER_TYPES = ("date", "number", "person", "place", "reason", "manner", "thing", "entity", "other")
_TYPE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "date",
        re.compile(
            r"\bwann\b|\b(in|seit|bis|ab|um|an|im|zu) welche[mnrs]? (\w+ )?(jahr|jahrhundert|jahrzehnt|"
            r"monat|tag|datum|zeitpunkt|zeitraum|epoche|zeit|alter)\b|\bwelche[mnrs]? (jahr|datum|"
            r"jahrhundert|zeitraum|zeitpunkt)\b|\bwie lange\b|\bab wann\b|\bseit wann\b",
            re.I,
        ),
    ),
    (
        "number",
        re.compile(
            r"\bwie ?(viele?|hoch|groß|lang|alt|weit|teuer|schwer|oft|breit|tief|schnell|stark|"
            r"klein|dick|warm|kalt|häufig)\b|\bwieviele?\b|\bum wie viel\b|\bwelche[nrms]? "
            r"(anzahl|zahl|höhe|größe|länge|fläche|temperatur|entfernung|menge|summe|betrag|"
            r"prozentsatz|anteil)\b",
            re.I,
        ),
    ),
    (
        "person",
        re.compile(
            r"^\W*(\w+ )?(wer|wem|wen|wessen)\b|\bwelche[rnms]? (\w+ )?(person|personen|mann|frau|"
            r"könig|königin|kaiser|papst|präsident|politiker|künstler|autor|komponist|"
            r"wissenschaftler|forscher|architekt|herrscher|fürst|familie|dynastie|"
            r"spieler|trainer|sänger|schriftsteller|philosoph|erfinder|gründer)\b",
            re.I,
        ),
    ),
    (
        "place",
        re.compile(
            r"^\W*(\w+ )?(wo|woher|wohin)\b|\b(in|an|auf|aus|nach|bei) welche[rmns]? (\w+ )?(stadt|"
            r"ort|land|länder|region|staat|staaten|gebiet|kontinent|insel|stadtteil|bundesland|"
            r"fluss|berg|gegend|provinz|bezirk|teil|gebirge|meer|see|straße|gebäude|kirche)\b|"
            r"\bwelche[rnms]? (\w+ )?(stadt|städte|ort|land|länder|region|staat|insel|kontinent|"
            r"fluss|provinz)\b",
            re.I,
        ),
    ),
    (
        "reason",
        re.compile(
            r"\b(warum|weshalb|wieso|wozu|weswegen|wofür)\b|\baus welchem grund\b|"
            r"\bwas (war|ist|sind|waren) (der|die) (grund|gründe|ursache|ursachen|ziel|zweck)\b",
            re.I,
        ),
    ),
    ("manner", re.compile(r"^\W*(\w+ )?wie\b", re.I)),
    ("thing", re.compile(r"^\W*(\w+ )?(was|wovon|woraus|womit|worauf|woran|worüber|wodurch)\b", re.I)),
    ("entity", re.compile(r"\bwelche[rnms]?\b", re.I)),
)
_KIND_TYPE = {"when": "date", "number": "number", "who": "person", "where": "place", "why": "reason"}


def answer_type(question: str, kind: str | None = None) -> str:
    """The kind of answer expected, one of :data:`ANSWER_TYPES`: the kind from
    :func:`assistant.query.understand` first, then wh-phrases anywhere in the question ("In
    welcher deutschen Stadt" -> place, "In welchem Jahr" -> date)."""
    kind = kind if kind is not None else understand(question).kind
    if kind in _KIND_TYPE:
        return _KIND_TYPE[kind]
    return next((name for name, pattern in _TYPE_RULES if pattern.search(question)), "other")


# Questions whose answer is a number or a date with next to no exception: on GermanQuAD 95 % of
# the gold answers of number and date questions hold a digit, a number word or a month; the
# rest answer "Wie lange …?" ("zeitlich unbegrenzt") or a plain "Wann …?" ("im frühen
# Neolithikum"), which these patterns leave out.
_COUNTED = re.compile(r"\bwie ?viele?\b|\bwie (hoch|groß|teuer|alt|schwer)\b", re.I)
_DATED = re.compile(r"\b(in|seit|ab|bis zu) welchem jahr\b|\b(bis|seit|ab) wann\b|\ban welchem (tag|datum)\b", re.I)


def strict_type(question: str) -> str | None:
    """ "number" for "Wie viele/Wie hoch …?", "date" for "Bis wann/In welchem Jahr …?", else None."""
    if _COUNTED.search(question):
        return "number"
    if _DATED.search(question):
        return "date"
    return None


@dataclass(frozen=True)
class QuestionTerm:
    word: str
    stem: str
    parts: tuple[str, ...]  # compound parts, all needed
    alternatives: tuple[str, ...]  # e.g. the verb of a participle
    idf: float


@dataclass(frozen=True)
class Question:
    text: str
    kind: str  # from assistant.query.understand
    answer_type: str  # see answer_type()
    terms: tuple[QuestionTerm, ...]
    words: frozenset[str]  # all lower-case words of the question, stop words included
    stems: frozenset[str]  # stems, parts and alternatives of the content words
    grams: frozenset[str]  # character 4-grams of the content words
    asked_dates: frozenset[str]  # date texts the question names itself
    head: int = -1  # index in ``terms`` of the noun the wh-phrase asks about ("Wie viele *Inseln*"), -1 if none
    # first letters -> indices of the terms a word starting so may match (see word_matches)
    keys: dict[str, tuple[int, ...]] = field(default_factory=dict, compare=False, repr=False)
    # word -> matched term indices, filled as sentences are looked at (one question's words repeat)
    memo: dict[tuple[str, str], tuple[int, ...]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def total_idf(self) -> float:
        return sum(t.idf for t in self.terms) or 1.0


def analyze_question(text: str, lexical: LexicalIndex, kind: str | None = None) -> Question:
    """Content words of ``text`` (no stop words, no generic question words) with their IDF in
    ``lexical``, as the current answerer weighs them."""
    analyzer = lexical.analyzer
    kind = kind if kind is not None else understand(text).kind
    seen: set[str] = set()
    terms: list[QuestionTerm] = []
    for word, stem, parts, alternatives in analyzer.word_terms(text):
        if stem in seen or word in GENERIC_WORDS:
            continue
        seen.add(stem)
        idf = min([lexical.idf(stem), *(lexical.idf(a) for a in alternatives)])
        terms.append(QuestionTerm(word, stem, parts, alternatives, idf))
    stems = {t.stem for t in terms} | {p for t in terms for p in t.parts} | {a for t in terms for a in t.alternatives}
    words = frozenset(w.lower() for w in re.findall(r"\w+", text))
    return Question(
        text,
        kind,
        answer_type(text, kind),
        tuple(terms),
        words,
        frozenset(stems),
        frozenset(g for t in terms for g in _grams(t.word)),
        frozenset(m.text for m in extract_dates(text)),
        _head(text, terms),
        _term_keys(terms),
    )


_KEY = 3


def _term_keys(terms: Sequence[QuestionTerm]) -> dict[str, tuple[int, ...]]:
    """First three letters of everything that can make a word match a term (its stem, the
    stem's long prefix, alternatives, compound parts; its surface word for spelling variants)."""
    keys: dict[str, list[int]] = {}
    for k, t in enumerate(terms):
        for form in {t.stem, t.word, *t.alternatives, *t.parts}:
            keys.setdefault(form[:_KEY], []).append(k)
    return {key: tuple(sorted(set(v))) for key, v in keys.items()}


def _candidates(question: Question, forms: Sequence[str]) -> tuple[int, ...]:
    found: set[int] = set()
    for form in forms:
        found.update(question.keys.get(form[:_KEY], ()))
    return tuple(sorted(found))


_WH_HEAD = re.compile(
    r"\b(?i:welche[rsmn]?|wie viele?|wieviele?|was für( ein(e[rsmn]?)?)?|wie hoch ist (der|die|das)|"
    r"wie (groß|lang|alt|hoch|weit) (ist|war|sind|waren) (der|die|das))\s+((\w+\s+){0,2}?)(?P<head>[A-ZÄÖÜ]\w+)"
)


def _head(text: str, terms: Sequence[QuestionTerm]) -> int:
    """The term the wh-phrase asks about: the first capitalised word after "welche", "wie viele", ..."""
    match = _WH_HEAD.search(text)
    if not match:
        return -1
    word = match.group("head").lower()
    return next((k for k, t in enumerate(terms) if t.word == word), -1)


@lru_cache(maxsize=100_000)
def _grams(word: str, n: int = 4) -> frozenset[str]:
    padded = f"#{word.lower()}#"
    return frozenset(padded[i : i + n] for i in range(max(1, len(padded) - n + 1)))


def similar_words(a: str, b: str) -> bool:
    """Spelling variants and derivations the stemmer keeps apart ("kolonialisiert" ~
    "Kolonisation", "fotographisch" ~ "fotografisch"): both 5+ letters with the same first
    three, and a common prefix of 5+ letters or character 4-gram Dice >= 0.55."""
    if len(a) < 5 or len(b) < 5 or a[:3] != b[:3]:
        return False
    if a[:5] == b[:5]:
        return True
    ga, gb = _grams(a), _grams(b)
    return 2 * len(ga & gb) >= 0.55 * (len(ga) + len(gb))


def covers(terms: set[str] | frozenset[str], term: QuestionTerm) -> bool:
    """Whether a text with index ``terms`` contains ``term`` (same rule as the answerer): the
    stem, a derivation sharing its long prefix, the alternative form, or all compound parts."""
    if term.stem in terms:
        return True
    if len(term.stem) >= 6:
        prefix = term.stem[: max(5, len(term.stem) - 3)]
        if any(t.startswith(prefix) for t in terms):
            return True
    if any(a in terms for a in term.alternatives):
        return True
    return bool(term.parts) and all(p in terms for p in term.parts)


def word_matches(question: Question, word: str, word_terms: tuple[str, ...]) -> tuple[int, ...]:
    """Indices of the question terms one content word contains (:func:`covers` on its terms)."""
    key = ("exact", word)
    found = question.memo.get(key)
    if found is None:
        terms = frozenset(word_terms)
        found = question.memo[key] = tuple(
            k for k in _candidates(question, word_terms) if covers(terms, question.terms[k])
        )
    return found


def word_variants(question: Question, word: str) -> tuple[int, ...]:
    """Indices of the question terms a content word spells differently (:func:`similar_words`)."""
    key = ("soft", word)
    found = question.memo.get(key)
    if found is None:
        found = question.memo[key] = tuple(
            k for k in _candidates(question, (word,)) if similar_words(question.terms[k].word, word)
        )
    return found
