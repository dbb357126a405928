"""The corpus folder: which files it holds, their sizes, times and content hashes.

The walk (:mod:`.walk`) runs at every start (is the index stale?) and update; a file whose size
and time are unchanged keeps its hash unread.

A file may have a sidecar beside it, ``<file>.meta.json`` (the page it was fetched from, written
by ``assistant crawl``; read by :mod:`.sidecar`). It is no document of its own: its size and
time join the file's stats and its content the file's hash, so a changed sidecar alone updates
that document.
"""

from __future__ import annotations

import errno
import gc
import hashlib
import os
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import CorpusError
from .walk import MAX_SIDECAR_BYTES, SIDECAR_SUFFIX, FileStats, walk_corpus


@dataclass(frozen=True)
class Skipped:
    """A corpus file that was not indexed, and why (German, for the summary)."""

    path: str
    reason: str


@dataclass(frozen=True)
class KnownFiles:
    """What the last scan found: :data:`FileStats` and the content hash of each document
    (``documents[doc id]["content_hash"]``, the corpus record's entries). A file whose stats
    still match keeps its hash unread (as git and rsync do), unless it was modified at or after
    ``racy_ns`` (around the last scan: it may have changed again within the same clock tick)."""

    stats: FileStats
    documents: Mapping[str, Mapping[str, Any]]
    racy_ns: int


@dataclass(slots=True)
class CorpusFile:
    """A file found in the corpus: its id (relative path), location and raw content hash.

    The locations are kept as given (the scan passes strings) and the class has slots, not
    frozen fields: making a frozen one with a ``Path`` for each of 125k unchanged files cost an
    update at 1M chunks about a second; :attr:`path` makes the ``Path`` when a file is read."""

    doc_id: str
    location: str | Path
    content_hash: str
    size: int
    mtime_ns: int = 0
    sidecar_location: str | Path | None = None  # <file>.meta.json, a regular file of at most MAX_SIDECAR_BYTES
    sidecar_size: int = 0
    sidecar_mtime_ns: int = 0

    @property
    def path(self) -> Path:
        return Path(self.location)

    @property
    def sidecar(self) -> Path | None:
        return Path(self.sidecar_location) if self.sidecar_location is not None else None

    @property
    def stats(self) -> list[int]:
        """The file's entry in :data:`FileStats`."""
        own = [self.size, self.mtime_ns]
        return own + [self.sidecar_size, self.sidecar_mtime_ns] if self.sidecar_location is not None else own


@contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic garbage collection inside: for steps that make hundreds of thousands of
    objects and no reference cycles (the walk, reading the corpus record), where the collector's
    passes over them find nothing. At 125k files: the scan 0.73 s -> 0.60 s, loading the
    previous generation 0.31 s -> 0.22 s (benchmarks/update_at_scale.py's corpus)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def scan_corpus(
    corpus_dir: Path,
    max_file_bytes: int,
    known: KnownFiles | None = None,
    stats: FileStats | None = None,
    folders: dict[str, int] | None = None,
) -> tuple[list[CorpusFile], list[Skipped]]:
    """List the corpus files with their content hashes, without parsing them.

    Hidden files and folders are ignored; symlinks that leave the corpus, unsupported formats
    and files over ``max_file_bytes`` are returned as skipped. ``known``: the last scan's
    stats and hashes; a file whose stats (size and time, with its sidecar's) are unchanged keeps
    its hash unread. The hash of a file with a sidecar covers both.
    ``stats``, when given, receives what :func:`file_stats` returns (same walk), ``folders``
    the modification time of each folder walked (see :func:`folders_unchanged`).
    """
    if not corpus_dir.is_dir():
        raise CorpusError(f"Korpus-Ordner {corpus_dir} existiert nicht oder ist kein Ordner")
    with collector_paused():
        return _scan(corpus_dir, max_file_bytes, known, stats, folders)


