"""Extractive German answers: the short answer, the sentences of the top passages that support
it, each followed by its citation marker, or an honest "nothing found".

Which sentences, by what the question asks (:class:`~assistant.search.query.Intent`):

- what lies ahead of today ("demnächst", "die nächste Konferenz"): the dated sentences from
  today on, else that there are none and the most recent date before today;
- "Welche Veranstaltungen gab es 2022?": one dated sentence per document in the range;
- "Welche Förderprogramme gibt es?": the best sentence of each document that answers it;
- "die letzte Veranstaltung zu …": the latest matching document;
- otherwise the best-ranked sentence (:mod:`.candidates`), and a second one only when it adds
  what the first lacks: the kind of fact asked for (a date for "Wann", a name for "Wer", ...)
  or question words the first does not cover.

The wording is :mod:`.compose`. The answer abstains when even the best passage covers too little
of the question (threshold measured, see evals/README.md).
"""

from __future__ import annotations

from datetime import date

from ..index.reader import IndexData
from ..search.query import Intent, names_topic
from ..text.sentences import sentence_spans
from ..types import Answer, Chunk, DateMention, Document, Hit, ShortAnswer
from .candidates import Candidate, Evidence, Ranking, has_count, has_type
from .compose import abstain, across_documents, compose, event_list, latest_lead, nothing_upcoming, upcoming
from .injection import looks_like_instruction
from .question import strict_type
from .reader import Reader

# Minimum share of the question's weight the best passage must cover. Set from data:
# `evals/answers_germanquad.py --sweep` sweeps it over GermanQuAD questions against their own corpus (answerable)
# and against the shipped cluster corpus (unanswerable): 0.20 has the best balanced accuracy
# (0.9866) and keeps 0.073 between it and the closest out-of-scope question of the shipped test
# set; see evals/README.md.
MIN_COVERAGE = 0.20
MAX_LISTED = 5
# The reader reads the best sentences only, so that answers stay fast on a CPU.
READER_SENTENCES = 3
# Below this score (start x end probability) the reader's span is not taken. Not fitted: no
# reader model can be loaded here; 0.1 keeps spans the model itself considers unlikely out.
READER_MIN_SCORE = 0.1
NEIGHBOURS = 2  # sentences before and after the first that may complete it


