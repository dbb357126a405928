"""German keyword search: BM25 (Lucene variant, computed from inverted lists at query time) over Snowball-stemmed tokens without stop words, with
compound words indexed under their parts as well.

Compounds are split against the corpus' own vocabulary: ``Nachhaltigkeitsbericht`` becomes
``nachhaltigkeitsbericht`` + ``nachhalt`` + ``bericht`` because "Nachhaltigkeit" and "Bericht" occur
as words, so "Bericht zur Nachhaltigkeit" finds it, and ``Förderprogramm`` is found by "Programm
zur Förderung" the same way. Queries are split with the same vocabulary.

When the parts of a compound never occur on their own in the corpus, the vocabulary cannot split
it; the query side then joins its own words into the compounds the index knows
(``nachhaltigkeitsbericht`` for "Bericht zur Nachhaltigkeit"). Measured on GermanQuAD, indexing
participle forms or statistical (CharSplit) splits of every compound cost hit@5 (97.5 -> 97.2),
so both stay on the query side.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_FOLD = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss"})
_LINKING = ("", "s", "es", "n", "en", "er", "e")
# Past participles: "ausgezeichnet" -> "auszeichnen", "angemeldet" -> "anmelden", "gewählt" -> "wählen".
_PARTICIPLE = re.compile(
    r"^(ab|an|auf|aus|bei|ein|fest|her|hin|mit|nach|vor|weg|zu|zurück|zusammen|teil|vorbei|vorgestellt)?"
    r"ge([a-zäöüß]{3,}?)(et|t)$")
MIN_PART = 4
MIN_COMPOUND = 8
# Raised whenever analyze() produces other terms for the same text: an index built with another
# version is rebuilt in full (its stored tokens would not match the queries).
ANALYZER_VERSION = 2


def _quiet_bm25s() -> None:
    # bm25s sets its own logger to DEBUG, which would print to any configured root handler.
    logging.getLogger("bm25s").setLevel(logging.WARNING)


def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_GERMAN

    return frozenset(STOPWORDS_GERMAN)


class GermanAnalyzer:
    """Text -> index terms. ``vocabulary`` holds the words that may appear as compound parts."""

    def __init__(self, vocabulary: Iterable[str] = (), decompound: bool = True,
                 stopwords: Iterable[str] | None = None) -> None:
        import Stemmer

        self._stemmer = Stemmer.Stemmer("german")
        # An index keeps the stop words it was built with: queries drop the same words, and
        # a start does not import bm25s (and with it scipy, 0.5 s) just for this list.
        self._stop = frozenset(stopwords) if stopwords is not None else _stopwords()
        self.decompound = decompound
        self.words: set[str] = set()
        self.stems: set[str] = set()
        self._split = lru_cache(maxsize=200_000)(self._split_uncached)
        # word -> its index terms; a corpus repeats its words, so indexing looks each one up once.
        self._terms_of_word: dict[str, tuple[str, ...]] = {}
        self.add_vocabulary(vocabulary)

    def words_of(self, text: str) -> list[str]:
        # NFC: a query typed as "o" + combining diaeresis must match the "ö" of the documents.
        text = unicodedata.normalize("NFC", text).lower()
        return [w for w in _WORD.findall(text) if w not in self._stop]

    def add_vocabulary(self, words: Iterable[str]) -> None:
        new = {w for w in words if len(w) >= MIN_PART and not w.isdigit() and w not in self._stop}
        new -= self.words
        if not new:
            return
        self.words |= new
        self.stems |= set(self._stemmer.stemWords(sorted(new)))
        self._split.cache_clear()
        self._terms_of_word.clear()

    def stem(self, word: str) -> str:
        return self._stemmer.stemWord(word)

    def analyze(self, text: str) -> list[str]:
        terms: list[str] = []
        for word in self.words_of(text):
            terms.extend(self.terms_of_word(word))
        return terms

    def terms_of_word(self, word: str) -> tuple[str, ...]:
        """The index terms of one (lower-case, non-stop) word: its stem, then its compound parts."""
        found = self._terms_of_word.get(word)
        if found is None:
            if len(self._terms_of_word) > 2_000_000:
                self._terms_of_word.clear()
            found = self._terms_of_word[word] = self._word_terms(word)
        return found

    def _word_terms(self, word: str) -> tuple[str, ...]:
        stem = self._stemmer.stemWord(word)
        if not self.decompound or len(word) < MIN_COMPOUND or word.isdigit():
            return (stem,)
        parts = self._split(word)
        return (stem, *(p for p in parts if p != stem)) if parts else (stem,)

    def query_terms(self, text: str, known: Callable[[str], bool]) -> list[str]:
        """Index terms for a query: those of :meth:`analyze`, plus

        - the verb of a past participle ("ausgezeichnet" also looks for "Auszeichnung"), and
        - compounds the index knows that two query words form ("Bericht zur Nachhaltigkeit" also
          looks for ``nachhaltigkeitsbericht``, "Programm zur Förderung" for ``forderprogramm``),
          which finds compounds whose parts never occur alone in the corpus.
        """
        terms = self.analyze(text)
        if not self.decompound:
            return terms
        words = [w for w in dict.fromkeys(self.words_of(text)) if w.isalpha()]
        for word in words:
            base = self._participle(word) if len(word) >= 6 else None
            if base and base not in terms:
                terms.append(base)
        # A tuple, not a set: the order decides which form of a compound is found first (and so
        # whether it counts twice); set order changes with every process (hash randomization).
        forms = [(w, tuple(dict.fromkeys((w.translate(_FOLD), self.stem(w))))) for w in words if len(w) >= MIN_PART]
        for i, (first, first_forms) in enumerate(forms):
            # Compound parts stand close together in a query: "Programm zur Förderung".
            for second, second_forms in forms[max(0, i - 2):i] + forms[i + 1:i + 3]:
                for head in first_forms:
                    for link in _LINKING:
                        for tail in second_forms:
                            joined = head + link + tail
                            candidate = self.stem(joined)
                            if candidate not in terms and known(candidate):
                                terms.append(candidate)
                                if self._split(joined) is None:
                                    # The index holds it unsplit: let it count for both words.
                                    terms.append(candidate)
        return terms

    def _participle(self, word: str) -> str | None:
        """The infinitive's stem of a past participle, if that stem occurs in the corpus."""
        match = _PARTICIPLE.match(word)
        if not match:
            return None
        base = self.stem((match.group(1) or "") + match.group(2) + "en")
        return base if base in self.stems else None

    def word_terms(self, text: str) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
        """``(word, stem, compound parts, alternative terms)`` for each non-stop word of ``text``."""
        words = self.words_of(text)
        result = []
        for word, stem in zip(words, self._stemmer.stemWords(words)):
            parts = self._split(word) if (
                self.decompound and len(word) >= MIN_COMPOUND and not word.isdigit()) else None
            base = self._participle(word) if self.decompound else None
            alternatives = (base,) if base and base != stem else ()
            result.append((word, stem, tuple(p for p in parts or () if p != stem), alternatives))
        return result

    def _key(self, part: str) -> str | None:
        if part in self.words:
            return self.stem(part)
        folded = part.translate(_FOLD)
        if folded in self.stems:
            return folded
        return None

    def _split_uncached(self, word: str) -> tuple[str, ...] | None:
        """Split into known parts, longest first part first; None when no full split exists."""
        return _split_word(word, self._key, self._split, self.stem)

    def save_vocabulary(self, path: Path) -> None:
        # The stems too: stemming a large vocabulary again would cost every start ~1 s per 1M words.
        path.write_text(json.dumps({"words": sorted(self.words), "stems": sorted(self.stems),
                                    "stopwords": sorted(self._stop)}, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path, decompound: bool = True) -> "GermanAnalyzer":
        data = json.loads(path.read_text(encoding="utf-8"))
        analyzer = cls(decompound=decompound, stopwords=data["stopwords"])
        analyzer.words = set(data["words"])
        analyzer.stems = set(data["stems"])
        return analyzer


def _split_word(word: str, key: Callable[[str], str | None],
                split: Callable[[str], tuple[str, ...] | None],
                stem: Callable[[str], str] | None = None) -> tuple[str, ...] | None:
    """Split ``word`` into parts that ``key`` knows, longest first part first (``split`` recurses).

    Only the last part carries the inflection (``Förderprogramme``): it is also looked up by its
    stem."""
    for cut in range(len(word) - MIN_PART, MIN_PART - 1, -1):
        head = key(word[:cut])
        if head is None:
            continue
        rest = word[cut:]
        for link in _LINKING:
            if not rest.startswith(link) or len(rest) - len(link) < MIN_PART:
                continue
            tail_word = rest[len(link):]
            tail = key(tail_word)
            if tail is None and stem is not None:
                base = stem(tail_word)
                if base != tail_word and len(base) >= MIN_PART:
                    tail = key(base)
            if tail is not None:
                return (head, tail)
            deeper = split(tail_word) if len(tail_word) >= MIN_COMPOUND else None
            if deeper:
                return (head, *deeper)
    return None


BM25_K1 = 1.2
BM25_B = 0.75
_POSTINGS_BATCH_ROWS = 20_000


class Postings:
    """Inverted lists, term-major: the rows holding term ``t`` are ``rows[indptr[t]:indptr[t + 1]]``
    (ascending) with their term frequencies ``tf``. Term ids beyond ``indptr`` occur nowhere here.

    Kept as term frequencies, not as precomputed BM25 values: the document frequencies and the
    mean length change with every update, the stored lists do not (an update only adds a small
    list for the new rows, see :class:`LexicalIndex`)."""

    def __init__(self, indptr: np.ndarray, rows: np.ndarray, tf: np.ndarray) -> None:
        self.indptr = indptr
        self.rows = rows
        self.tf = tf

    @property
    def terms(self) -> int:
        return int(self.indptr.shape[0]) - 1

    def get(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        if term >= self.terms:
            return _EMPTY_ROWS, _EMPTY_TF
        a, b = int(self.indptr[term]), int(self.indptr[term + 1])
        return self.rows[a:b], self.tf[a:b]

    @classmethod
    def build(cls, ids: np.ndarray, offsets: np.ndarray, first: int, stop: int, n_terms: int,
              live: np.ndarray | None = None) -> "Postings":
        """Lists for rows ``first..stop-1``; ``ids[offsets[r]:offsets[r + 1]]`` are the term ids of
        row ``r``; rows with ``live[r] == False`` are left out. Memory: the result plus ~10 bytes
        per (term, row) pair, built batch by batch (a counting sort by term)."""
        batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        df = np.zeros(n_terms, dtype=np.int64)
        for a in range(first, stop, _POSTINGS_BATCH_ROWS):
            b = min(stop, a + _POSTINGS_BATCH_ROWS)
            tokens = np.asarray(ids[offsets[a]:offsets[b]], dtype=np.int64)
            lengths = np.diff(np.asarray(offsets[a:b + 1], dtype=np.int64))
            row = np.repeat(np.arange(a, b, dtype=np.int64), lengths)
            if live is not None:
                keep = live[row]
                tokens, row = tokens[keep], row[keep]
            if not tokens.size:
                continue
            span = b - a
            pairs, counts = np.unique(tokens * span + (row - a), return_counts=True)  # by term, then row
            term = (pairs // span).astype(np.int32)
            batches.append((term, (pairs % span + a).astype(np.int32), np.minimum(counts, 65535).astype(np.uint16)))
            df += np.bincount(term, minlength=n_terms)
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        rows = np.empty(int(indptr[-1]), dtype=np.int32)
        tf = np.empty(int(indptr[-1]), dtype=np.uint16)
        cursor = indptr[:-1].copy()
        while batches:
            term, row, count = batches.pop(0)
            starts = np.flatnonzero(np.r_[True, term[1:] != term[:-1]])
            sizes = np.diff(np.r_[starts, term.size])
            rank = np.arange(term.size) - np.repeat(starts, sizes)
            at = cursor[term] + rank
            rows[at] = row
            tf[at] = count
            cursor[term[starts]] += sizes
        return cls(indptr, rows, tf)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "indptr.npy", self.indptr)
        np.save(folder / "rows.npy", self.rows)
        np.save(folder / "tf.npy", self.tf)

    @classmethod
    def load(cls, folder: Path) -> "Postings":
        return cls(np.load(folder / "indptr.npy", mmap_mode="r"), np.load(folder / "rows.npy", mmap_mode="r"),
                   np.load(folder / "tf.npy", mmap_mode="r"))


_EMPTY_ROWS = np.zeros(0, dtype=np.int32)
_EMPTY_TF = np.zeros(0, dtype=np.uint16)


class LexicalIndex:
    """BM25 (Lucene variant, k1 1.2, b 0.75) over analyzed chunk texts, plus BM25 over whole
    documents; a chunk's score mixes both: passages of a document that matches the question as a
    whole rank higher (on GermanQuAD this lifts hit@1 from 85 % to 89 %).

    Row ``r`` is row ``r`` of the index's chunk table; ``row_doc[r]`` its document number,
    ``row_len[r]`` its number of terms, ``live[r]`` False once its document changed or left.
    The inverted lists come in segments (a large one from the last full build, a small one for
    the rows added since); scores are computed at query time from term frequencies with the
    statistics of the live rows, so an update never rewrites the large segment and the scores
    equal those of a full rebuild."""

    def __init__(self, analyzer: GermanAnalyzer, terms: list[str], segments: Sequence[Postings],
                 row_len: np.ndarray, row_doc: np.ndarray, live: np.ndarray, doc_weight: float = 1.0) -> None:
        self.analyzer = analyzer
        self.terms = terms
        self.vocab = {term: i for i, term in enumerate(terms)}
        self.segments = list(segments)
        self.doc_weight = doc_weight
        self.size = int(row_len.shape[0])
        self.row_doc = np.asarray(row_doc, dtype=np.int64)
        self.live = np.asarray(live, dtype=bool)
        self._all_live = bool(self.live.all())
        lengths = np.asarray(row_len, dtype=np.float32)
        self.n_live = int(self.live.sum())
        mean = float(lengths[self.live].mean()) if self.n_live else 1.0
        self._norm = (BM25_K1 * (1 - BM25_B + BM25_B * lengths / (mean or 1.0))).astype(np.float32)
        self.n_docs = int(self.row_doc.max()) + 1 if self.size else 0
        live_f = self.live.astype(np.float64)
        doc_len = np.bincount(self.row_doc, weights=lengths * live_f, minlength=self.n_docs)
        doc_live = np.bincount(self.row_doc, weights=live_f, minlength=self.n_docs) > 0
        self.n_live_docs = int(doc_live.sum())
        doc_mean = float(doc_len[doc_live].mean()) if self.n_live_docs else 1.0
        self._doc_norm = (BM25_K1 * (1 - BM25_B + BM25_B * doc_len / (doc_mean or 1.0))).astype(np.float32)

    @classmethod
    def build(cls, analyzer: GermanAnalyzer, rows: Sequence[Sequence[str]], doc_of_row: Sequence[int],
              doc_weight: float = 1.0) -> "LexicalIndex":
        """An index over ``rows`` (the terms of each chunk), all live, in one segment."""
        vocab: dict[str, int] = {}
        ids = np.fromiter((vocab.setdefault(t, len(vocab)) for row in rows for t in row), dtype=np.int32)
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=offsets[1:])
        postings = Postings.build(ids, offsets, 0, len(rows), len(vocab))
        return cls(analyzer, list(vocab), [postings], np.diff(offsets), np.asarray(doc_of_row),
                   np.ones(len(rows), dtype=bool), doc_weight)

    def term_ids(self, query: str) -> list[int]:
        terms = self.analyzer.query_terms(query, self.vocab.__contains__)
        return [self.vocab[t] for t in terms if t in self.vocab]

    def _lists(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        found = [segment.get(term) for segment in self.segments]
        found = [(r, f) for r, f in found if r.size]
        if not found:
            return _EMPTY_ROWS, _EMPTY_TF
        rows, tf = found[0] if len(found) == 1 else (
            np.concatenate([r for r, _ in found]), np.concatenate([f for _, f in found]))
        if not self._all_live:
            keep = self.live[rows]
            rows, tf = rows[keep], tf[keep]
        return rows, tf

    def scores(self, query: str) -> np.ndarray:
        """Score of every chunk row for ``query`` (zero where no term matches and for dead rows)."""
        chunk = np.zeros(self.size, dtype=np.float32)
        ids = self.term_ids(query)
        if not ids:
            return chunk
        docs = np.zeros(self.n_docs, dtype=np.float32) if self.doc_weight else None
        for term in ids:
            rows, tf = self._lists(term)
            if not rows.size:
                continue
            freq = tf.astype(np.float32)
            chunk[rows] += _idf(self.n_live, rows.size) * freq / (freq + self._norm[rows])
            if docs is not None:
                per_doc = np.bincount(self.row_doc[rows], weights=freq, minlength=self.n_docs)
                hit = np.flatnonzero(per_doc)
                dfreq = per_doc[hit].astype(np.float32)
                docs[hit] += _idf(self.n_live_docs, hit.size) * dfreq / (dfreq + self._doc_norm[hit])
        top = chunk.max()
        if top <= 0:
            return chunk
        if docs is None or not docs.any():
            return chunk / top
        return chunk / top + (self.doc_weight / docs.max()) * docs[self.row_doc] * (chunk > 0)

    def idf(self, term: str) -> float:
        """Inverse document frequency of an index term over the live chunks; a term the index
        has never seen gets the highest possible value (it is as rare as it gets)."""
        term_id = self.vocab.get(term)
        df = 0 if term_id is None else int(self._lists(term_id)[0].size)
        return _idf(max(self.n_live, 1), df)


def _idf(n: int, df: int) -> float:
    return float(np.log1p((n - df + 0.5) / (df + 0.5)))
