"""Extractive German answers: the sentences of the top passages that answer the question,
each followed by its citation marker, or an honest "nothing found".

A sentence's score is the share of the question's weight (IDF of each content word) it covers,
plus small bonuses for the passage's retrieval rank and for the kind of fact the question asks
for (a date for "Wann", a number for "Wie viele"). The answer abstains when even the best
sentence covers too little of the question (threshold measured, see evals/README.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .dates import extract_dates
from .lexical import LexicalIndex
from .query import GENERIC_WORDS, Intent
from .sentences import sentence_spans
from .store import IndexData
from .types import Document, Hit

ABSTAIN_TEXT = "In den vorliegenden Dokumenten finde ich dazu keine Angaben."
# Minimum share of the question's weight the best passage must cover. Set from data:
# `evals/answers_germanquad.py --sweep` sweeps it over GermanQuAD questions against their own corpus (answerable)
# and against the shipped cluster corpus (unanswerable); see evals/README.md.
MIN_COVERAGE = 0.25
PASSAGES = 3
RANK_BONUS = (0.25, 0.1, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0)
MAX_ANSWER_CHARS = 400
SHORT_ANSWER_CHARS = 260
SECOND_STRONG_RATIO = 0.6
NEIGHBOR_WEIGHT = 0.3
LOCAL_WEIGHT = 0.8
UNKNOWN_NOUN_WEIGHT = 3.0
NEIGHBOR_UNLINKED_WEIGHT = 0.1
TYPE_BONUS = {"when": 0.15, "number": 0.1, "where": 0.08, "who": 0.05, "why": 0.1}
TOP_DOCUMENT_CHUNKS = 8
NEIGHBOUR_CHUNKS = 2  # in a longer document: the chunks this close to the best passage
SECOND_MIN_RATIO = 0.3
_NUMBER = re.compile(r"\d")
_PLACE = re.compile(r"\b(in|an der|am|im|bei|nach|aus)\s+[A-ZÄÖÜ]")
# Sentence openings that continue the previous sentence's subject.
_CONTINUES = re.compile(
    r"^(sie|er|es|dies|diese[rsmn]?|dieses|dabei|damit|dort|daher|deshalb|deswegen|dafür|darin|"
    r"darauf|dazu|zwar|außerdem|zudem|allerdings|jedoch|hier|hierbei|so|auch|ihr|ihre|sein|seine|"
    r"der|die|das|den|dem)\b", re.I)
_REASON = re.compile(r"\b(weil|denn|da sie|da er|da es|um\b.*\bzu|deshalb|daher|deswegen|aufgrund|wegen|dadurch|so dass|sodass)\b", re.I)
_NAME = re.compile(r"\b[A-ZÄÖÜ][a-zäöüß]+\s+[A-ZÄÖÜ][a-zäöüß]+\b|\b[A-ZÄÖÜ]{2,}\b")


@dataclass(frozen=True)
class Citation:
    n: int
    doc_id: str
    chunk_id: str
    title: str
    date: str | None
    start: int
    end: int
    quote: str
    page: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = {"n": self.n, "doc_id": self.doc_id, "chunk_id": self.chunk_id, "title": self.title,
                "date": self.date, "start": self.start, "end": self.end, "quote": self.quote}
        if self.page is not None:
            data["page"] = self.page
        return data


@dataclass(frozen=True)
class Answer:
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    hits: tuple[Hit, ...]
    mode: str = "extractive"
    note: str | None = None
    flagged: tuple[str, ...] = ()  # sentences whose claims the cited passages do not support
    confidence: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [c.to_json() for c in self.citations],
            "hits": [h.to_json() for h in self.hits],
            "mode": self.mode,
            "confidence": round(self.confidence, 4),
        }
        if self.note:
            data["note"] = self.note
        if self.flagged:
            data["flagged"] = list(self.flagged)
        return data


@dataclass
class Candidate:
    hit: Hit
    rank: int
    doc: Document
    start: int  # offsets in the document
    end: int
    text: str
    coverage: float
    score: float
    terms: set[str] = field(default_factory=set)


def date_label(doc: Document) -> str | None:
    mention = doc.date
    return mention.text if mention else None


def short_title(title: str, limit: int = 70) -> str:
    title = " ".join(title.split())
    return title if len(title) <= limit else title[: limit - 2].rsplit(" ", 1)[0] + " …"


class ExtractiveAnswerer:
    def __init__(self, index: IndexData, min_coverage: float = MIN_COVERAGE) -> None:
        self.index = index
        self.lexical: LexicalIndex = index.lexical
        self.min_coverage = min_coverage

    # --- scoring --------------------------------------------------------------------------

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
        for hit in self._passages(hits, passages):
            doc = self.index.documents[hit.chunk.doc_id]
            rank = hits.index(hit) if hit in hits else passages
            for s, e in sentence_spans(hit.chunk.text):
                start, end = hit.chunk.start + s, hit.chunk.start + e
                if (doc.id, start) in seen:
                    continue
                seen.add((doc.id, start))
                text = doc.text[start:end]
                if " ".join(text.split()) == " ".join(doc.title.split()):
                    continue  # the headline: the lead-in names it already
                pool.append((hit, rank, doc, start, end, text, set(self.lexical.analyzer.analyze(text))))
        if not pool:
            return []
        # A question word found in nearly every candidate (the document's topic) tells the
        # sentences apart less than one found in few: weigh it down locally.
        weights = []
        for stem, parts, idf, share in question:
            found = sum(1 for item in pool if _covers(item[6], stem, parts))
            local = 1.0 - LOCAL_WEIGHT * found / len(pool)
            weights.append((stem, parts, idf * share * local))
        total = sum(w for _, _, w in weights) or 1.0
        result: list[Candidate] = []
        previous: tuple[int, str, float] | None = None
        for hit, rank, doc, start, end, text, terms in pool:
            coverage = sum(w for stem, parts, w in weights if _covers(terms, stem, parts)) / total
            score = coverage + RANK_BONUS[min(rank, len(RANK_BONUS) - 1)]
            # The answer often follows the sentence that matches the question ("Zwar war sie ...").
            if previous is not None and previous[0] == hit.chunk.vid:
                linked = bool(_CONTINUES.match(text))
                # only what the previous sentence adds beyond this one's own coverage
                score += (NEIGHBOR_WEIGHT if linked else NEIGHBOR_UNLINKED_WEIGHT) * max(0.0, previous[2] - coverage)
            previous = (hit.chunk.vid, doc.id, coverage)
            score += self._type_bonus(intent, text)
            if len(terms - question_stems) < 2:  # says nothing the question does not already say
                score -= 0.25
            if len(text) < 25 or len(text) > 600:
                score -= 0.1
            result.append(Candidate(hit, rank, doc, start, end, text, coverage, score, terms))
        result.sort(key=lambda c: (-c.score, c.rank, c.start))
        return result

    def _passages(self, hits: list[Hit], passages: int) -> list[Hit]:
        """The top passages, plus the other chunks of the best document (its answer is often in
        a neighbouring chunk)."""
        chosen = list(hits[:passages])
        if hits and TOP_DOCUMENT_CHUNKS:
            taken = {h.chunk.vid for h in chosen}
            rows = self.index.doc_rows.get(hits[0].chunk.doc_id, ())
            if len(rows) > TOP_DOCUMENT_CHUNKS:
                # A long document: its opening (title, date, place) and the neighbours of the
                # best passage; each chunk costs ~4 ms of sentence splitting the first time.
                at = int(hits[0].chunk.vid) - int(rows[0])
                rows = [rows[0], *rows[max(1, at - NEIGHBOUR_CHUNKS):at + NEIGHBOUR_CHUNKS + 1]]
            for row in rows[:TOP_DOCUMENT_CHUNKS]:
                chunk = self.index.chunks[int(row)]
                if chunk.vid not in taken:
                    chosen.append(Hit(chunk, 0.0))
        return chosen

    def passage_coverage(self, intent: Intent, hits: list[Hit], passages: int = 2) -> float:
        """Share of the question's weight found in the best of the top passages: the evidence
        behind answering at all (a question's words are often spread over two sentences).
        Words carried over from the previous question count half."""
        nouns = self._unknown_nouns(intent.question)
        weights = [(s, p, w * (UNKNOWN_NOUN_WEIGHT if s in nouns else 1.0))
                   for s, p, w in self.question_weights(intent.question)]
        if intent.carried_terms:
            weights += [(s, p, 0.5 * w) for s, p, w in self.question_weights(" ".join(intent.carried_terms))]
        total = sum(w for _, _, w in weights)
        if not total:
            return 0.0
        best = 0.0
        for hit in hits[:passages]:
            terms = set(self.lexical.analyzer.analyze(hit.chunk.text))
            best = max(best, sum(w for stem, parts, w in weights if _covers(terms, stem, parts)) / total)
        return best

    def _unknown_nouns(self, question: str) -> set[str]:
        """Stems of the question's nouns (capitalized, not first) that no passage of the index
        contains in any form: what the question asks about is then most likely not there
        ("Wie lautet die Telefonnummer von NIRO?")."""
        words = question.split()
        nouns = {w.strip("?!.,;:„“\"'()") for w in words[1:] if w[:1].isupper()}
        unknown: set[str] = set()
        for word, stem, parts, alternatives in self.lexical.analyzer.word_terms(" ".join(nouns)):
            known = [stem, *alternatives, *(parts if parts else ())]
            if all(self.lexical.idf(t) >= self._max_idf for t in known):
                unknown.add(stem)
        return unknown

    @property
    def _max_idf(self) -> float:
        return self.lexical.idf("\u0000")

    @staticmethod
    def _type_bonus(intent: Intent, text: str) -> float:
        bonus = TYPE_BONUS.get(intent.kind, 0.0)
        if intent.kind == "when" or intent.about_dates:
            asked = {m.text for m in extract_dates(intent.question)}
            return TYPE_BONUS["when"] if any(m.text not in asked for m in extract_dates(text)) else 0.0
        if intent.kind == "number":
            return bonus if _NUMBER.search(text) else 0.0
        if intent.kind == "where":
            return bonus if _PLACE.search(text) else 0.0
        if intent.kind == "who":
            return bonus if _NAME.search(text) else 0.0
        if intent.kind == "why":
            return bonus if _REASON.search(text) else 0.0
        return 0.0

    # --- answers --------------------------------------------------------------------------

    def answer(self, intent: Intent, hits: list[Hit]) -> Answer:
        if not hits:
            return self.abstain(hits)
        if intent.list_events:
            listed = self._list_events(intent, hits)
            if listed is not None:
                return listed
        candidates = self.candidates(intent, hits)
        coverage = self.passage_coverage(intent, hits)
        if coverage < self.min_coverage or not candidates:
            return self.abstain(hits, coverage)
        if intent.order is not None:
            ordered = self._by_date(intent, candidates, hits)
            if ordered is not None:
                return ordered
        chosen = [candidates[0]]
        first = candidates[0]
        for other in candidates[1:3]:
            if other.doc.id == first.doc.id and abs(other.start - first.start) < 2:
                continue
            total = len(first.text) + len(other.text)
            # A second sentence when it is relevant and the answer stays short, or when it is
            # nearly as good as the first and the answer stays readable.
            if (other.score >= SECOND_MIN_RATIO * first.score and total <= SHORT_ANSWER_CHARS) or (
                    other.score >= SECOND_STRONG_RATIO * first.score and total <= MAX_ANSWER_CHARS):
                chosen.append(other)
            break
        if intent.kind == "when":
            chosen = self._with_date(intent, chosen, candidates, hits)
        chosen.sort(key=lambda c: (c.rank, c.start) if c.doc.id != first.doc.id else (first.rank, c.start))
        return self._compose(chosen, hits, intent, confidence=coverage)

    def _with_date(self, intent: Intent, chosen: list[Candidate], candidates: list[Candidate],
                   hits: list[Hit]) -> list[Candidate]:
        """A "Wann" answer must name a date: when the chosen sentences have none, the best
        sentence of the same document that has one (a day or month) takes the second place."""
        asked = {m.text for m in extract_dates(intent.question)}

        def dated(text: str) -> bool:
            return any(m.text not in asked and m.precision != "year" for m in extract_dates(text))

        if any(dated(c.text) for c in chosen):
            return chosen
        first = chosen[0]
        pool = candidates + self.candidates(intent, [h for h in hits if h.chunk.doc_id == first.doc.id]
                                            + [Hit(c, 0.0) for c in self._doc_chunks(first.doc.id)])
        extra = next((c for c in pool if c.doc.id == first.doc.id and c.start != first.start and dated(c.text)), None)
        return [first, extra] if extra is not None else chosen

    def _doc_chunks(self, doc_id: str) -> list:
        return [self.index.chunks[int(r)] for r in self.index.doc_rows.get(doc_id, ())]

    def abstain(self, hits: list[Hit], confidence: float = 0.0) -> Answer:
        return Answer(ABSTAIN_TEXT, (), True, tuple(hits), confidence=confidence)

    def _compose(self, chosen: list[Candidate], hits: list[Hit], intent: Intent, confidence: float,
                 lead: str | None = None) -> Answer:
        citations: list[Citation] = []
        parts: list[str] = []
        previous_doc: str | None = None
        for candidate in chosen:
            n = len(citations) + 1
            doc = candidate.doc
            citations.append(Citation(
                n, doc.id, candidate.hit.chunk.id, doc.title, date_label(doc), candidate.start,
                candidate.end, candidate.text, doc.page_at(candidate.start)))
            sentence = " ".join(candidate.text.split())
            if lead is None and doc.id != previous_doc:
                when = date_label(doc)
                own_date = any(m.precision != "year" for m in extract_dates(sentence))
                dated = f" ({when})" if when and intent.about_dates and not own_date else ""
                opener = "Laut" if previous_doc is None else "Außerdem laut"
                sentence = f"{opener} „{short_title(doc.title)}“{dated}: {sentence}"
            parts.append(f"{sentence} [{n}]")
            previous_doc = doc.id
        text = " ".join(parts)
        if lead:
            text = f"{lead} {text}"
        return Answer(text, tuple(citations), False, tuple(hits), confidence=confidence)

    def _by_date(self, intent: Intent, candidates: list[Candidate], hits: list[Hit]) -> Answer | None:
        """"Die letzte/erste Veranstaltung zu …": among the documents that match the topic well
        (retrieval score at least half the best), the one with the latest (earliest) date."""
        top = hits[0].score if hits else 0.0
        dated = {}
        for hit in hits:
            doc = self.index.documents[hit.chunk.doc_id]
            if hit.score >= 0.5 * top and doc.date is not None and doc.date.precision != "year":
                dated.setdefault(doc.id, doc)
        if not dated:
            return None
        pick = (max if intent.order == "latest" else min)(dated.values(), key=lambda d: d.date.start)  # type: ignore[union-attr]
        sentence = next((c for c in candidates if c.doc.id == pick.id), None)
        if sentence is None:
            own = self.candidates(intent, [h for h in hits if h.chunk.doc_id == pick.id])
            if not own:
                return None
            sentence = own[0]
        word = "jüngste" if intent.order == "latest" else "früheste"
        lead = f"Das {word} passende Dokument ist „{short_title(pick.title)}“ ({date_label(pick)}):"
        return self._compose([sentence], hits, intent, confidence=candidates[0].coverage, lead=lead)

    def _list_events(self, intent: Intent, hits: list[Hit]) -> Answer | None:
        """"Welche Veranstaltungen gab es 2022?": one dated sentence per document in the range."""
        assert intent.date_from is not None
        low, high = intent.date_from, intent.date_to or intent.date_from
        found: list[tuple[Any, Candidate]] = []
        seen_docs: set[str] = set()
        for rank, hit in enumerate(hits):
            doc = self.index.documents[hit.chunk.doc_id]
            if doc.id in seen_docs:
                continue
            mentions = [m for m in doc.dates if m.start <= high and low <= m.end and m.precision != "year"]
            if not mentions:
                continue
            mention = mentions[0]
            span = next(((s, e) for s, e in sentence_spans(doc.text) if s <= mention.offset < e), None)
            if span is None:
                continue
            chunk_hit = self._hit_for(doc.id, span[0], hits) or hit
            seen_docs.add(doc.id)
            found.append((mention.start, Candidate(chunk_hit, rank, doc, span[0], span[1],
                                                   doc.text[span[0]:span[1]], 1.0, 1.0)))
        if not found:
            return None
        found.sort(key=lambda item: item[0])
        chosen = [c for _, c in found[:5]]
        citations: list[Citation] = []
        lines = [f"In den Dokumenten finde ich für {intent.date_label or 'diesen Zeitraum'} "
                 f"{'diese Einträge' if len(chosen) > 1 else 'diesen Eintrag'}:"]
        for n, c in enumerate(chosen, start=1):
            citations.append(Citation(n, c.doc.id, c.hit.chunk.id, c.doc.title, date_label(c.doc),
                                      c.start, c.end, c.text, c.doc.page_at(c.start)))
            lines.append(f"- {short_title(c.doc.title)}: {' '.join(c.text.split())} [{n}]")
        return Answer("\n".join(lines), tuple(citations), False, tuple(hits), confidence=1.0)

    def _hit_for(self, doc_id: str, offset: int, hits: list[Hit]) -> Hit | None:
        for hit in hits:
            if hit.chunk.doc_id == doc_id and hit.chunk.start <= offset < hit.chunk.end:
                return hit
        rows = self.index.doc_rows.get(doc_id)
        if rows is None:
            return None
        for row in rows:
            chunk = self.index.chunks[int(row)]
            if chunk.start <= offset < chunk.end:
                return Hit(chunk, 0.0)
        return None


def _covers(terms: set[str], stem: str, parts: tuple[str, ...]) -> bool:
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