class ExtractiveAnswerer:
    """Chooses sentences and the short answer; with a ``reader`` (a German extractive QA model,
    :mod:`.reader`) the short answer is the reader's best span in the best sentences, else the
    fitted span model's."""

    def __init__(self, index: IndexData, min_coverage: float = MIN_COVERAGE, reader: Reader | None = None) -> None:
        self.index = index
        self.evidence = Evidence(index)
        self.min_coverage = min_coverage
        self.reader = reader

    def answer(self, intent: Intent, hits: list[Hit]) -> Answer:
        if intent.upcoming:
            return self._upcoming(intent, hits)
        if not hits:
            return abstain(hits)
        if intent.list_events:
            listed = self._list_events(intent, hits)
            if listed is not None:
                return listed
        coverage = self.evidence.passage_coverage(intent, hits)
        if coverage < self.min_coverage:
            return abstain(hits, coverage)
        if intent.list_of:
            across = self._list_across(intent, hits)
            if across is not None:
                return across
        ranking = self.evidence.ranking(intent, hits)
        candidates = ranking.candidates
        if not candidates:
            return abstain(hits, coverage)
        if intent.order is not None:
            ordered = self._by_date(intent, candidates, hits)
            if ordered is not None:
                return ordered
        found = self._read(intent, ranking) if self.reader is not None else self.evidence.short_answer(ranking)
        if found is not None and looks_like_instruction(found[0].text):
            found = None  # a sentence that instructs an assistant is quoted at most, never the answer
        chosen = self._chosen(intent, ranking, found)
        short = None
        if found is not None:
            sentence, start, text = found
            n = next(i for i, c in enumerate(chosen, start=1) if c.index == sentence.index)
            short = ShortAnswer(text, start, start + len(text), n)
        expected = strict_type(intent.question) if short is None else None
        if expected == "number" and not any(has_count(c.text) for c in chosen):
            return abstain(hits, coverage)  # "Wie viele Mitglieder …?" and no passage found names a number
        if expected == "date" and not any(has_type(intent, c.text) for c in chosen):
            return abstain(hits, coverage)
        return compose(chosen, hits, intent, confidence=coverage, short=short)

    def _read(self, intent: Intent, ranking: Ranking) -> tuple[Candidate, int, str] | None:
        """The reader's best span in the best sentences (the span model's when the reader finds
        none): its sentence, its document offset, its text. The span lies inside the sentence."""
        assert self.reader is not None
        top = ranking.candidates[:READER_SENTENCES]
        spans = self.reader.read(intent.question, [c.text for c in top], top_k=1)
        if not spans or spans[0].score < READER_MIN_SCORE:
            return self.evidence.short_answer(ranking)
        span = spans[0]
        sentence = top[span.context]
        assert 0 <= span.start < span.end <= len(sentence.text)
        return sentence, sentence.start + span.start, sentence.text[span.start : span.end]

    def _chosen(self, intent: Intent, ranking: Ranking, found: tuple[Candidate, int, str] | None) -> list[Candidate]:
        """The best sentence; a second one only when it adds what the first lacks: the short
        answer's sentence when that is another one, else the second best when the model finds
        it nearly as likely (the fitted share), else a neighbour with the kind of fact asked for
        (a date for "Wann", a name for "Wer", ...). In document order within one document."""
        first = ranking.candidates[0]
        second: Candidate | None = None
        if found is not None and found[0].index != first.index:
            second = found[0]
        elif len(ranking.candidates) > 1:
            other = ranking.candidates[1]
            if (
                self.evidence.second_share(ranking) >= self.evidence.ranker.second_ratio
                and len(first.text) + len(other.text) <= self.evidence.ranker.second_max_chars
                # a first sentence without the kind of fact asked for gets a neighbour that has it
                # (below) rather than a second best that has it neither
                and (has_type(intent, first.text) or has_type(intent, other.text))
            ):
                second = other
        if second is None and not has_type(intent, first.text):
            second = next(
                (c for c in self._neighbours(intent, first, ranking.candidates) if has_type(intent, c.text)), None
            )
        if second is None:
            return [first]
        if second.doc.id == first.doc.id and second.start < first.start:
            return [second, first]
        return [first, second]

    def _neighbours(self, intent: Intent, first: Candidate, candidates: list[Candidate]) -> list[Candidate]:
        """Sentences near ``first`` in its document, nearest first (the next before the previous)."""
        doc = first.doc
        spans = list(sentence_spans(doc.text))
        at = next((i for i, (s, _) in enumerate(spans) if s == first.start), None)
        if at is None:
            return []
        order = [at + 1, at - 1, at + 2, at - 2][: 2 * NEIGHBOURS]
        known = {(c.doc.id, c.start): c for c in candidates}
        found = []
        for i in order:
            if not 0 <= i < len(spans):
                continue
            start, end = spans[i]
            candidate = known.get((doc.id, start))
            if candidate is None:
                hit = self._hit_for(doc.id, start, [first.hit]) or first.hit
                candidate = Candidate(hit, first.rank, doc, start, end, doc.text[start:end], 0.0, 0.0)
            found.append(candidate)
        return found

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

    def _dated_sentence(self, doc: Document, mention: DateMention, hits: list[Hit], rank: int) -> Candidate | None:
        span = next(((s, e) for s, e in sentence_spans(doc.text) if s <= mention.offset < e), None)
        if span is None:
            return None
        hit = self._hit_for(doc.id, span[0], hits)
        if hit is None:
            return None
        return Candidate(hit, rank, doc, span[0], span[1], doc.text[span[0] : span[1]], 1.0, 1.0)

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
            candidate = self._dated_sentence(doc, mentions[0], hits, rank) if mentions else None
            if candidate is None:
                continue
            seen_docs.add(doc.id)
            found.append((mentions[0].start, candidate))
        if not found:
            return None
        found.sort(key=lambda item: item[0])
        return event_list(intent, [c for _, c in found[:MAX_LISTED]], hits)

    def _upcoming(self, intent: Intent, hits: list[Hit]) -> Answer:
        """Dates from today on in the documents found (soonest first); when there are none,
        the most recent date before today, with its sentence."""
        today = intent.today or date.today()
        ahead: list[tuple[DateMention, Candidate]] = []
        before: tuple[DateMention, Candidate] | None = None
        seen: set[tuple[str, int]] = set()
        doc_ids = [hit.chunk.doc_id for hit in hits]  # every document that matches the question at all
        if not names_topic(intent.question):  # "Welche Termine stehen an?": every dated document
            doc_ids += self.index.dated_doc_ids(today)
        for rank, doc_id in enumerate(dict.fromkeys(doc_ids)):
            doc = self.index.documents[doc_id]
            for mention in doc.dates:
                if mention.precision == "year" or (doc.id, mention.offset) in seen:
                    continue
                seen.add((doc.id, mention.offset))
                if mention.end >= today:
                    candidate = self._dated_sentence(doc, mention, hits, rank)
                    if candidate is not None and all(c.start != candidate.start for _, c in ahead):
                        ahead.append((mention, candidate))
                elif before is None or mention.end > before[0].end:
                    candidate = self._dated_sentence(doc, mention, hits, rank)
                    if candidate is not None:
                        before = (mention, candidate)
        if ahead:
            ahead.sort(key=lambda item: max(item[0].start, today))
            return upcoming(intent, ahead[:MAX_LISTED], hits)
        return nothing_upcoming(intent, before, hits)

    def _list_across(self, intent: Intent, hits: list[Hit]) -> Answer | None:
        """ "Welche Förderprogramme gibt es?": the best sentence of each document among the hits
        that covers enough of the question, documents in retrieval order."""
        candidates = self.evidence.candidates(intent, hits, passages=len(hits))
        best: dict[str, Candidate] = {}
        for candidate in candidates:
            if candidate.doc.id not in best and candidate.coverage >= self.min_coverage:
                best[candidate.doc.id] = candidate
        if len(best) < 2:
            return None
        order = list(dict.fromkeys(h.chunk.doc_id for h in hits))
        items = sorted(best.values(), key=lambda c: order.index(c.doc.id))[:MAX_LISTED]
        return across_documents(intent, items, hits)

    def _hit_for(self, doc_id: str, offset: int, hits: list[Hit]) -> Hit | None:
        for hit in hits:
            if hit.chunk.doc_id == doc_id and hit.chunk.start <= offset < hit.chunk.end:
                return hit
        for chunk in self._doc_chunks(doc_id):
            if chunk.start <= offset < chunk.end:
                return Hit(chunk, 0.0)
        return None


__all__ = ["MIN_COVERAGE", "ExtractiveAnswerer"]
