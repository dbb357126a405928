"""Writing a generation: everything into a staging folder, synced, then switched to atomically.

A build writes a new generation folder, syncs it, and replaces ``CURRENT`` with ``os.replace``;
a crash at any moment leaves either the old or the new generation in use, never a half-written
one. A build that fails (a full disk) also cuts the bytes it appended to the append-only files it
shares with the previous generation, so those are as they were before it began.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import json
import logging
import os
import shutil
import time
from array import array
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from .. import __version__
from ..errors import IndexWriteError
from ..text.german import GermanAnalyzer
from ..types import Document
from . import faiss_index
from .blobs import Blob, TokenFile, VectorFile
from .bm25 import Postings
from .format import (
    APPEND_ONLY,
    CURRENT,
    DENSE_BASE,
    DOC_IDS,
    DOC_LINES,
    FOLDERS,
    POSTINGS_BASE,
    POSTINGS_DELTA,
    TERMS,
    TEXTS,
    TOKENS,
    VECTORS,
    VOCABULARY,
    CorpusRecord,
    Manifest,
    Tables,
    current_generation,
    write_json,
)
from .reader import IndexData

log = logging.getLogger(__name__)


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
        self._files: dict[str, IO[bytes]] = {}
        # The previous generation's append-only files this one extends (hard links: the same
        # inodes), and the length the previous generation needs of each: :meth:`abort` cuts them
        # back to it.
        self._shared: dict[str, int] = {}
        self._texts: Blob | None = None  # reads back what add_document wrote
        self._final: Path | None = None
        self._switched = False
        try:
            self._start()
        except BaseException:
            self.abort()
            raise

    def _start(self) -> None:
        previous, dim = self.previous, self.dim
        if self.staging.exists():
            shutil.rmtree(self.staging)
        self.staging.mkdir()
        t = previous.tables if previous is not None else Tables({})
        recorded = {
            TEXTS: int(t.doc_text[-1]),
            DOC_LINES: int(t.doc_line[-1]),
            TOKENS: int(t.row_tok[-1]) * 4,
            VECTORS: t.rows * 4 * (dim or 0),
        }
        for name in APPEND_ONLY:
            if name == VECTORS and not dim:
                continue
            target = self.staging / name
            if previous is not None and (previous.path / name).exists():
                os.link(previous.path / name, target)
                self._shared[name] = recorded[name]
                # Bytes past what the previous generation recorded are leftovers of a failed build.
                os.truncate(target, recorded[name])
            self._files[name] = open(target, "ab")  # noqa: SIM115 (open until commit or abort)
        self.columns: dict[str, array] = {}
        for name, values in t.arrays().items():
            column = array(_TYPECODE[name])
            column.frombytes(np.ascontiguousarray(values, dtype=_ARRAY_DTYPE[name]).tobytes())
            self.columns[name] = column
        self.doc_ids: list[str] = list(previous.documents.ids) if previous is not None else []

    def append_to_shared(self, name: str, length: int, data: bytes) -> bool:
        """Extend the previous generation's append-only file ``name`` (a hard link, cut to the
        ``length`` bytes the previous generation uses) by ``data``, as the files of
        :data:`APPEND_ONLY` are; :meth:`abort` cuts it back. False (nothing done) when the
        previous generation has no such file or a shorter one: write it whole then."""
        source = self.previous.path / name if self.previous is not None else None
        if source is None or not source.is_file() or source.stat().st_size < length:
            return False
        target = self.staging / name
        os.link(source, target)
        self._shared[name] = length
        os.truncate(target, length)
        with open(target, "ab") as handle:
            handle.write(data)
        return True

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
        for mention in (doc.published, *doc.dates) if doc.published else doc.dates:  # for the date filters
            c["date_doc"].append(number)
            c["date_start"].append(mention.start.toordinal())
            c["date_end"].append(mention.end.toordinal())
        return number

    def text_of(self, number: int) -> str:
        """The text of a document added by this builder."""
        self._files[TEXTS].flush()
        if self._texts is None:
            self._texts = Blob(self.staging / TEXTS)
        return self._texts.read(self.columns["doc_text"][number], self.columns["doc_text"][number + 1]).decode("utf-8")

    def add_rows(
        self, number: int, spans: Sequence[tuple[int, int]], terms: Sequence[np.ndarray], vectors: np.ndarray | None
    ) -> None:
        """The chunks of document ``number`` (added last): character spans, term ids, vectors."""
        c = self.columns
        c["doc_first"][number] = self.rows
        c["doc_count"][number] = len(spans)
        tokens = self._files[TOKENS]
        for (start, end), ids in zip(spans, terms, strict=False):
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
        return Tables(
            {
                name: np.frombuffer(column, dtype=_ARRAY_DTYPE[name])
                if len(column)
                else np.zeros(0, dtype=_ARRAY_DTYPE[name])
                for name, column in self.columns.items()
            }
        )

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

    def commit(
        self,
        manifest: Manifest,
        record: CorpusRecord,
        terms: list[str],
        analyzer: GermanAnalyzer,
        postings_base: Postings | None,
        postings_delta: Postings | None,
        dense_base: Any | None,
        folder_times: dict[str, int] | None = None,
    ) -> Path:
        """Write the remaining files and make this generation current. ``postings_base`` /
        ``dense_base`` None keep the previous generation's (hard-linked); ``folder_times``: the
        corpus walk's folders (:data:`FOLDERS`)."""
        self._close_files()
        staging = self.staging
        self.tables().save(staging)
        write_json(staging / DOC_IDS, self.doc_ids)
        write_json(staging / TERMS, terms)
        if folder_times is not None:
            write_json(staging / FOLDERS, folder_times)
        analyzer.save_vocabulary(staging / VOCABULARY)
        if postings_base is not None:
            postings_base.save(staging / POSTINGS_BASE)
        else:
            assert self.previous is not None
            _link_tree(self.previous.path / POSTINGS_BASE, staging / POSTINGS_BASE)
        if postings_delta is not None:
            postings_delta.save(staging / POSTINGS_DELTA)
        if self.dim and manifest.dense_base_rows:
            if dense_base is not None:
                faiss_index.save(dense_base, staging / DENSE_BASE)
            else:
                assert self.previous is not None
                os.link(self.previous.path / DENSE_BASE, staging / DENSE_BASE)
        manifest = dataclasses.replace(
            manifest, package_version=__version__, created_at=time.strftime("%Y-%m-%dT%H:%M:%S%z")
        )
        record.save(staging)
        manifest.save(staging)
        _fsync_tree(staging)
        previous = current_generation(self.index_dir)
        final = self._final = self.index_dir / f"gen-{self.number:06d}"
        os.replace(staging, final)
        pointer_tmp = self.index_dir / f".{CURRENT}.tmp"
        with open(pointer_tmp, "w", encoding="utf-8") as pointer:
            pointer.write(final.name + "\n")
            pointer.flush()
            os.fsync(pointer.fileno())
        os.replace(pointer_tmp, self.index_dir / CURRENT)
        self._switched = True
        # The new generation is in use: what follows only tidies up, and must not fail the build.
        try:
            _fsync_dir(self.index_dir)
            _remove_old(self.index_dir, keep={final.name, previous.name if previous else ""})
        except OSError as exc:
            log.warning("Aufräumen nach dem Index-Bau in %s unvollständig: %s", self.index_dir, exc)
        return final

    def abort(self) -> None:
        """Undo the build: remove what it wrote, and cut the shared append-only files back to the
        length the previous generation recorded (byte for byte as before). After the switch to the
        new generation there is nothing to undo."""
        try:
            self._close_files()
        except OSError:
            pass  # a full disk cannot take the buffered rest; the files are closed all the same
        if self._switched:
            return
        for name, length in self._shared.items():
            assert self.previous is not None
            try:
                os.truncate(self.previous.path / name, length)
            except OSError as exc:
                log.warning("%s: angehängte Bytes nicht entfernt (%s); der nächste Bau entfernt sie.", name, exc)
        for folder in (self.staging, self._final):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        (self.index_dir / f".{CURRENT}.tmp").unlink(missing_ok=True)

    def _close_files(self) -> None:
        """Close the appended files (each one even when another fails to flush) and the reader."""
        if self._texts is not None:
            self._texts.close()
            self._texts = None
        failure: OSError | None = None
        for handle in self._files.values():
            try:
                handle.close()
            except OSError as exc:
                failure = failure or exc
        if failure is not None:
            raise failure


