"""Hybrid search: BM25 and dense vectors, fused by reciprocal rank, with document and date filters."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

import numpy as np

from ..index.embedder import Encoder
from ..index.ngrams import mix
from ..index.reader import IndexData
from ..types import Chunk, Hit, SearchFilters

# A canonical copy's chunk stands in for the best chunk of another copy when it holds at least
# this share of that chunk's words: the same passage, cut at other places (a copy's other header
# shifts the chunk borders), so the sentence the answer quotes is in it.
SAME_PASSAGE = 0.9
_WORD = re.compile(r"\w+")


class Retriever:
    """Searches one loaded index. Safe to share across threads (no mutable state per query)."""

    def __init__(
        self,
        index: IndexData,
        embedder: Encoder | None,
        mode: str = "hybrid",
        candidates: int = 50,
        rrf_k: int = 60,
        ngram_weight: float = 0.0,
    ) -> None:
        self.index = index
        self.embedder = embedder if index.has_dense else None
        self.mode = mode
        self.candidates = candidates
        self.rrf_k = rrf_k
        # The character n-gram channel is part of the lexical score (where the index has one).
        self.ngram_weight = ngram_weight if index.ngrams is not None else 0.0

    @property
    def effective_mode(self) -> str:
        """The mode actually used: without vectors every mode is lexical."""
        return self.mode if self.embedder is not None else "lexical"

    def search(
        self, query: str, k: int = 5, filters: SearchFilters | None = None, boost: np.ndarray | None = None
    ) -> list[Hit]:
        """The ``k`` best chunks for ``query``. ``boost`` (one value per chunk row) adds to the
        fused score, e.g. for documents dated near a date named in the question."""
        allowed = self.allowed_rows(filters)
        if allowed is not None and not allowed.any():
            return []
        mode = self.effective_mode
        n = max(self.candidates, k)
        ranked: dict[str, list[tuple[int, float]]] = {}
        if mode in ("hybrid", "lexical"):
            ranked["lexical"] = self._lexical(query, n, allowed)
        if mode in ("hybrid", "dense"):
            ranked["dense"] = self._dense(query, n, allowed)
        fused: dict[int, float] = {}
        ranks: dict[int, dict[str, int]] = {}
        raw: dict[int, dict[str, float]] = {}
        for name, rows in ranked.items():
            for rank, (row, score) in enumerate(rows, start=1):
                fused[row] = fused.get(row, 0.0) + 1.0 / (self.rrf_k + rank)
                ranks.setdefault(row, {})[name] = rank
                raw.setdefault(row, {})[name] = score
        if len(ranked) == 1:  # a single retriever keeps its own score scale
            fused = {row: raw[row][next(iter(ranked))] for row in fused}
        if boost is not None:
            fused = {row: score * (1.0 + float(boost[row])) for row, score in fused.items()}
        order = sorted(fused, key=lambda r: (-fused[r], r))
        if self.index.duplicates:
            return self._collapsed(order, fused, ranks, raw, k)
        chunks = self.index.chunks
        return [Hit(chunks[r], fused[r], ranks[r], raw[r]) for r in order[:k]]

    def _collapsed(
        self,
        order: list[int],
        fused: dict[int, float],
        ranks: dict[int, dict[str, int]],
        raw: dict[int, dict[str, float]],
        k: int,
    ) -> list[Hit]:
        """One hit per group of reposts, at the group's best score, naming the other copies.

        The hit is the canonical copy's chunk when one of its candidate chunks holds the same
        passage (:data:`SAME_PASSAGE`), so the answer quotes and cites the earliest publication;
        else (its matching chunk not among the candidates, or a filter leaves it out) the best
        chunk itself, the canonical copy named among the others."""
        index = self.index
        row_doc, doc_group, chunks = index.tables.row_doc, index.doc_group, index.chunks
        rows_of: dict[int, list[int]] = {}
        for row in order:
            rows_of.setdefault(int(row_doc[row]), []).append(row)
        hits: list[Hit] = []
        seen: set[int] = set()
        for row in order:
            group = int(doc_group[int(row_doc[row])])
            if group < 0:
                hits.append(Hit(chunks[row], fused[row], ranks[row], raw[row]))
            elif group not in seen:
                seen.add(group)
                chosen = _same_passage(chunks[row].text, [chunks[r] for r in rows_of.get(group, ())])
                shown = chunks[row] if chosen is None else chosen
                others = index.duplicates.others(shown.doc_id)
                hits.append(Hit(shown, fused[row], ranks[shown.row], raw[shown.row], others))
            if len(hits) >= k:
                break
        return hits

    def allowed_rows(self, filters: SearchFilters | None) -> np.ndarray | None:
        if filters is None or filters.is_empty():
            return None
        index = self.index
        mask = index.live.copy()
        if filters.doc_ids is not None:
            wanted = np.zeros_like(mask)
            for doc_id in filters.doc_ids:
                rows = index.doc_rows.get(doc_id)
                if rows is not None:
                    wanted[rows] = True
            mask &= wanted
        if filters.date_from is not None or filters.date_to is not None:
            in_range = index.doc_mask_in_dates(filters.date_from or date.min, filters.date_to or date.max)
            mask &= in_range[index.tables.row_doc]
        return mask

    def dated_hits(self, filters: SearchFilters, exclude: set[str], limit: int) -> list[Hit]:
        """One hit (score 0, its first allowed chunk) per document ``filters`` allow that
        mentions a date in their range, earliest such date first, without those in ``exclude``:
        what happened in a range is listed also when the question's words ("Welche
        Veranstaltungen gab es?") occur in none of its documents."""
        allowed = self.allowed_rows(filters)
        if allowed is None or not allowed.any():
            return []
        t = self.index.tables
        rows = np.flatnonzero(allowed)
        numbers, first = np.unique(t.row_doc[rows], return_index=True)
        first_row = dict(zip(numbers.tolist(), rows[first].tolist(), strict=True))
        low = (filters.date_from or date.min).toordinal()
        high = (filters.date_to or date.max).toordinal()
        inside = np.flatnonzero((t.date_start <= high) & (t.date_end >= low))
        inside = inside[np.argsort(np.maximum(t.date_start[inside], low), kind="stable")]
        hits: list[Hit] = []
        ids, doc_group = self.index.documents.ids, self.index.doc_group
        # A group of reposts once: not again when a copy is excluded or listed, as its canonical copy.
        seen = {int(doc_group[self.index.documents.number[d]]) for d in exclude if d in self.index.documents.number}
        for number in dict.fromkeys(int(n) for n in t.date_doc[inside]):
            group = int(doc_group[number])
            if group >= 0:
                if group in seen:
                    continue
                seen.add(group)
                number = group if group in first_row else number
            row = first_row.get(number)
            if row is None or ids[number] in exclude:
                continue
            hits.append(Hit(self.index.chunks[row], 0.0, also_published=self.index.duplicates.others(ids[number])))
            if len(hits) >= limit:
                break
        return hits

    def _lexical(self, query: str, n: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        scores = self.index.lexical.scores(query)
        ngrams = self.index.ngrams
        if self.ngram_weight and ngrams is not None and scores.any():
            # The n-gram score re-ranks the chunks the words found; it adds none of its own: the
            # passages only it finds for a question the corpus cannot answer resemble the question
            # closely enough to pass the answerer's coverage check (wrong-corpus abstention 99.2 %
            # -> 97.1 % when it may add chunks, 99.0 % as it is; GermanQuAD, see evals/README.md).
            grams = ngrams.scores(query)
            scores = np.where(scores > 0, mix(scores, grams, self.ngram_weight), 0.0).astype(np.float32)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        return _top(scores, n)

    def _dense(self, query: str, n: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        assert self.embedder is not None and self.index.dense is not None
        vector = self.embedder.encode_queries([query])
        return self.index.dense.search(vector, n, allowed)


def _top(scores: np.ndarray, n: int) -> list[tuple[int, float]]:
    positive = np.flatnonzero(scores > 0)
    if positive.size == 0:
        return []
    if positive.size > n:
        part = np.argpartition(-scores[positive], n - 1)[:n]
        positive = positive[part]
    order = positive[np.lexsort((positive, -scores[positive]))]
    return [(int(r), float(scores[r])) for r in order]


def _same_passage(text: str, candidates: Sequence[Chunk]) -> Chunk | None:
    """The candidate holding most of ``text``'s words, when it holds at least SAME_PASSAGE of them."""
    words = {w.lower() for w in _WORD.findall(text)}
    best, share = None, 0.0
    for chunk in candidates:
        held = len(words & {w.lower() for w in _WORD.findall(chunk.text)}) / max(len(words), 1)
        if held > share:
            best, share = chunk, held
    return best if share >= SAME_PASSAGE else None
