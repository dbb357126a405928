"""The evidence for an extractive answer: the question's content words weighted by IDF, the
sentences of the top passages as candidates with their coverage of the question, and the
coverage of the best passage (the basis for abstaining).

A sentence's score is the share of the question's weight (IDF of each content word) it covers,
plus small bonuses for the passage's retrieval rank and for the kind of fact the question asks
for (a date for "Wann", a number for "Wie viele").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..index.bm25 import LexicalIndex
from ..index.reader import IndexData
from ..ingest.dates import extract_dates
from ..search.query import GENERIC_WORDS, Intent
from ..text.sentences import sentence_spans
from ..types import Document, Hit

PASSAGES = 3
RANK_BONUS = (0.25, 0.1, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0)
NEIGHBOR_WEIGHT = 0.3
LOCAL_WEIGHT = 0.8
UNKNOWN_NOUN_WEIGHT = 3.0
NEIGHBOR_UNLINKED_WEIGHT = 0.1
TYPE_BONUS = {"when": 0.15, "number": 0.1, "where": 0.08, "who": 0.05, "why": 0.1}
TOP_DOCUMENT_CHUNKS = 8
NEIGHBOUR_CHUNKS = 2  # in a longer document: the chunks this close to the best passage
_NUMBER = re.compile(r"\d")
_PLACE = re.compile(r"\b(in|an der|am|im|bei|nach|aus)\s+[A-ZÄÖÜ]")
# Sentence openings that continue the previous sentence's subject.
_CONTINUES = re.compile(
    r"^(sie|er|es|dies|diese[rsmn]?|dieses|dabei|damit|dort|daher|deshalb|deswegen|dafür|darin|"
    r"darauf|dazu|zwar|außerdem|zudem|allerdings|jedoch|hier|hierbei|so|auch|ihr|ihre|sein|seine|"
    r"der|die|das|den|dem)\b",
    re.I,
)
_REASON = re.compile(
    r"\b(weil|denn|da sie|da er|da es|um\b.*\bzu|deshalb|daher|deswegen|aufgrund|wegen|dadurch|"
    r"so dass|sodass)\b",
    re.I,
)
_YEAR_QUESTION = re.compile(r"\b(welche[mn]? jahr|seit wann|bis wann|jahr(e|en)?\b)", re.I)
_NAME = re.compile(r"\b[A-ZÄÖÜ][a-zäöüß]+\s+[A-ZÄÖÜ][a-zäöüß]+\b|\b[A-ZÄÖÜ]{2,}\b")


@dataclass
class Candidate:
    """A sentence that may answer the question, with its offsets in the document."""

    hit: Hit
    rank: int
    doc: Document
    start: int  # offsets in the document
    end: int
    text: str
    coverage: float
    score: float
    terms: set[str] = field(default_factory=set)


class Evidence:
    """Question weights, candidate sentences and passage coverage over one loaded index."""

    def __init__(self, index: IndexData) -> None:
        self.index = index
        self.lexical: LexicalIndex = index.lexical

    def question_weights(self, text: str) -> list[tuple[str, tuple[str, ...], float]]:
        """``(stem, parts, weight)`` per content word of the question; ``parts`` are the compound
        parts (all needed) with any alternative form (a participle's verb) appended after ``|``."""
        seen: set[str] = set()
        weights = []
        for word, stem, parts, alternatives in self.lexical.analyzer.word_terms(text):
            if stem in seen or word in GENERIC_WORDS:
                continue
            seen.add(stem)
            idf = min([self.lexical.idf(stem), *(self.lexical.idf(a) for a in alternatives)])
            weights.append((stem, parts + tuple("|" + a for a in alternatives), idf))
        return weights

    def candidates(self, intent: Intent, hits: list[Hit], passages: int = PASSAGES) -> list[Candidate]:
        """Sentences of the top passages, best first."""
        question = [(s, p, w, 1.0) for s, p, w in self.question_weights(intent.question)]
        if intent.carried_terms:
            question += [(s, p, w, 0.5) for s, p, w in self.question_weights(" ".join(intent.carried_terms))]
        question_stems = {s for s, _, _, _ in question}
        seen: set[tuple[str, int]] = set()
        pool: list[tuple[Hit, int, Document, int, int, str, set[str]]] = []
        for hit in self.passages(hits, passages):
            doc = self.index.documents[hit.chunk.doc_id]
            rank = hits.index(hit) if hit in hits else passages
            for s, e in sentence_spans(hit.chunk.text):
                start, end = hit.chunk.start + s, hit.chunk.start + e
                if (doc.id, start) in seen:
                    continue
                seen.add((doc.id, start))
                text = doc.text[start:end]
                if _is_headline(text, doc):
                    continue
                pool.append((hit, rank, doc, start, end, text, set(self.lexical.analyzer.analyze(text))))
        if not pool:
            return []
        # A question word found in nearly every candidate (the document's topic) tells the
        # sentences apart less than one found in few: weigh it down locally.
        weights = []
        for stem, parts, idf, share in question:
            found = sum(1 for item in pool if covers(item[6], stem, parts))
            local = 1.0 - LOCAL_WEIGHT * found / len(pool)
            weights.append((stem, parts, idf * share * local))
        total = sum(w for _, _, w in weights) or 1.0
        result: list[Candidate] = []
        previous: tuple[int, str, float] | None = None
        for hit, rank, doc, start, end, text, terms in pool:
            coverage = sum(w for stem, parts, w in weights if covers(terms, stem, parts)) / total
            score = coverage + RANK_BONUS[min(rank, len(RANK_BONUS) - 1)]
            # The answer often follows the sentence that matches the question ("Zwar war sie ...").
            if previous is not None and previous[0] == hit.chunk.row:
                linked = bool(_CONTINUES.match(text))
                # only what the previous sentence adds beyond this one's own coverage
                score += (NEIGHBOR_WEIGHT if linked else NEIGHBOR_UNLINKED_WEIGHT) * max(0.0, previous[2] - coverage)
            previous = (hit.chunk.row, doc.id, coverage)
            score += self.type_bonus(intent, text)
            if len(terms - question_stems) < 2:  # says nothing the question does not already say
                score -= 0.25
            if len(text) < 25 or len(text) > 600:
                score -= 0.1
            result.append(Candidate(hit, rank, doc, start, end, text, coverage, score, terms))
        result.sort(key=lambda c: (-c.score, c.rank, c.start))
        return result

    def passages(self, hits: list[Hit], passages: int) -> list[Hit]:
        """The top passages, plus the other chunks of the best document (its answer is often in
        a neighbouring chunk)."""
        chosen = list(hits[:passages])
        if hits and TOP_DOCUMENT_CHUNKS:
            taken = {h.chunk.row for h in chosen}
            rows: list[int] = [int(r) for r in self.index.doc_rows.get(hits[0].chunk.doc_id, ())]
            if len(rows) > TOP_DOCUMENT_CHUNKS:
                # A long document: its opening (title, date, place) and the neighbours of the
                # best passage; each chunk costs ~4 ms of sentence splitting the first time.
                at = int(hits[0].chunk.row) - rows[0]
                rows = [rows[0], *rows[max(1, at - NEIGHBOUR_CHUNKS) : at + NEIGHBOUR_CHUNKS + 1]]
            for row in rows[:TOP_DOCUMENT_CHUNKS]:
                chunk = self.index.chunks[int(row)]
                if chunk.row not in taken:
                    chosen.append(Hit(chunk, 0.0))
        return chosen

    def passage_coverage(self, intent: Intent, hits: list[Hit], passages: int = 2) -> float:
        """Share of the question's weight found in the best of the top passages: the evidence
        behind answering at all (a question's words are often spread over two sentences).
        Words carried over from the previous question count half."""
        nouns = self._unknown_nouns(intent.question)
        weights = [
            (s, p, w * (UNKNOWN_NOUN_WEIGHT if s in nouns else 1.0))
            for s, p, w in self.question_weights(intent.question)
        ]
        if intent.carried_terms:
            weights += [(s, p, 0.5 * w) for s, p, w in self.question_weights(" ".join(intent.carried_terms))]
        total = sum(w for _, _, w in weights)
        if not total:
            return 0.0
        best = 0.0
        for hit in hits[:passages]:
            terms = set(self.lexical.analyzer.analyze(hit.chunk.text))
            best = max(best, sum(w for stem, parts, w in weights if covers(terms, stem, parts)) / total)
        return best

    def _unknown_nouns(self, question: str) -> set[str]:
        """Stems of the question's nouns (capitalized, not first) that no passage of the index
        contains in any form: what the question asks about is then most likely not there
        ("Wie lautet die Telefonnummer von NIRO?")."""
        words = question.split()
        nouns = {w.strip("?!.,;:„“\"'()") for w in words[1:] if w[:1].isupper()}
        unknown: set[str] = set()
        for _word, stem, parts, alternatives in self.lexical.analyzer.word_terms(" ".join(nouns)):
            known = [stem, *alternatives, *(parts if parts else ())]
            if all(self.lexical.idf(t) >= self._max_idf for t in known):
                unknown.add(stem)
        return unknown

    @property
    def _max_idf(self) -> float:
        return self.lexical.idf("\u0000")

    @staticmethod
    def type_bonus(intent: Intent, text: str) -> float:
        if intent.kind == "when" or intent.about_dates:
            return TYPE_BONUS["when"] if has_type(intent, text) else 0.0
        return TYPE_BONUS.get(intent.kind, 0.0) if has_type(intent, text) else 0.0


def has_type(intent: Intent, text: str) -> bool:
    """Whether ``text`` holds the kind of fact the question asks for: a date (not one the
    question names) for "Wann", a number for "Wie viele", a place for "Wo", a name for "Wer", a
    reason for "Warum". True for the other kinds."""
    if intent.kind == "when" or intent.about_dates:
        asked = {m.text for m in extract_dates(intent.question)}
        # a bare year answers "In welchem Jahr?", not "Wann?" ("ClusterERFOLG 2022" names no date)
        years = bool(_YEAR_QUESTION.search(intent.question))
        return any(m.text not in asked and (years or m.precision != "year") for m in extract_dates(text))
    pattern = {"number": _NUMBER, "where": _PLACE, "who": _NAME, "why": _REASON}.get(intent.kind)
    return pattern is None or bool(pattern.search(text))


def _is_headline(text: str, doc: Document) -> bool:
    """The title line says what the source card says already. A first sentence taken as the
    title of a document without a title line ends like a sentence, and stays a candidate."""
    return " ".join(text.split()) == " ".join(doc.title.split()) and not text.rstrip().endswith((".", "!", "?"))


def covers(terms: set[str], stem: str, parts: tuple[str, ...]) -> bool:
    if stem in terms:
        return True
    if len(stem) >= 6:  # derivations the stemmer keeps apart: "urbanisiert" ~ "urbanisierung"
        prefix = stem[: max(5, len(stem) - 3)]
        if any(t.startswith(prefix) for t in terms):
            return True
    if any(p[1:] in terms for p in parts if p.startswith("|")):
        return True
    compound = [p for p in parts if not p.startswith("|")]
    return bool(compound) and all(p in terms for p in compound)
