"""The index folder: generations written completely, then switched to atomically.

``index/CURRENT`` names the generation in use (``gen-000007``). A build writes a new generation
folder, syncs it, and replaces ``CURRENT`` with ``os.replace``; a crash at any moment leaves
either the old or the new generation in use, never a half-written one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from array import array
from contextlib import contextmanager
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from . import __version__
from .errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from .lexical import GermanAnalyzer, LexicalIndex, Postings
from .types import Chunk, Document

FORMAT_VERSION = 3
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
# Append-only files: a new generation hard-links them from the previous one and appends its new
# documents; the previous generation reads only the bytes its own tables point to.
TEXTS = "texts.bin"  # UTF-8 document texts, one after the other
DOC_LINES = "documents.jsonl"  # document metadata (Document.to_json without the text)
TOKENS = "tokens.i32"  # term ids of every chunk row
VECTORS = "vectors.f32"  # one float32 vector per chunk row (when the index has vectors)
APPEND_ONLY = (TEXTS, DOC_LINES, TOKENS, VECTORS)
# Small files rewritten by every generation.
TABLES = "tables.npz"
CORPUS_RECORD = "corpus.json"  # per-document hashes and titles, and the corpus fingerprint
DOC_IDS = "doc_ids.json"
TERMS = "terms.json"
VOCABULARY = "vocabulary.json"
# Search structures: the base parts cover the rows of the last full build or merge and are
# hard-linked while unchanged; the rows added since get small delta parts.
POSTINGS_BASE = "postings-base"
POSTINGS_DELTA = "postings-delta"
DENSE_BASE = "dense-base.faiss"
_DOC_CACHE = 2048


class Tables:
    """The columns of an index generation (NumPy arrays; ``r`` a chunk row, ``d`` a document number).

    - ``row_doc[r]``, ``row_start[r]``, ``row_end[r]``: the chunk is ``document text[start:end]``;
      the rows of a document are consecutive.
    - ``row_tok[r]:row_tok[r + 1]``: its term ids in ``tokens.i32``; ``live[r]``: still in the corpus.
    - ``doc_text[d]:doc_text[d + 1]``: bytes of the text in ``texts.bin``; ``doc_line`` likewise
      for ``documents.jsonl``; ``doc_first[d]``, ``doc_count[d]``: its rows; ``doc_live[d]``.
    - ``date_doc``, ``date_start``, ``date_end``: every date mentioned (day ordinals), for filters.
    """

    OFFSETS = ("row_tok", "doc_text", "doc_line")
    DTYPES = {"row_doc": np.int32, "row_start": np.int32, "row_end": np.int32, "live": bool,
              "doc_first": np.int64, "doc_count": np.int32, "doc_live": bool, "date_doc": np.int32,
              "date_start": np.int32, "date_end": np.int32, "row_tok": np.int64, "doc_text": np.int64,
              "doc_line": np.int64}

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        for name, dtype in self.DTYPES.items():
            default = np.zeros(1 if name in self.OFFSETS else 0, dtype=dtype)
            setattr(self, name, np.asarray(arrays.get(name, default), dtype=dtype))

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self.DTYPES}

    @property
    def rows(self) -> int:
        return int(self.row_doc.shape[0])

    @property
    def documents(self) -> int:
        return int(self.doc_first.shape[0])


class DocumentStore(Mapping[str, Document]):
    """The live documents by id, read from the generation's files on access (recently used ones
    stay decoded). Thread-safe: reads are positioned reads of immutable bytes."""

    def __init__(self, folder: Path, tables: Tables, doc_ids: list[str]) -> None:
        self._tables = tables
        self.ids = doc_ids
        self.number = {d: i for i, d in enumerate(doc_ids) if tables.doc_live[i]}
        self._texts = _Blob(folder / TEXTS)
        self._lines = _Blob(folder / DOC_LINES)
        self.by_number = lru_cache(maxsize=_DOC_CACHE)(self._read)

    def _read(self, number: int) -> Document:
        t = self._tables
        data = json.loads(self._lines.read(int(t.doc_line[number]), int(t.doc_line[number + 1])))
        data["text"] = self._texts.read(int(t.doc_text[number]), int(t.doc_text[number + 1])).decode("utf-8")
        return Document.from_json(data)

    def __getitem__(self, doc_id: str) -> Document:
        return self.by_number(self.number[doc_id])

    def __iter__(self) -> Iterator[str]:
        return iter(self.number)

    def __len__(self) -> int:
        return len(self.number)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self.number


class ChunkTable(Sequence[Chunk]):
    """Chunk rows as :class:`Chunk` objects, made on access; ``len`` counts all rows, also those
    of documents that changed or left since the last full build (``live`` is False for them)."""

    def __init__(self, tables: Tables, documents: DocumentStore) -> None:
        self._t = tables
        self._docs = documents

    def __len__(self) -> int:
        return self._t.rows

    def __getitem__(self, row: int | slice) -> Chunk | list[Chunk]:  # type: ignore[override]
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]  # type: ignore[misc]
        t = self._t
        if not -t.rows <= row < t.rows:
            raise IndexError(row)
        row = row % t.rows
        number = int(t.row_doc[row])
        doc = self._docs.by_number(number)
        start, end = int(t.row_start[row]), int(t.row_end[row])
        return Chunk(f"{doc.id}#{row - int(t.doc_first[number])}", int(row), doc.id, doc.text[start:end], start, end)


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


class _Blob:
    """Positioned reads from a file that only ever grows (no mapping: RSS stays what is read)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY) if path.exists() else None

    def read(self, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        assert self._fd is not None
        data = os.pread(self._fd, end - start, start)
        if len(data) != end - start:
            raise IndexCorruptError(f"{self.path} ist kürzer als erwartet")
        return data

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)  # type: ignore[arg-type]


