"""Reading a generation: tables and vocabulary in memory, documents and chunk texts on demand.

Only the tables, the vocabulary and the search structures are loaded; document texts are read
with positioned reads when a hit needs them (recently used documents stay decoded), inverted
lists and the FAISS base index are memory-mapped. Reads are of immutable bytes, so a loaded
index is safe to share across threads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import overload

import numpy as np

from ..errors import IndexCorruptError
from ..text.german import GermanAnalyzer
from ..types import Chunk, Document, chunk_id
from .blobs import Blob, TokenFile
from .bm25 import LexicalIndex, Postings
from .dense import DenseIndex, load_dense
from .duplicates import DuplicateGroups
from .format import (
    DOC_IDS,
    DOC_LINES,
    FOLDERS,
    NGRAMS,
    POSTINGS_BASE,
    POSTINGS_DELTA,
    TERMS,
    TEXTS,
    TOKENS,
    VOCABULARY,
    CorpusRecord,
    Manifest,
    Tables,
    read_corpus_record,
    read_json,
    read_manifest,
    require_generation,
)
from .ngrams import NgramIndex

_DOC_CACHE = 2048


class DocumentStore(Mapping[str, Document]):
    """The live documents by id, read from the generation's files on access (recently used ones
    stay decoded). Thread-safe: reads are positioned reads of immutable bytes."""

    def __init__(self, folder: Path, tables: Tables, doc_ids: list[str]) -> None:
        self._tables = tables
        self.ids = doc_ids
        self.number = {d: i for i, d in enumerate(doc_ids) if tables.doc_live[i]}
        self._texts = Blob(folder / TEXTS)
        self._lines = Blob(folder / DOC_LINES)
        # The cached reader refers to the files, not to the store: no reference cycle, so a store
        # nobody uses any more is freed at once, not at the next garbage collection.
        self.by_number = lru_cache(maxsize=_DOC_CACHE)(_reader(tables, self._texts, self._lines))

    def close(self) -> None:
        """Close the files and drop the decoded documents; reads afterwards raise
        :class:`IndexClosedError`."""
        self._texts.close()
        self._lines.close()
        self.by_number.cache_clear()

    def __getitem__(self, doc_id: str) -> Document:
        return self.by_number(self.number[doc_id])

    def __iter__(self) -> Iterator[str]:
        return iter(self.number)

    def __len__(self) -> int:
        return len(self.number)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self.number


def _reader(tables: Tables, texts: Blob, lines: Blob) -> Callable[[int], Document]:
    def read(number: int) -> Document:
        data = json.loads(lines.read(int(tables.doc_line[number]), int(tables.doc_line[number + 1])))
        data["text"] = texts.read(int(tables.doc_text[number]), int(tables.doc_text[number + 1])).decode("utf-8")
        return Document.from_json(data)

    return read


class ChunkTable(Sequence[Chunk]):
    """Chunk rows as :class:`Chunk` objects, made on access; ``len`` counts all rows, also those
    of documents that changed or left since the last full build (``live`` is False for them)."""

    def __init__(self, tables: Tables, documents: DocumentStore) -> None:
        self._t = tables
        self._docs = documents

    def __len__(self) -> int:
        return self._t.rows

    @overload
    def __getitem__(self, row: int) -> Chunk: ...

    @overload
    def __getitem__(self, row: slice) -> list[Chunk]: ...

    def __getitem__(self, row: int | slice) -> Chunk | list[Chunk]:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        t = self._t
        if not -t.rows <= row < t.rows:
            raise IndexError(row)
        row = row % t.rows
        number = int(t.row_doc[row])
        doc = self._docs.by_number(number)
        start, end = int(t.row_start[row]), int(t.row_end[row])
        return Chunk(
            chunk_id(doc.id, row - int(t.doc_first[number])), int(row), doc.id, doc.text[start:end], start, end
        )


class DocumentRows(Mapping[str, np.ndarray]):
    """The chunk rows of each live document."""

    def __init__(self, tables: Tables, documents: DocumentStore) -> None:
        self._t = tables
        self._docs = documents

    def __getitem__(self, doc_id: str) -> np.ndarray:
        number = self._docs.number[doc_id]
        first = int(self._t.doc_first[number])
        return np.arange(first, first + int(self._t.doc_count[number]), dtype=np.int64)

    def __iter__(self) -> Iterator[str]:
        return iter(self._docs.number)

    def __len__(self) -> int:
        return len(self._docs.number)


@dataclass
class IndexData:
    """A loaded index generation. Only the tables, the vocabulary and the search structures are
    in memory; documents and chunk texts are read on access."""

    path: Path
    manifest: Manifest
    tables: Tables
    documents: DocumentStore
    lexical: LexicalIndex
    dense: DenseIndex | None = None
    ngrams: NgramIndex | None = None
    duplicates: DuplicateGroups = field(default_factory=DuplicateGroups)
    chunks: ChunkTable = field(init=False)
    doc_rows: DocumentRows = field(init=False)
    # per document number: the canonical document number of its group of reposts, -1 alone
    doc_group: np.ndarray = field(init=False)
    _record: CorpusRecord | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.chunks = ChunkTable(self.tables, self.documents)
        self.doc_rows = DocumentRows(self.tables, self.documents)
        self.doc_group = self.duplicates.group_numbers(self.documents.number, self.tables.documents)

    @property
    def has_dense(self) -> bool:
        return self.dense is not None

    @property
    def live(self) -> np.ndarray:
        return self.tables.live

    @property
    def live_chunks(self) -> int:
        return int(self.tables.live.sum())

    def doc_mask_in_dates(self, low: date, high: date) -> np.ndarray:
        """A bool per document number: a date it mentions overlaps ``low..high``."""
        t = self.tables
        hit = (t.date_start <= high.toordinal()) & (t.date_end >= low.toordinal())
        result = np.zeros(t.documents, dtype=bool)
        result[t.date_doc[hit]] = True
        return result & t.doc_live

    def dated_doc_ids(self, today: date, before: int = 20) -> list[str]:
        """From the date table, without reading a document: the live documents that mention a
        date ending on or after ``today``, then the ``before`` ones with the latest dates before
        it (each once, latest first)."""
        t = self.tables
        live = t.doc_live[t.date_doc].astype(bool)
        ahead = live & (t.date_end >= today.toordinal())
        numbers = list(dict.fromkeys(int(n) for n in t.date_doc[ahead]))
        past = np.flatnonzero(live & ~ahead)
        latest = past[np.argsort(-t.date_end[past], kind="stable")]
        numbers += list(dict.fromkeys(int(n) for n in t.date_doc[latest]))[:before]
        return list(dict.fromkeys(self.documents.ids[n] for n in numbers))

    def token_file(self) -> TokenFile:
        return TokenFile(self.path / TOKENS)

    def corpus_record(self) -> CorpusRecord:
        """Per-document entries and the corpus file stats (read on first use)."""
        if self._record is None:
            self._record = read_corpus_record(self.path)
        return self._record

    def folder_times(self) -> dict[str, int] | None:
        """The corpus folders' modification times at the build (None: not recorded)."""
        try:
            times = read_json(self.path / FOLDERS)
        except (OSError, ValueError):
            return None
        return times if isinstance(times, dict) else None

    def close(self) -> None:
        """Give back what the generation holds: its open files, memory maps and decoded documents
        (the chat closes a generation a re-index replaced, once no question uses it any more).
        Reads afterwards raise :class:`IndexClosedError`; closing twice is harmless."""
        self.documents.close()
        self.lexical.close()
        if self.ngrams is not None:
            self.ngrams.close()
        if self.dense is not None:
            self.dense.close()
        self._record = None


