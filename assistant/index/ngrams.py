"""Character 4-gram channel: BM25 over the 4-grams of every word (``<wort>`` with boundary
markers, umlauts written out) of the same chunks; the retriever mixes it into the word BM25 score
of the chunks the words found (:class:`~assistant.search.retrieval.Retriever`).

It ranks up what the word channel scores too low: derivations the stemmer keeps apart
("rheinisch" / "Rhein", "zypriotisch" / "Zypern"), compounds the vocabulary cannot split, typos
next to a word that matches ("Hauptsatd Frankreichs"). On GermanQuAD (lexical-only, weights chosen
on the even articles, reported on the odd ones) hit@1 goes from 0.902 to 0.928 and hit@5 from
0.982 to 0.991; see ``evals/research/README.md``. It adds no chunks of its own: those it alone
finds for questions the corpus cannot answer pass the answerer's coverage check too often.

Scoring is :class:`~assistant.index.bm25.LexicalIndex`'s (chunk BM25 mixed with whole-document
BM25, from term frequencies at query time), so an update adds a small delta segment for the new
rows; base and delta are merged from the lists alone (no text is read again).

N-grams found in more than :data:`MAX_DF` of the chunks (``<ein``, ``ung>``, ``chen``) are
*stopped* like stop words: their lists are not kept and queries skip them. They weigh little in
BM25 and their lists are the long ones (at 128k chunks 679 such 4-grams hold 37 % of all
postings). The set is fixed when the base is built from texts; grams that only become frequent
through later updates are skipped by queries (same threshold) but keep their lists until the
next full build.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..text.german import GermanAnalyzer
from .bm25 import LexicalIndex, Postings

N = 4
MAX_DF = 0.1
MIN_STOP_DF = 100  # small corpora stop nothing (they need no pruning for speed)
# The mix: word score + WEIGHT * n-gram score, each normalized by its best chunk (LexicalIndex.scores).
WEIGHT = 2.0
DOC_WEIGHT = 2.0
# Raised whenever the n-grams of a text or the stored format change (such an index is rebuilt).
NGRAM_VERSION = 1
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_BATCH_ROWS = 10_000
_MERGE_TERMS = 4096
_SPILL_IDS = 4_000_000


class NgramAnalyzer:
    """Text -> character n-grams of its non-stop words (the words of ``words``)."""

    def __init__(self, words: GermanAnalyzer, n: int = N) -> None:
        self.words = words
        self.n = n
        self._cache: dict[str, tuple[str, ...]] = {}

    def close(self) -> None:
        """Drop the cache (the word analyzer is closed with the word index)."""
        self._cache.clear()

    def grams(self, word: str) -> tuple[str, ...]:
        found = self._cache.get(word)
        if found is None:
            if len(self._cache) > 100_000:
                self._cache.clear()
            found = self._cache[word] = grams_of(word, self.n)
        return found

    def analyze(self, text: str) -> list[str]:
        return [g for w in self.words.words_of(text) for g in self.grams(w)]

    def query_terms(self, text: str, known: Callable[[str], bool]) -> list[str]:
        return [g for w in self.words.query_words(text) for g in self.grams(w)]


def grams_of(word: str, n: int) -> tuple[str, ...]:
    """``"haus"`` -> ``("<hau", "haus", "aus>")``; a gender form's marker is dropped."""
    marked = "<" + word.replace("*", "").translate(_FOLD) + ">"
    return tuple(marked[i : i + n] for i in range(max(1, len(marked) - n + 1)))


