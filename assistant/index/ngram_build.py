"""Building the character n-gram lists (:mod:`.ngrams`): the grams of the new chunk rows, in
row order, a base segment from texts or a delta beside the previous base, merged from the lists
alone once the delta grows (no text is read again)."""

from __future__ import annotations

import os
import tempfile
from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from ..text.german import GermanAnalyzer
from .bm25 import Postings
from .ngrams import DOC_WEIGHT, MAX_DF, MIN_STOP_DF, NgramAnalyzer, NgramIndex, grams_of

# Rows per batch when counting and placing grams: ~25 MB of temporary arrays per 1,000 rows
# (10,000 took 400 MB at the peak of a build; smaller batches are no slower).
_BATCH_ROWS = 2_000
_MERGE_TERMS = 4096
_SPILL_IDS = 4_000_000


class NgramRows:
    """Collects the n-gram ids of chunk rows (in row order) in a temporary file, and builds
    their lists. Memory: the vocabulary plus one batch of rows."""

    def __init__(
        self, analyzer: NgramAnalyzer, vocab: dict[str, int] | None = None, folder: Path | None = None
    ) -> None:
        self.analyzer = analyzer
        self.vocab: dict[str, int] = vocab if vocab is not None else {}
        self.lengths = array("i")
        self._pending = array("i")
        self._written = 0
        handle, name = tempfile.mkstemp(prefix="ngram-ids-", suffix=".i32", dir=folder)
        os.close(handle)
        self.path = Path(name)
        self._of_word: dict[str, tuple[int, ...]] = {}

    def add(self, text: str) -> None:
        count = 0
        for word in self.analyzer.words.words_of(text):
            found = self._of_word.get(word)
            if found is None:
                vocab = self.vocab
                found = self._of_word[word] = tuple(
                    vocab.setdefault(g, len(vocab)) for g in grams_of(word, self.analyzer.n)
                )
            self._pending.extend(found)
            count += len(found)
        self.lengths.append(count)
        if len(self._pending) >= _SPILL_IDS:
            self._flush()

    def number_word(self, word: str) -> list[int]:
        """The gram ids of one word, new grams numbered in order of first occurrence (as
        :meth:`add`); not kept (:class:`.word_ids.WordIds` keeps them for the build)."""
        vocab = self.vocab
        return [vocab.setdefault(g, len(vocab)) for g in grams_of(word, self.analyzer.n)]

    def add_ids(self, ids: np.ndarray) -> None:
        """A row given by its gram ids (those :meth:`add` would find for its text)."""
        self._pending.frombytes(np.ascontiguousarray(ids, dtype=np.int32).tobytes())
        self.lengths.append(int(ids.size))
        if len(self._pending) >= _SPILL_IDS:
            self._flush()

    def _flush(self) -> None:
        with open(self.path, "ab") as handle:
            self._pending.tofile(handle)
        self._written += len(self._pending)
        self._pending = array("i")

    def postings(self, first: int, stopped: np.ndarray, live: np.ndarray | None = None) -> Postings:
        """The lists of the collected rows, numbered from ``first``, without stopped grams and
        dead rows. Removes the temporary file."""
        self._flush()
        try:
            return _build(self._ids(), self._offsets(), first, len(self.vocab), stopped, live)
        finally:
            self.path.unlink(missing_ok=True)

    def df(self) -> np.ndarray:
        """In how many collected rows each gram occurs."""
        self._flush()
        df = np.zeros(len(self.vocab), dtype=np.int64)
        for term, _, _ in _row_batches(self._ids(), self._offsets(), 0):
            df += np.bincount(term, minlength=len(self.vocab))
        return df

    def _offsets(self) -> np.ndarray:
        lengths = np.frombuffer(self.lengths, dtype=np.int32) if len(self.lengths) else np.zeros(0, np.int32)
        offsets = np.zeros(lengths.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return offsets

    def _ids(self) -> np.ndarray:
        return np.memmap(self.path, dtype=np.int32, mode="r") if self._written else np.zeros(0, np.int32)


class NgramBuilder:
    """The n-gram index after a build: feed the texts of the new chunk rows in row order
    (:meth:`add`), then :meth:`finish` with ``row_doc`` and ``live`` of all rows.

    Without ``previous`` the new rows are all rows: one base segment, grams in more than MAX_DF
    of the live rows stopped. With ``previous`` (an update) the new rows join its delta segment;
    once the delta holds more than ``merge_share`` of the base rows, base and delta are merged
    (dead rows dropped). The temporary id file goes to ``folder`` (the generation being built)."""

    def __init__(
        self,
        words: GermanAnalyzer,
        previous: NgramIndex | None = None,
        folder: Path | None = None,
        doc_weight: float = DOC_WEIGHT,
    ) -> None:
        self.previous = previous
        analyzer = previous.grams if previous is not None else NgramAnalyzer(words)
        self.doc_weight = previous.doc_weight if previous is not None else doc_weight
        self.rows = NgramRows(analyzer, dict(previous.vocab) if previous is not None else None, folder)

    def add(self, text: str) -> None:
        self.rows.add(text)

    def number_word(self, word: str) -> list[int]:
        return self.rows.number_word(word)

    def add_ids(self, ids: np.ndarray) -> None:
        self.rows.add_ids(ids)

    def abort(self) -> None:
        self.rows.path.unlink(missing_ok=True)

    def finish(self, row_doc: np.ndarray, live: np.ndarray, merge_share: float = 0.2) -> NgramIndex:
        previous, rows = self.previous, self.rows
        try:
            first = previous.size if previous is not None else 0
            if first + len(rows.lengths) != len(live):
                raise ValueError(f"{first} + {len(rows.lengths)} n-gram rows, {len(live)} chunk rows")
            live = np.asarray(live, dtype=bool)
            terms = list(rows.vocab)
            stopped = np.zeros(len(terms), dtype=bool)
            if previous is None:
                stopped = rows.df() > max(MAX_DF * int(live.sum()), MIN_STOP_DF)
            else:
                stopped[: previous.stopped.size] = previous.stopped
            new = rows.postings(first, stopped, None if live.all() else live)
        finally:
            self.abort()
        lengths = np.frombuffer(rows.lengths, dtype=np.int32) if len(rows.lengths) else np.zeros(0, np.int32)
        analyzer = rows.analyzer
        if previous is None:
            return NgramIndex(analyzer, terms, [new], lengths.copy(), row_doc, live, stopped, self.doc_weight)
        row_len = np.concatenate([previous.row_len, lengths])
        delta = merge(previous.segments[1:] + [new], len(terms), live)
        total = int(row_len.shape[0])
        if total - previous.base_rows > merge_share * max(previous.base_rows, 1):
            base = merge([previous.segments[0], delta], len(terms), live)
            return NgramIndex(analyzer, terms, [base], row_len, row_doc, live, stopped, self.doc_weight, total)
        index = NgramIndex(
            analyzer,
            terms,
            [previous.segments[0], delta],
            row_len,
            row_doc,
            live,
            stopped,
            self.doc_weight,
            previous.base_rows,
        )
        # The base is unchanged: save() links the previous generation's files instead of copying.
        index.base_folder = previous.base_folder
        return index


def _row_batches(
    ids: np.ndarray,
    offsets: np.ndarray,
    first: int,
    keep_term: np.ndarray | None = None,
    live: np.ndarray | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(gram, row, count)`` per distinct (gram, row) of each batch of rows, by gram then row;
    rows numbered from ``first``; only grams where ``keep_term`` and rows where ``live``."""
    n_rows = offsets.size - 1
    for a in range(0, n_rows, _BATCH_ROWS):
        b = min(n_rows, a + _BATCH_ROWS)
        tokens = np.asarray(ids[offsets[a] : offsets[b]], dtype=np.int64)
        row = np.repeat(np.arange(b - a, dtype=np.int64), np.diff(offsets[a : b + 1]))
        if keep_term is not None or live is not None:
            keep = keep_term[tokens] if keep_term is not None else np.ones(tokens.size, dtype=bool)
            if live is not None:
                keep &= live[first + a + row]
            tokens, row = tokens[keep], row[keep]
        if not tokens.size:
            continue
        span = b - a
        # return_counts: the sort-based unique (numpy's hash-based one is ~6x slower here)
        pairs, counts = np.unique(tokens * span + row, return_counts=True)
        yield (pairs // span).astype(np.int32), (pairs % span + a + first).astype(np.int32), counts


def _build(
    ids: np.ndarray, offsets: np.ndarray, first: int, n_terms: int, stopped: np.ndarray, live: np.ndarray | None
) -> Postings:
    """Lists of rows ``first..`` (``ids[offsets[i]:offsets[i + 1]]`` are the grams of row
    ``first + i``), term frequencies as uint8 (a 4-gram occurs at most ~250 times in a chunk),
    stopped grams and dead rows left out. Two passes over the rows (sizes, then placement), so
    memory is the result plus one batch."""
    keep_term = ~stopped
    df = np.zeros(n_terms, dtype=np.int64)
    for term, _, _ in _row_batches(ids, offsets, first, keep_term, live):
        df += np.bincount(term, minlength=n_terms)
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    rows = np.empty(int(indptr[-1]), dtype=np.int32)
    tf = np.empty(int(indptr[-1]), dtype=np.uint8)
    cursor = indptr[:-1].copy()
    for term, row, count in _row_batches(ids, offsets, first, keep_term, live):
        starts = np.flatnonzero(np.r_[True, term[1:] != term[:-1]])
        sizes = np.diff(np.r_[starts, term.size])
        at = cursor[term] + (np.arange(term.size) - np.repeat(starts, sizes))
        rows[at] = row
        tf[at] = np.minimum(count, 255)
        cursor[term[starts]] += sizes
    return Postings(indptr, rows, tf)


def merge(segments: Sequence[Postings], n_terms: int, live: np.ndarray | None = None) -> Postings:
    """One segment holding the lists of ``segments`` (each covering later rows than the one
    before), without the rows where ``live`` is False; block by block of grams, so memory is
    the result plus one block."""
    segments = [s for s in segments if s.terms]
    if not segments:
        return Postings(np.zeros(n_terms + 1, dtype=np.int64), np.zeros(0, np.int32), np.zeros(0, np.uint8))
    counts = np.zeros((len(segments), n_terms), dtype=np.int64)
    for i, segment in enumerate(segments):  # surviving rows per gram and segment
        indptr = np.asarray(segment.indptr)
        if live is None:
            counts[i, : segment.terms] = np.diff(indptr)
            continue
        for t0 in range(0, segment.terms, _MERGE_TERMS):
            t1 = min(segment.terms, t0 + _MERGE_TERMS)
            a, b = int(indptr[t0]), int(indptr[t1])
            alive = live[np.asarray(segment.rows[a:b])]
            term = np.repeat(np.arange(t0, t1), np.diff(indptr[t0 : t1 + 1]))
            counts[i, t0:t1] = np.bincount(term[alive] - t0, minlength=t1 - t0)
    out_ptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(counts.sum(axis=0), out=out_ptr[1:])
    rows = np.empty(int(out_ptr[-1]), dtype=np.int32)
    tf = np.empty(int(out_ptr[-1]), dtype=np.uint8)
    before = np.zeros(n_terms, dtype=np.int64)  # how many of a gram's rows earlier segments gave
    for i, segment in enumerate(segments):
        indptr = np.asarray(segment.indptr)
        for t0 in range(0, segment.terms, _MERGE_TERMS):
            t1 = min(segment.terms, t0 + _MERGE_TERMS)
            a, b = int(indptr[t0]), int(indptr[t1])
            part_rows = np.asarray(segment.rows[a:b])
            part_tf = np.asarray(segment.tf[a:b])
            term = np.repeat(np.arange(t0, t1), np.diff(indptr[t0 : t1 + 1]))
            if live is not None:
                alive = live[part_rows]
                part_rows, part_tf, term = part_rows[alive], part_tf[alive], term[alive]
            if not term.size:
                continue
            starts = np.flatnonzero(np.r_[True, term[1:] != term[:-1]])
            sizes = np.diff(np.r_[starts, term.size])
            at = out_ptr[term] + before[term] + (np.arange(term.size) - np.repeat(starts, sizes))
            rows[at] = part_rows
            tf[at] = np.minimum(part_tf, 255)
        before[: segment.terms] += counts[i, : segment.terms]
    return Postings(out_ptr, rows, tf)


def build_ngrams(
    words: GermanAnalyzer,
    texts: Iterable[str],
    row_doc: np.ndarray,
    live: np.ndarray | None = None,
    doc_weight: float = DOC_WEIGHT,
    folder: Path | None = None,
) -> NgramIndex:
    """A one-segment index over ``texts`` (one per chunk row, in row order)."""
    builder = NgramBuilder(words, None, folder, doc_weight)
    for text in texts:
        builder.add(text)
    return builder.finish(row_doc, np.ones(len(row_doc), dtype=bool) if live is None else live)


def update_ngrams(
    index: NgramIndex,
    texts: Iterable[str],
    row_doc: np.ndarray,
    live: np.ndarray,
    merge_share: float = 0.2,
    folder: Path | None = None,
) -> NgramIndex:
    """``index`` plus the rows ``index.size..`` (``texts``, in row order); see NgramBuilder."""
    builder = NgramBuilder(index.grams.words, index, folder)
    for text in texts:
        builder.add(text)
    return builder.finish(row_doc, live, merge_share)