def load_index(index_dir: Path, doc_weight: float | None = None, dense: bool = True) -> IndexData:
    """The current generation of ``index_dir``; ``doc_weight`` overrides the one it was built with.
    ``dense=False`` leaves the vectors unloaded (lexical search, a build: FAISS and its delta
    cost a start at 1M chunks 0.1-0.2 s)."""
    # Read CURRENT once: a build switching generations meanwhile must not mix two of them.
    generation = require_generation(index_dir)
    manifest = read_manifest(index_dir, generation)
    try:
        tables = Tables.load(generation)
        doc_ids = read_json(generation / DOC_IDS)
        if len(doc_ids) != tables.documents or tables.row_tok.shape[0] != tables.rows + 1:
            raise ValueError("Tabellen und Dokumentliste passen nicht zusammen")
        documents = DocumentStore(generation, tables, doc_ids)
        lexical = _load_lexical(generation, manifest, tables, doc_weight)
        vectors = load_dense(generation, manifest, tables) if manifest.dense and dense else None
        ngrams = (
            NgramIndex.load(generation / NGRAMS, lexical.analyzer, tables.row_doc, tables.live)
            if manifest.ngrams
            else None
        )
        duplicates = DuplicateGroups.load(generation)
    except (OSError, KeyError, ValueError, TypeError, IndexError, RuntimeError) as exc:
        raise IndexCorruptError(f"Index in {generation} ist unvollständig oder beschädigt: {exc}") from None
    return IndexData(generation, manifest, tables, documents, lexical, vectors, ngrams, duplicates)


def _load_lexical(generation: Path, manifest: Manifest, tables: Tables, doc_weight: float | None) -> LexicalIndex:
    analyzer = GermanAnalyzer.load(generation / VOCABULARY, decompound=manifest.decompound)
    terms = read_json(generation / TERMS)
    segments = [Postings.load(generation / POSTINGS_BASE)]
    if (generation / POSTINGS_DELTA).is_dir():
        segments.append(Postings.load(generation / POSTINGS_DELTA))
    weight = manifest.doc_weight if doc_weight is None else doc_weight
    return LexicalIndex(analyzer, terms, segments, np.diff(tables.row_tok), tables.row_doc, tables.live, weight)
