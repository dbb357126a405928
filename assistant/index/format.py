"""The index folder on disk: file names, the typed manifest and corpus record, the columns.

``index/CURRENT`` names the generation in use (``gen-000007``); a generation folder holds the
files named below. The manifest (small, read at every start) and the corpus record (one entry
per document, read by updates and by the detailed staleness check) are read and written only
here (:func:`read_manifest`, :meth:`Manifest.save`, ...).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypedDict

import numpy as np
import orjson

from ..errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from ..ingest.corpus import FileStats

# 4: typed manifest ("faiss" for "dense_index", "file_stats_digest" for "corpus_digest"),
# "file_stats" instead of "fingerprint" in the corpus record, no "faiss_index".
# 5: documents carry "url" and "published" (from sidecars), texts lose navigation and cookie
# lines at parsing (ingest/boilerplate.py): an older index is rebuilt, not mixed with new texts.
FORMAT_VERSION = 5
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
CORPUS_RECORD = "corpus.json"  # per-document hashes and titles, and the corpus file stats
DOC_IDS = "doc_ids.json"
TERMS = "terms.json"
VOCABULARY = "vocabulary.json"
FOLDERS = "folders.json"  # {folder: mtime_ns} of the corpus walk (a start's quick check, index/freshness.py)
# Search structures: the base parts cover the rows of the last full build or merge and are
# hard-linked while unchanged; the rows added since get small delta parts.
POSTINGS_BASE = "postings-base"
POSTINGS_DELTA = "postings-delta"
NGRAMS = "ngrams"  # the character n-gram lists (index/ngrams.py), when the manifest names a version
DENSE_BASE = "dense-base.faiss"
# Reposts (index/duplicates.py); a generation without them has no groups.
MINHASH = "minhash.npz"  # per document number: shingle count, date (read by builds)
# per document number its MinHash signature (uint32 rows): append-only, hard-linked by the next
# generation like the files of APPEND_ONLY (documents only get new numbers), so an update at 125k
# documents appends 512 bytes instead of rewriting 64 MB
MINHASH_SIG = "minhash.u32"
DUPLICATES = "duplicates.json"  # {"version", "groups": [[canonical id, copy id, ...], ...]}


class DocumentEntry(TypedDict):
    """What the corpus record keeps of each indexed document."""

    content_hash: str
    title: str
    chunks: int


class SkippedFile(TypedDict):
    """A corpus file the build left out, and why (German)."""

    path: str
    reason: str


@dataclass(frozen=True)
class FaissInfo:
    """The FAISS index chosen for the base rows (see :mod:`assistant.index.faiss_index`)."""

    kind: str  # "flat" | "ivf" | "ivf_sq8"
    nlist: int
    describe: str  # German one-liner: "exakt (IndexFlatIP)", "IVF1024,Flat (nprobe 4)"
    nprobe: int | None = None
    recall_at_10: float | None = None


@dataclass(frozen=True)
class Manifest:
    """What a generation was built from and with: read at every start, compared with the settings."""

    model: str | None
    dimension: int | None
    passage_prefix: str | None
    query_prefix: str | None
    chunk_size: int
    chunk_overlap: int
    decompound: bool
    analyzer_version: int
    doc_weight: float
    chunks: int  # live chunk rows
    rows: int  # all chunk rows, also those of changed or removed documents
    lexical_base_rows: int
    dense_base_rows: int
    corpus_path: str  # absolute, so a reader elsewhere can tell whether it is the same folder
    file_stats_digest: str  # :func:`~assistant.ingest.corpus.stats_digest` of the corpus record's file_stats
    scanned_at_ns: int  # when the corpus walk began (files modified later are hashed again)
    document_count: int
    faiss: FaissInfo | None = None
    ngrams: int | None = None  # the n-gram lists' version (index/ngrams.py), None: none built
    skipped: tuple[SkippedFile, ...] = ()
    format_version: int = FORMAT_VERSION
    package_version: str = ""
    created_at: str = ""

    @property
    def dense(self) -> bool:
        """Whether the generation holds vectors."""
        return self.dimension is not None

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["skipped"] = list(self.skipped)
        data["dense"] = self.dense
        return data

    def save(self, generation: Path) -> None:
        write_json(generation / MANIFEST, self.to_json())

    @classmethod
    def from_json(cls, data: dict[str, Any], where: Path) -> Manifest:
        if data.get("format_version") != FORMAT_VERSION:
            raise IndexMismatchError(
                f"Index in {where} hat Format {data.get('format_version')}, erwartet {FORMAT_VERSION}; "
                "`assistant index` baut ihn neu."
            )
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        try:
            faiss = values.get("faiss")
            values["faiss"] = FaissInfo(**faiss) if faiss else None
            values["skipped"] = tuple(values.get("skipped", ()))
            return cls(**values)
        except TypeError as exc:
            raise IndexCorruptError(f"Manifest in {where} ist unvollständig: {exc}") from None


@dataclass(frozen=True)
class CorpusRecord:
    """Per-document entries and the corpus file stats; kept apart from the manifest, which every
    start reads (at 125k documents this record is 20 MB)."""

    documents: dict[str, DocumentEntry] = field(default_factory=dict)
    file_stats: FileStats = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"documents": self.documents, "file_stats": self.file_stats}

    def save(self, generation: Path) -> None:
        write_json(generation / CORPUS_RECORD, self.to_json())

    @classmethod
    def from_json(cls, data: dict[str, Any], where: Path) -> CorpusRecord:
        documents, stats = data.get("documents"), data.get("file_stats")
        if not isinstance(documents, dict) or not isinstance(stats, dict):
            raise IndexCorruptError(f"{CORPUS_RECORD} in {where} ist beschädigt")
        return cls(documents, stats)


def current_generation(index_dir: Path) -> Path | None:
    """The generation folder ``CURRENT`` names, or None when there is no index."""
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    path = index_dir / name
    return path if name and path.is_dir() else None


def require_generation(index_dir: Path) -> Path:
    generation = current_generation(index_dir)
    if generation is None:
        raise IndexNotFoundError(f"Kein Index in {index_dir}. Zuerst `assistant index --index {index_dir}` ausführen.")
    return generation


def read_manifest(index_dir: Path, generation: Path | None = None) -> Manifest:
    """The manifest of the current generation (or of ``generation``)."""
    generation = generation or require_generation(index_dir)
    return Manifest.from_json(_read_json_object(generation / MANIFEST, "Manifest"), index_dir)


def read_corpus_record(generation: Path) -> CorpusRecord:
    return CorpusRecord.from_json(_read_json_object(generation / CORPUS_RECORD, CORPUS_RECORD), generation)


def write_json(path: Path, data: Any) -> None:
    """Compact JSON, UTF-8. orjson, not the json module: the corpus record of 125k documents
    (36 MB) is written in 0.07 s instead of 0.45 s and read in 0.25 s instead of 0.51 s, and an
    update writes and reads it once each."""
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS))


def read_json(path: Path) -> Any:
    """What :func:`write_json` wrote (raises OSError, or ValueError for bytes that are no JSON)."""
    return orjson.loads(path.read_bytes())


def _read_json_object(path: Path, what: str) -> dict[str, Any]:
    try:
        data = read_json(path)
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"{what} in {path.parent} nicht lesbar: {exc}") from None
    if not isinstance(data, dict):
        raise IndexCorruptError(f"{what} in {path.parent} ist beschädigt (kein JSON-Objekt)")
    return data


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
    DTYPES: ClassVar[dict[str, Any]] = {
        "row_doc": np.int32,
        "row_start": np.int32,
        "row_end": np.int32,
        "live": bool,
        "doc_first": np.int64,
        "doc_count": np.int32,
        "doc_live": bool,
        "date_doc": np.int32,
        "date_start": np.int32,
        "date_end": np.int32,
        "row_tok": np.int64,
        "doc_text": np.int64,
        "doc_line": np.int64,
    }

    row_doc: np.ndarray
    row_start: np.ndarray
    row_end: np.ndarray
    live: np.ndarray
    doc_first: np.ndarray
    doc_count: np.ndarray
    doc_live: np.ndarray
    date_doc: np.ndarray
    date_start: np.ndarray
    date_end: np.ndarray
    row_tok: np.ndarray
    doc_text: np.ndarray
    doc_line: np.ndarray

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

    @classmethod
    def load(cls, generation: Path) -> Tables:
        with np.load(generation / TABLES) as stored:
            return cls({name: stored[name] for name in stored.files})

    def save(self, generation: Path) -> None:
        arrays: dict[str, Any] = self.arrays()
        np.savez(generation / TABLES, **arrays)