def _scan(
    corpus_dir: Path,
    max_file_bytes: int,
    known: KnownFiles | None,
    stats: FileStats | None,
    folders: dict[str, int] | None,
) -> tuple[list[CorpusFile], list[Skipped]]:
    files: list[CorpusFile] = []
    skipped: list[Skipped] = []
    # Inlined lookups, no call a file: this loop runs for every file of every update (125k files:
    # 0.26 s for a lookup function's calls alone, benchmarks/update_at_scale.py).
    nothing: dict[str, Any] = {}
    recorded = (known.stats if known is not None else nothing).get
    hashes = (known.documents if known is not None else nothing).get
    racy = known.racy_ns if known is not None else 0
    for rel, full, found, meta, file_stats in walk_corpus(corpus_dir.resolve(), max_file_bytes, stats, folders):
        if isinstance(found, str) or file_stats is None:
            skipped.append(Skipped(rel, str(found)))
            continue
        size, mtime = file_stats[0], file_stats[1]
        seen = recorded(rel)
        # [size, mtime_ns] or [size, mtime_ns, sidecar size, sidecar mtime_ns], ints (JSON)
        if seen == file_stats and mtime < racy and (meta is None or file_stats[3] < racy):
            entry = hashes(rel)
            if entry is not None:
                files.append(_found(rel, full, entry["content_hash"], size, mtime, meta))
                continue
        try:
            digest = _hash_file(Path(full))
        except OSError as exc:
            skipped.append(Skipped(rel, f"nicht lesbar: {exc.strerror or exc}"))
            continue
        if meta is not None:
            try:
                meta_digest = hashlib.sha256(read_sidecar_bytes(Path(full + SIDECAR_SUFFIX))).hexdigest()
                digest = hashlib.sha256(f"{digest}:{meta_digest}".encode()).hexdigest()
            except OSError:  # gone since the walk: the document is read without it
                meta = None
                if stats is not None:
                    stats[rel] = [size, mtime]
        files.append(_found(rel, full, digest, size, mtime, meta))
    return files, skipped


def _found(rel: str, full: str, digest: str, size: int, mtime: int, meta: os.stat_result | None) -> CorpusFile:
    if meta is None:
        return CorpusFile(rel, full, digest, size, mtime)
    return CorpusFile(rel, full, digest, size, mtime, full + SIDECAR_SUFFIX, meta.st_size, meta.st_mtime_ns)


def file_stats(corpus_dir: Path, max_file_bytes: int | None = None) -> FileStats:
    """``{doc id: [size, mtime_ns]}`` of the files :func:`scan_corpus` accepts (with the same
    ``max_file_bytes``), without reading them: a cheap way to tell whether the corpus changed
    since the index was built. Without ``max_file_bytes`` the size limit is not applied."""
    found = walk_corpus(corpus_dir.resolve(), max_file_bytes)
    return {rel: entry_stats for rel, _path, _found, _meta, entry_stats in found if entry_stats is not None}


def folders_unchanged(corpus_dir: Path, folders: dict[str, int], before_ns: int) -> bool:
    """Whether every folder a scan walked still has the modification time it had then (and had
    it since before ``before_ns``: a folder changed within a second of the scan may have changed
    again within the same clock tick). A file added, removed or renamed (editors and the crawler
    save by renaming) changes its folder's time; a file rewritten in place does not, so this is
    only the quick check of a start over a large corpus (index/freshness.py), never of a build."""
    root = corpus_dir.resolve()
    for rel, mtime in folders.items():
        if mtime >= before_ns:
            return False
        try:
            if os.stat(root / rel).st_mtime_ns != mtime:
                return False
        except OSError:
            return False
    return bool(folders)


def stats_digest(stats: FileStats) -> str:
    """One value for the whole corpus state (file names, sizes, modification times), in the
    order of the corpus walk (the same at build and check; another order only costs the
    detailed comparison)."""
    # orjson of the dict itself: 0.01 s at 125k files (0.04 s for a list of its items, 0.18 s
    # with the json module), at every update and every start that walks the files
    return hashlib.sha256(orjson.dumps(stats)).hexdigest()


def read_sidecar_bytes(path: Path) -> bytes:
    """A sidecar's bytes, at most :data:`MAX_SIDECAR_BYTES` (+1, to tell that it is larger). It
    is opened without following a link and without blocking, so a sidecar replaced by a pipe
    or a link since the walk cannot hang or lead the build out of the corpus (``OSError``)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    handle = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise OSError(errno.EINVAL, "keine gewöhnliche Datei")
        with os.fdopen(handle, "rb") as opened:
            handle = -1
            return opened.read(MAX_SIDECAR_BYTES + 1)
    finally:
        if handle >= 0:
            os.close(handle)


def _hash_file(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()
