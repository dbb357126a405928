"""The index folder: generations written completely, then switched to atomically.

``index/CURRENT`` names the generation in use (``gen-000007``). A build writes a new generation
folder, syncs it, and replaces ``CURRENT`` with ``os.replace``; a crash at any moment leaves
either the old or the new generation in use, never a half-written one.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from . import __version__
from .errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from .lexical import LexicalIndex, TokenTable
from .types import Chunk, Document

FORMAT_VERSION = 2
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
DOCUMENTS = "documents.jsonl"
CHUNKS = "chunks.jsonl"
TOKENS = "tokens"
LEXICAL = "lexical"
DENSE = "dense.faiss"


@dataclass
class IndexData:
    """A loaded index generation."""

    path: Path
    manifest: dict[str, Any]
    documents: dict[str, Document]
    chunks: list[Chunk]
    lexical: LexicalIndex
    dense: Any | None = None  # faiss.IndexIDMap2 with chunk vids as ids
    row_of_vid: dict[int, int] = field(default_factory=dict)
    doc_rows: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.row_of_vid = {c.vid: i for i, c in enumerate(self.chunks)}
        rows: dict[str, list[int]] = {}
        for i, chunk in enumerate(self.chunks):
            rows.setdefault(chunk.doc_id, []).append(i)
        self.doc_rows = {d: np.asarray(r, dtype=np.int64) for d, r in rows.items()}
        self.vids = np.asarray([c.vid for c in self.chunks], dtype=np.int64)

    @property
    def has_dense(self) -> bool:
        return self.dense is not None

    def load_tokens(self) -> TokenTable:
        return TokenTable.load(self.path / TOKENS)


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
    return _read_manifest_at(index_dir, _require_generation(index_dir))


def _read_manifest_at(index_dir: Path, generation: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((generation / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(f"Manifest in {generation} nicht lesbar: {exc}") from None
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"Manifest in {generation} ist beschädigt (kein JSON-Objekt)")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"Index in {index_dir} hat Format {manifest.get('format_version')}, erwartet {FORMAT_VERSION}; "
            "bitte mit `assistant index` neu bauen.")
    return manifest


def load_index(index_dir: Path) -> IndexData:
    # Read CURRENT once: a build switching generations meanwhile must not mix two of them.
    generation = _require_generation(index_dir)
    manifest = _read_manifest_at(index_dir, generation)
    try:
        documents: dict[str, Document] = {}
        with open(generation / DOCUMENTS, encoding="utf-8") as handle:
            for line in handle:
                doc = Document.from_json(json.loads(line))
                documents[doc.id] = doc
        chunks: list[Chunk] = []
        with open(generation / CHUNKS, encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                text = documents[row["doc_id"]].text[row["start"]:row["end"]]
                chunks.append(Chunk(row["id"], row["vid"], row["doc_id"], text, row["start"], row["end"]))
        lexical = LexicalIndex.load(generation / LEXICAL)
        dense = None
        if manifest.get("dense"):
            import faiss

            dense = faiss.read_index(str(generation / DENSE))
    except (OSError, KeyError, ValueError, TypeError, IndexError, RuntimeError) as exc:
        raise IndexCorruptError(f"Index in {generation} ist unvollständig oder beschädigt: {exc}") from None
    if lexical.size != len(chunks) or (dense is not None and dense.ntotal != len(chunks)):
        raise IndexCorruptError(f"Index in {generation}: Teile passen nicht zusammen (Anzahl der Abschnitte)")
    return IndexData(generation, manifest, documents, chunks, lexical, dense)


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


def write_generation(
    index_dir: Path,
    manifest: dict[str, Any],
    documents: list[Document],
    chunks: list[Chunk],
    tokens: TokenTable,
    lexical: LexicalIndex,
    dense: Any | None,
) -> Path:
    """Write a complete generation and make it current. Call under :func:`build_lock`."""
    index_dir.mkdir(parents=True, exist_ok=True)
    previous = current_generation(index_dir)
    number = _next_number(index_dir)
    final = index_dir / f"gen-{number:06d}"
    staging = index_dir / f".tmp-gen-{number:06d}-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    manifest = dict(manifest, format_version=FORMAT_VERSION, package_version=__version__,
                    created_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), dense=dense is not None)
    _write_jsonl(staging / DOCUMENTS, (d.to_json() for d in documents))
    _write_jsonl(staging / CHUNKS, (
        {"id": c.id, "vid": c.vid, "doc_id": c.doc_id, "start": c.start, "end": c.end} for c in chunks))
    tokens.save(staging / TOKENS)
    lexical.save(staging / LEXICAL)
    if dense is not None:
        import faiss

        faiss.write_index(dense, str(staging / DENSE))
    (staging / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    _fsync_tree(staging)
    os.replace(staging, final)
    pointer_tmp = index_dir / f".{CURRENT}.tmp"
    with open(pointer_tmp, "w", encoding="utf-8") as handle:
        handle.write(final.name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pointer_tmp, index_dir / CURRENT)
    _fsync_dir(index_dir)
    _remove_old(index_dir, keep={final.name, previous.name if previous else ""})
    return final


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