class NgramIndex(LexicalIndex):
    """BM25 over n-gram lists (base segment + optional delta), scored like the word index."""

    def __init__(
        self,
        analyzer: NgramAnalyzer,
        terms: list[str],
        segments: Sequence[Postings],
        row_len: np.ndarray,
        row_doc: np.ndarray,
        live: np.ndarray,
        stopped: np.ndarray,
        doc_weight: float = DOC_WEIGHT,
        base_rows: int | None = None,
    ) -> None:
        super().__init__(analyzer, terms, segments, row_len, row_doc, live, doc_weight)  # type: ignore[arg-type]
        self.grams = analyzer  # the same analyzer, with its n-gram type
        self.row_len = np.asarray(row_len, dtype=np.int32)
        self.base_rows = self.size if base_rows is None else base_rows
        self.stopped = np.zeros(len(terms), dtype=bool)
        self.stopped[: len(stopped)] = stopped
        self._df = np.zeros(len(terms), dtype=np.int64)
        for segment in self.segments:
            counts = np.diff(np.asarray(segment.indptr))
            self._df[: counts.size] += counts
        # Rows of one document are consecutive: per-document sums are sums over runs.
        self._runs = bool(self.size < 2 or np.all(np.diff(self.row_doc) >= 0))
        self.base_folder: Path | None = None  # where the base segment's files lie (when loaded)

    def term_ids(self, query: str) -> list[int]:
        """The query's gram ids (repeats kept: a gram counts as often as the query has it),
        without stopped grams and grams now in more than MAX_DF of the live chunks."""
        self._check_open()
        limit = max(MAX_DF * self.n_live, MIN_STOP_DF)
        vocab, df, stopped = self.vocab, self._df, self.stopped
        ids = (vocab.get(g) for g in self.grams.query_terms(query, vocab.__contains__))
        return [t for t in ids if t is not None and not stopped[t] and df[t] <= limit]

    def scores(self, query: str) -> np.ndarray:
        """As :meth:`LexicalIndex.scores`, computed over all lists at once."""
        ids = self.term_ids(query)
        unique = list(dict.fromkeys(ids))
        found = [self._lists(t) for t in unique]
        present = [i for i, (r, _) in enumerate(found) if r.size]
        if not present:
            return np.zeros(self.size, dtype=np.float32)
        found = [found[i] for i in present]
        repeats = np.asarray([ids.count(unique[i]) for i in present], dtype=np.float32)
        rows = np.concatenate([r for r, _ in found])
        freq = np.concatenate([f for _, f in found]).astype(np.float32)
        sizes = np.asarray([r.size for r, _ in found], dtype=np.int64)
        idf = repeats * np.log1p((self.n_live - sizes + 0.5) / (sizes + 0.5)).astype(np.float32)
        weight = np.repeat(idf, sizes) * freq / (freq + self._norm[rows])
        chunk = np.bincount(rows, weights=weight, minlength=self.size).astype(np.float32)
        top = chunk.max()
        if top <= 0:
            return chunk
        if not self.doc_weight:
            return chunk / top
        docs = self._doc_scores(found, rows, freq, sizes, repeats)
        if not docs.any():
            return chunk / top
        return chunk / top + (self.doc_weight / docs.max()) * docs[self.row_doc] * (chunk > 0)

    def _doc_scores(
        self,
        found: list[tuple[np.ndarray, np.ndarray]],
        rows: np.ndarray,
        freq: np.ndarray,
        sizes: np.ndarray,
        repeats: np.ndarray,
    ) -> np.ndarray:
        n_docs = self.n_docs
        if not self._runs:  # rows of a document are not consecutive: one pass per gram
            docs = np.zeros(n_docs, dtype=np.float32)
            at = 0
            for (r, _), times in zip(found, repeats, strict=True):
                per_doc = np.bincount(self.row_doc[r], weights=freq[at : at + r.size], minlength=n_docs)
                at += r.size
                hit = np.flatnonzero(per_doc)
                dfreq = per_doc[hit].astype(np.float32)
                docs[hit] += times * _idf(self.n_live_docs, hit.size) * dfreq / (dfreq + self._doc_norm[hit])
            return docs
        # Lists are sorted by row, so (gram, document) pairs come in runs: sum each run.
        term = np.repeat(np.arange(sizes.size, dtype=np.int64), sizes)
        doc = self.row_doc[rows]
        key = term * n_docs + doc
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        dfreq = np.add.reduceat(freq, starts)
        run_term, run_doc = term[starts], doc[starts]
        ddf = np.bincount(run_term, minlength=sizes.size)
        didf = repeats * np.log1p((self.n_live_docs - ddf + 0.5) / (ddf + 0.5)).astype(np.float32)
        part = didf[run_term] * dfreq / (dfreq + self._doc_norm[run_doc])
        return np.bincount(run_doc, weights=part, minlength=n_docs).astype(np.float32)

    @property
    def postings_bytes(self) -> int:
        return sum(s.indptr.nbytes + s.rows.nbytes + s.tf.nbytes for s in self.segments)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "terms.json").write_text(json.dumps(self.terms, ensure_ascii=False), encoding="utf-8")
        np.save(folder / "row_len.npy", self.row_len)
        np.save(folder / "stopped.npy", np.flatnonzero(self.stopped).astype(np.int32))
        (folder / "info.json").write_text(
            json.dumps(
                {
                    "version": NGRAM_VERSION,
                    "n": self.grams.n,
                    "base_rows": self.base_rows,
                }
            ),
            encoding="utf-8",
        )
        if self.base_folder is not None and self.base_folder.is_dir():
            (folder / "base").mkdir()
            for path in self.base_folder.iterdir():
                os.link(path, folder / "base" / path.name)
        else:
            self.segments[0].save(folder / "base")
        if len(self.segments) > 1:
            self.segments[1].save(folder / "delta")

    @classmethod
    def load(
        cls, folder: Path, words: GermanAnalyzer, row_doc: np.ndarray, live: np.ndarray, doc_weight: float = DOC_WEIGHT
    ) -> NgramIndex:
        info = json.loads((folder / "info.json").read_text(encoding="utf-8"))
        if info.get("version") != NGRAM_VERSION:
            raise ValueError(f"n-gram index version {info.get('version')} != {NGRAM_VERSION}")
        terms = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
        segments = [Postings.load(folder / "base")]
        if (folder / "delta").is_dir():
            segments.append(Postings.load(folder / "delta"))
        stopped = np.zeros(len(terms), dtype=bool)
        stopped[np.load(folder / "stopped.npy")] = True
        index = cls(
            NgramAnalyzer(words, int(info["n"])),
            terms,
            segments,
            np.load(folder / "row_len.npy"),
            row_doc,
            live,
            stopped,
            doc_weight,
            int(info["base_rows"]),
        )
        index.base_folder = folder / "base"
        return index


def mix(word: np.ndarray, grams: np.ndarray, weight: float = WEIGHT) -> np.ndarray:
    return word + weight * grams


def _idf(n: int, df: int) -> float:
    return float(np.log1p((n - df + 0.5) / (df + 0.5)))