class VectorFile:
    """Rows of ``vectors.f32`` read on demand (``read(a, b)`` -> array of shape (b - a, dim))."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.dim = dim

    def read(self, start: int, end: int) -> np.ndarray:
        count = max(end - start, 0) * self.dim
        data = np.fromfile(self.path, dtype=np.float32, count=count, offset=start * self.dim * 4)
        if data.size != count:
            raise IndexCorruptError(f"{self.path} ist kürzer als erwartet")
        return data.reshape(-1, self.dim)


class TokenFile:
    """``tokens.i32`` sliced like an array (``ids[a:b]``), read on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __getitem__(self, part: slice) -> np.ndarray:
        start, stop = int(part.start or 0), int(part.stop)
        return np.fromfile(self.path, dtype=np.int32, count=max(stop - start, 0), offset=start * 4)


class DenseIndex:
    """Vector search over the live rows: the FAISS index of the base rows (exact or approximate,
    see :mod:`assistant.dense_index`) plus an exact index over the rows added since."""

    def __init__(self, base: Any | None, base_rows: int, delta: Any | None, live: np.ndarray, dim: int,
                 nprobe: int | None = None) -> None:
        self.base = base
        self.base_rows = base_rows
        self.delta = delta
        self.live = live
        self.d = dim
        self.nprobe = nprobe
        self.ntotal = int(live.shape[0])
        self._all_live = bool(live[:base_rows].all())

    def search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        import faiss

        from .dense_index import search

        # One question is one thread: FAISS's OpenMP threads only wait on each other when
        # several questions (or a build) share the 2 cores (measured: 40k rows, 1 thread 5 ms,
        # 2 threads 22 ms on a busy machine).
        faiss.omp_set_num_threads(1)

        found: list[tuple[int, float]] = []
        base_allowed = None if allowed is None else allowed[:self.base_rows]
        if base_allowed is None and not self._all_live:
            base_allowed = self.live[:self.base_rows]
        if self.base is not None and self.base_rows:
            scores, ids = search(self.base, vector, min(k, self.base_rows), base_allowed, self.nprobe)
            found += [(int(i), float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]
        rest = self.ntotal - self.base_rows
        if self.delta is not None and rest:
            mask = self.live[self.base_rows:] if allowed is None else allowed[self.base_rows:] & self.live[self.base_rows:]
            scores, ids = search(self.delta, vector, min(k, rest), mask, None)
            found += [(int(i) + self.base_rows, float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]
        found.sort(key=lambda p: (-p[1], p[0]))
        return found[:k]

    def reconstruct(self, row: int) -> np.ndarray:
        """The stored vector of a row."""
        if row >= self.base_rows:
            return self.delta.reconstruct(row - self.base_rows)
        import faiss

        if self.base.__class__.__name__.startswith("IndexIVF"):
            faiss.extract_index_ivf(self.base).make_direct_map()
        return self.base.reconstruct(row)


@dataclass
class IndexData:
    """A loaded index generation. Only the tables, the vocabulary and the search structures are
    in memory; documents and chunk texts are read on access."""

    path: Path
    manifest: dict[str, Any]
    tables: Tables
    documents: DocumentStore
    lexical: LexicalIndex
    dense: DenseIndex | None = None
    chunks: ChunkTable = field(init=False)
    doc_rows: DocumentRows = field(init=False)
    _record: dict[str, Any] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.chunks = ChunkTable(self.tables, self.documents)
        self.doc_rows = DocumentRows(self.tables, self.documents)

    @property
    def has_dense(self) -> bool:
        return self.dense is not None

    @property
    def live(self) -> np.ndarray:
        return self.tables.live

    @property
    def live_chunks(self) -> int:
        return int(self.tables.live.sum())

    def doc_ids_in_dates(self, low: date, high: date) -> np.ndarray:
        """A bool per document number: a date it mentions overlaps ``low..high``."""
        t = self.tables
        hit = (t.date_start <= high.toordinal()) & (t.date_end >= low.toordinal())
        result = np.zeros(t.documents, dtype=bool)
        result[t.date_doc[hit]] = True
        return result & t.doc_live

    def token_file(self) -> TokenFile:
        return TokenFile(self.path / TOKENS)

    def corpus_record(self) -> dict[str, Any]:
        """Per-document entries and the corpus fingerprint (read on first use)."""
        if self._record is None:
            self._record = read_corpus_record(self.path)
        return self._record


def current_generation(index_dir: Path) -> Path | None:
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    path = index_dir / name
    return path if name and path.is_dir() else None


def _require_generation(index_dir: Path) -> Path:
    generation = current_generation(index_dir)
    if generation is None:
        raise IndexNotFoundError(
            f"Kein Index in {index_dir}. Zuerst `assistant index --index {index_dir}` ausführen.")
    return generation


def read_manifest(index_dir: Path) -> dict[str, Any]:
    """The whole manifest, with the per-document entries and the corpus fingerprint."""
    generation = _require_generation(index_dir)
    manifest = _read_manifest_at(index_dir, generation)
    manifest.update(read_corpus_record(generation))
    return manifest


def read_corpus_record(generation: Path) -> dict[str, Any]:
    """``{"documents": {id: {content_hash, title, chunks}}, "fingerprint": {id: [size, mtime_ns]}}``:
    kept apart from manifest.json, which every start reads (at 125k documents this is 20 MB)."""
    return _read_json_object(generation / CORPUS_RECORD, CORPUS_RECORD)


def _read_json_object(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(f"{what} in {path.parent} nicht lesbar: {exc}") from None
    if not isinstance(data, dict):
        raise IndexCorruptError(f"{what} in {path.parent} ist beschädigt (kein JSON-Objekt)")
    return data


def fingerprint_digest(fingerprint: dict[str, list[int]]) -> str:
    """One value for the whole corpus state (file names, sizes, modification times), in the
    order of the corpus walk (the same at build and check; another order only costs the
    detailed comparison)."""
    return hashlib.sha256(json.dumps(list(fingerprint.items())).encode("utf-8")).hexdigest()


def _read_manifest_at(index_dir: Path, generation: Path) -> dict[str, Any]:
    manifest = _read_json_object(generation / MANIFEST, "Manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"Index in {index_dir} hat Format {manifest.get('format_version')}, erwartet {FORMAT_VERSION}; "
            "bitte mit `assistant index` neu bauen.")
    return manifest


def load_index(index_dir: Path, doc_weight: float | None = None) -> IndexData:
    # Read CURRENT once: a build switching generations meanwhile must not mix two of them.
    generation = _require_generation(index_dir)
    manifest = _read_manifest_at(index_dir, generation)
    try:
        with np.load(generation / TABLES) as stored:
            tables = Tables({name: stored[name] for name in stored.files})
        doc_ids = json.loads((generation / DOC_IDS).read_text(encoding="utf-8"))
        if len(doc_ids) != tables.documents or tables.row_tok.shape[0] != tables.rows + 1:
            raise ValueError("Tabellen und Dokumentliste passen nicht zusammen")
        documents = DocumentStore(generation, tables, doc_ids)
        lexical = _load_lexical(generation, manifest, tables, doc_weight)
        dense = _load_dense(generation, manifest, tables) if manifest.get("dense") else None
    except (OSError, KeyError, ValueError, TypeError, IndexError, RuntimeError) as exc:
        raise IndexCorruptError(f"Index in {generation} ist unvollständig oder beschädigt: {exc}") from None
    return IndexData(generation, manifest, tables, documents, lexical, dense)


def _load_lexical(generation: Path, manifest: dict[str, Any], tables: Tables, doc_weight: float | None) -> LexicalIndex:
    analyzer = GermanAnalyzer.load(generation / VOCABULARY, decompound=bool(manifest.get("decompound", True)))
    terms = json.loads((generation / TERMS).read_text(encoding="utf-8"))
    segments = [Postings.load(generation / POSTINGS_BASE)]
    if (generation / POSTINGS_DELTA).is_dir():
        segments.append(Postings.load(generation / POSTINGS_DELTA))
    weight = float(manifest.get("doc_weight", 1.0)) if doc_weight is None else doc_weight
    return LexicalIndex(analyzer, terms, segments, np.diff(tables.row_tok), tables.row_doc, tables.live, weight)


def _load_dense(generation: Path, manifest: dict[str, Any], tables: Tables) -> DenseIndex:
    import faiss

    from .dense_index import load

    dim = int(manifest["dimension"])
    base_rows = int(manifest.get("dense_base_rows", 0))
    # Memory-mapped: an IVF search touches only the lists it probes; several processes share the pages.
    base = load(generation / DENSE_BASE, mmap=True) if base_rows else None
    if base is not None and (base.ntotal != base_rows or base.d != dim):
        raise ValueError(f"{DENSE_BASE} hat {base.ntotal} Vektoren der Dimension {base.d}, erwartet {base_rows}/{dim}")
    delta = None
    if tables.rows > base_rows:
        delta = faiss.IndexFlatIP(dim)
        delta.add(VectorFile(generation / VECTORS, dim).read(base_rows, tables.rows))
    nprobe = (manifest.get("dense_index") or {}).get("nprobe") or None
    return DenseIndex(base, base_rows, delta, tables.live, dim, nprobe)


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One build at a time per index folder (across processes)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class GenerationBuilder:
    """Writes the next generation into a staging folder; :meth:`commit` makes it current.

    With a ``previous`` generation (an update), its append-only files are hard-linked and
    extended, its tables copied: unchanged documents cost nothing but their table rows. Call
    under :func:`build_lock`."""

    def __init__(self, index_dir: Path, previous: IndexData | None, dim: int | None) -> None:
        index_dir.mkdir(parents=True, exist_ok=True)
        self.index_dir = index_dir
        self.previous = previous
        self.dim = dim
        self.number = _next_number(index_dir)
        self.staging = index_dir / f".tmp-gen-{self.number:06d}-{os.getpid()}"
        if self.staging.exists():
            shutil.rmtree(self.staging)
        self.staging.mkdir()
        t = previous.tables if previous is not None else Tables({})
        recorded = {TEXTS: int(t.doc_text[-1]), DOC_LINES: int(t.doc_line[-1]), TOKENS: int(t.row_tok[-1]) * 4,
                    VECTORS: t.rows * 4 * (dim or 0)}
        self._files: dict[str, Any] = {}
        for name in APPEND_ONLY:
            if name == VECTORS and not dim:
                continue
            target = self.staging / name
            if previous is not None and (previous.path / name).exists():
                os.link(previous.path / name, target)
                # Bytes past what the previous generation recorded are leftovers of a failed build.
                os.truncate(target, recorded[name])
            self._files[name] = open(target, "ab")
        self.columns: dict[str, array] = {}
        for name, values in t.arrays().items():
            column = array(_TYPECODE[name])
            column.frombytes(np.ascontiguousarray(values, dtype=_ARRAY_DTYPE[name]).tobytes())
            self.columns[name] = column
        self.doc_ids: list[str] = list(previous.documents.ids) if previous is not None else []
        self._texts: _Blob | None = None  # reads back what add_document wrote

    @property
    def rows(self) -> int:
        return len(self.columns["row_doc"])

    def add_document(self, doc: Document) -> int:
        """Store the document's text and metadata; its chunks follow with :meth:`add_rows`."""
        c = self.columns
        data = doc.to_json()
        del data["text"]
        self._files[TEXTS].write(doc.text.encode("utf-8"))
        self._files[DOC_LINES].write(json.dumps(data, ensure_ascii=False).encode("utf-8") + b"\n")
        c["doc_text"].append(self._files[TEXTS].tell())
        c["doc_line"].append(self._files[DOC_LINES].tell())
        number = len(self.doc_ids)
        self.doc_ids.append(doc.id)
        c["doc_first"].append(self.rows)
        c["doc_count"].append(0)
        c["doc_live"].append(1)
        for mention in doc.dates:
            c["date_doc"].append(number)
            c["date_start"].append(mention.start.toordinal())
            c["date_end"].append(mention.end.toordinal())
        return number

    def text_of(self, number: int) -> str:
        """The text of a document added by this builder."""
        self._files[TEXTS].flush()
        if self._texts is None:
            self._texts = _Blob(self.staging / TEXTS)
        return self._texts.read(self.columns["doc_text"][number], self.columns["doc_text"][number + 1]).decode("utf-8")

    def add_rows(self, number: int, spans: Sequence[tuple[int, int]], terms: Sequence[np.ndarray],
                 vectors: np.ndarray | None) -> None:
        """The chunks of document ``number`` (added last): character spans, term ids, vectors."""
        c = self.columns
        c["doc_first"][number] = self.rows
        c["doc_count"][number] = len(spans)
        tokens = self._files[TOKENS]
        for (start, end), ids in zip(spans, terms):
            c["row_doc"].append(number)
            c["row_start"].append(start)
            c["row_end"].append(end)
            c["live"].append(1)
            tokens.write(np.asarray(ids, dtype=np.int32).tobytes())
            c["row_tok"].append(c["row_tok"][-1] + len(ids))
        if self.dim:
            assert vectors is not None and vectors.shape == (len(spans), self.dim)
            self._files[VECTORS].write(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())

    def drop(self, number: int) -> None:
        """The document left or changed: its rows stop counting (they stay until a full build)."""
        c = self.columns
        c["doc_live"][number] = 0
        first = c["doc_first"][number]
        for row in range(first, first + c["doc_count"][number]):
            c["live"][row] = 0

    def tables(self) -> Tables:
        return Tables({name: np.frombuffer(column, dtype=_ARRAY_DTYPE[name]) if len(column) else
                       np.zeros(0, dtype=_ARRAY_DTYPE[name]) for name, column in self.columns.items()})

    def flush(self) -> None:
        for handle in self._files.values():
            handle.flush()

    def vector_file(self) -> VectorFile:
        assert self.dim
        self.flush()
        return VectorFile(self.staging / VECTORS, self.dim)

    def token_file(self) -> TokenFile:
        self.flush()
        return TokenFile(self.staging / TOKENS)

    def commit(self, manifest: dict[str, Any], terms: list[str], analyzer: GermanAnalyzer,
               postings_base: Postings | None, postings_delta: Postings | None, dense_base: Any | None) -> Path:
        """Write the remaining files and make this generation current. ``postings_base`` /
        ``dense_base`` None keep the previous generation's (hard-linked)."""
        for handle in self._files.values():
            handle.close()
        staging = self.staging
        np.savez(staging / TABLES, **self.tables().arrays())
        (staging / DOC_IDS).write_text(json.dumps(self.doc_ids, ensure_ascii=False), encoding="utf-8")
        (staging / TERMS).write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
        analyzer.save_vocabulary(staging / VOCABULARY)
        if postings_base is not None:
            postings_base.save(staging / POSTINGS_BASE)
        else:
            assert self.previous is not None
            _link_tree(self.previous.path / POSTINGS_BASE, staging / POSTINGS_BASE)
        if postings_delta is not None:
            postings_delta.save(staging / POSTINGS_DELTA)
        if self.dim and manifest.get("dense_base_rows"):
            if dense_base is not None:
                from .dense_index import save

                save(dense_base, staging / DENSE_BASE)
            else:
                assert self.previous is not None
                os.link(self.previous.path / DENSE_BASE, staging / DENSE_BASE)
        manifest = dict(manifest, format_version=FORMAT_VERSION, package_version=__version__,
                        created_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), dense=bool(self.dim))
        record = {"documents": manifest.pop("documents"), "fingerprint": manifest.pop("fingerprint")}
        manifest["document_count"] = len(record["documents"])
        manifest["corpus_digest"] = fingerprint_digest(record["fingerprint"])
        (staging / CORPUS_RECORD).write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        (staging / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
        _fsync_tree(staging)
        previous = current_generation(self.index_dir)
        final = self.index_dir / f"gen-{self.number:06d}"
        os.replace(staging, final)
        pointer_tmp = self.index_dir / f".{CURRENT}.tmp"
        with open(pointer_tmp, "w", encoding="utf-8") as handle:
            handle.write(final.name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(pointer_tmp, self.index_dir / CURRENT)
        _fsync_dir(self.index_dir)
        _remove_old(self.index_dir, keep={final.name, previous.name if previous else ""})
        return final

    def abort(self) -> None:
        for handle in self._files.values():
            handle.close()
        shutil.rmtree(self.staging, ignore_errors=True)


_ARRAY_DTYPE = {name: np.dtype(np.int8 if dtype is bool else dtype) for name, dtype in Tables.DTYPES.items()}
_TYPECODE = {name: {1: "b", 4: "i", 8: "q"}[dtype.itemsize] for name, dtype in _ARRAY_DTYPE.items()}


def _link_tree(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        os.link(path, target / path.name)


def _next_number(index_dir: Path) -> int:
    numbers = [int(p.name[4:]) for p in index_dir.glob("gen-*") if p.name[4:].isdigit()]
    return max(numbers, default=0) + 1


def _remove_old(index_dir: Path, keep: set[str]) -> None:
    """Drop generations other than the current and the previous one, and leftovers of crashes."""
    for path in index_dir.iterdir():
        if path.is_dir() and (path.name.startswith(".tmp-gen-") or
                              (path.name.startswith("gen-") and path.name not in keep)):
            shutil.rmtree(path, ignore_errors=True)


def _write_jsonl(path: Path, rows: Any) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False))
            handle.write("\n")


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    for path in [folder, *[p for p in folder.rglob("*") if p.is_dir()]]:
        _fsync_dir(path)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