# Errors that mean the disk (or the user's quota) is full, and the free space below which an
# error without an errno (numpy reports "10696 requested and 6640 written") means the same.
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_LOW_SPACE = 1 << 20
_REASONS = {
    errno.EACCES: "keine Schreibberechtigung",
    errno.EPERM: "keine Schreibberechtigung",
    errno.EROFS: "der Datenträger ist schreibgeschützt",
    errno.EIO: "Ein-/Ausgabefehler des Datenträgers",
}


def write_failure(index_dir: Path, exc: BaseException) -> IndexWriteError | None:
    """The German error for a build that failed on the file system (``exc``), or None when
    ``exc`` is something else. Call it before the build is undone: a full disk is recognised
    also by its free space, which undoing gives back."""
    if not isinstance(exc, OSError | RuntimeError):  # RuntimeError: faiss's writes
        return None
    try:
        free = shutil.disk_usage(index_dir).free
    except OSError:
        free = _LOW_SPACE
    full = getattr(exc, "errno", None) in _FULL or free < _LOW_SPACE
    if not full and not isinstance(exc, OSError):
        return None
    kept = (
        "Der bisherige Index bleibt unverändert in Gebrauch."
        if current_generation(index_dir) is not None
        else "Es wurde kein Index angelegt."
    )
    if full:
        return IndexWriteError(
            f"Kein Speicherplatz mehr frei auf dem Datenträger von {index_dir}: der neue Index konnte "
            f"nicht geschrieben werden. {kept} Bitte Platz schaffen und `assistant index` erneut ausführen."
        )
    assert isinstance(exc, OSError)
    reason = _REASONS.get(exc.errno or 0) or exc.strerror or str(exc)
    where = f" ({exc.filename})" if exc.filename else ""
    return IndexWriteError(f"Der Index in {index_dir} konnte nicht aktualisiert werden: {reason}{where}. {kept}")


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
        if path.is_dir() and (
            path.name.startswith(".tmp-gen-") or (path.name.startswith("gen-") and path.name not in keep)
        ):
            shutil.rmtree(path, ignore_errors=True)


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
