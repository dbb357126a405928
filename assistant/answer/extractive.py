"""Extractive German answers: the sentences of the top passages that answer the question,
each followed by its citation marker, or an honest "nothing found".

Which sentences: the best-scored candidate (:mod:`.candidates`), a second one when it adds to a
short answer; for "Wann" a sentence that names the date; for "die letzte Veranstaltung" the
latest matching document; for "Welche Veranstaltungen gab es 2022?" one dated sentence per
document. The wording is :mod:`.compose`. The answer abstains when even the best passage covers
too little of the question (threshold measured, see evals/README.md).
"""

from __future__ import annotations

from datetime import date

from ..index.reader import IndexData
from ..ingest.dates import extract_dates
from ..search.query import Intent
from ..text.sentences import sentence_spans
from ..types import Answer, Chunk, Document, Hit
from .candidates import PASSAGES, Candidate, Evidence
from .compose import abstain, compose, event_list, latest_lead

# Minimum share of the question's weight the best passage must cover. Set from data:
# `evals/answers_germanquad.py --sweep` sweeps it over GermanQuAD questions against their own corpus (answerable)
# and against the shipped cluster corpus (unanswerable); see evals/README.md.
MIN_COVERAGE = 0.25
MAX_ANSWER_CHARS = 400
SHORT_ANSWER_CHARS = 260
SECOND_STRONG_RATIO = 0.6
SECOND_MIN_RATIO = 0.3
MAX_LISTED = 5


class ExtractiveAnswerer:
    def __init__(self, index: IndexData, min_coverage: float = MIN_COVERAGE) -> None:
        self.index = index
        self.evidence = Evidence(index)
        self.min_coverage = min_coverage

    def answer(self, intent: Intent, hits: list[Hit]) -> Answer:
        if not hits:
            return abstain(hits)
        if intent.list_events:
            listed = self._list_events(intent, hits)
            if listed is not None:
                return listed
        candidates = self.evidence.candidates(intent, hits)
        coverage = self.evidence.passage_coverage(intent, hits)
        if coverage < self.min_coverage or not candidates:
            return abstain(hits, coverage)
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
                other.score >= SECOND_STRONG_RATIO * first.score and total <= MAX_ANSWER_CHARS
            ):
                chosen.append(other)
            break
        if intent.kind == "when":
            chosen = self._with_date(intent, chosen, candidates, hits)
        chosen.sort(key=lambda c: (c.rank, c.start) if c.doc.id != first.doc.id else (first.rank, c.start))
        return compose(chosen, hits, intent, confidence=coverage)

    def _with_date(
        self, intent: Intent, chosen: list[Candidate], candidates: list[Candidate], hits: list[Hit]
    ) -> list[Candidate]:
        """A "Wann" answer must name a date: when the chosen sentences have none, the best
        sentence of the same document that has one (a day or month) takes the second place."""
        asked = {m.text for m in extract_dates(intent.question)}

        def dated(text: str) -> bool:
            return any(m.text not in asked and m.precision != "year" for m in extract_dates(text))

        if any(dated(c.text) for c in chosen):
            return chosen
        first = chosen[0]
        pool = candidates + self.evidence.candidates(
            intent,
            [h for h in hits if h.chunk.doc_id == first.doc.id] + [Hit(c, 0.0) for c in self._doc_chunks(first.doc.id)],
        )
        extra = next((c for c in pool if c.doc.id == first.doc.id and c.start != first.start and dated(c.text)), None)
        return [first, extra] if extra is not None else chosen

    def _doc_chunks(self, doc_id: str) -> list[Chunk]:
        chunks = self.index.chunks
        return [chunks[int(r)] for r in self.index.doc_rows.get(doc_id, ())]

    def _by_date(self, intent: Intent, candidates: list[Candidate], hits: list[Hit]) -> Answer | None:
        """ "Die letzte/erste Veranstaltung zu …": among the documents that match the topic well
        (retrieval score at least half the best), the one with the latest (earliest) date."""
        top = hits[0].score if hits else 0.0
        dated: dict[str, tuple[date, Document]] = {}
        for hit in hits:
            doc = self.index.documents[hit.chunk.doc_id]
            if hit.score >= 0.5 * top and doc.date is not None and doc.date.precision != "year":
                dated.setdefault(doc.id, (doc.date.start, doc))
        if not dated or intent.order is None:
            return None
        # the first of equally dated documents in retrieval order
        pick = (max if intent.order == "latest" else min)(dated.values(), key=lambda item: item[0])[1]
        sentence = next((c for c in candidates if c.doc.id == pick.id), None)
        if sentence is None:
            own = self.evidence.candidates(intent, [h for h in hits if h.chunk.doc_id == pick.id])
            if not own:
                return None
            sentence = own[0]
        return compose(
            [sentence], hits, intent, confidence=candidates[0].coverage, lead=latest_lead(pick, intent.order)
        )

    def _list_events(self, intent: Intent, hits: list[Hit]) -> Answer | None:
        """ "Welche Veranstaltungen gab es 2022?": one dated sentence per document in the range."""
        assert intent.date_from is not None
        low, high = intent.date_from, intent.date_to or intent.date_from
        found: list[tuple[date, Candidate]] = []
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
            found.append(
                (
                    mention.start,
                    Candidate(chunk_hit, rank, doc, span[0], span[1], doc.text[span[0] : span[1]], 1.0, 1.0),
                )
            )
        if not found:
            return None
        found.sort(key=lambda item: item[0])
        return event_list(intent, [c for _, c in found[:MAX_LISTED]], hits)

    def _hit_for(self, doc_id: str, offset: int, hits: list[Hit]) -> Hit | None:
        for hit in hits:
            if hit.chunk.doc_id == doc_id and hit.chunk.start <= offset < hit.chunk.end:
                return hit
        for chunk in self._doc_chunks(doc_id):
            if chunk.start <= offset < chunk.end:
                return Hit(chunk, 0.0)
        return None


__all__ = ["MIN_COVERAGE", "PASSAGES", "ExtractiveAnswerer"]
