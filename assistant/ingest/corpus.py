"""The corpus folder: which files it holds, their sizes, times and content hashes.

The walk runs at every start (is the index stale?) and update, so it uses ``os.scandir`` and
plain strings, one ``stat`` per file. Symlinks that leave the corpus or form a loop, pipes,
hidden files, unsupported formats and oversized files are reported as skipped with a German
reason.

A file may have a sidecar beside it, ``<file>.meta.json`` (the page it was fetched from, written
by ``assistant crawl``; read by :mod:`.sidecar`). It is no document of its own: its size and
time join the file's stats and its content the file's hash, so a changed sidecar alone updates
that document.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from ..errors import CorpusError

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx", ".odt", ".pptx", ".xlsx", ".csv")
SIDECAR_SUFFIX = ".meta.json"
MAX_SIDECAR_BYTES = 1 << 20
# {doc id: [size, mtime_ns]} of every supported regular file, [size, mtime_ns, sidecar size,
# sidecar mtime_ns] for one with a sidecar: the corpus state an index was built from.
FileStats = dict[str, list[int]]


@dataclass(frozen=True)
class Skipped:
    """A corpus file that was not indexed, and why (German, for the summary)."""

    path: str
    reason: str


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


def scan_corpus(
    corpus_dir: Path,
    max_file_bytes: int,
    known: Callable[[str], tuple[list[int], str] | None] | None = None,
    stats: FileStats | None = None,
    folders: dict[str, int] | None = None,
) -> tuple[list[CorpusFile], list[Skipped]]:
    """List the corpus files with their content hashes, without parsing them.

    Hidden files and folders are ignored; symlinks that leave the corpus, unsupported formats
    and files over ``max_file_bytes`` are returned as skipped. ``known`` gives for a doc id
    ``(stats, content hash)`` of the last scan, or None: a file whose stats (size and time, with its sidecar's) are
    unchanged keeps that hash unread. The hash of a file with a sidecar covers both.
    ``stats``, when given, receives what :func:`file_stats` returns (same walk), ``folders``
    the modification time of each folder walked (see :func:`folders_unchanged`).
    """
    if not corpus_dir.is_dir():
        raise CorpusError(f"Korpus-Ordner {corpus_dir} existiert nicht oder ist kein Ordner")
    files: list[CorpusFile] = []
    skipped: list[Skipped] = []
    for rel, full, found, meta in _walk_corpus(corpus_dir.resolve(), max_file_bytes, stats, folders):
        if isinstance(found, str):
            skipped.append(Skipped(rel, found))
            continue
        size, mtime = found.st_size, found.st_mtime_ns
        file_stats = [size, mtime] if meta is None else [size, mtime, meta.st_size, meta.st_mtime_ns]
        seen = known(rel) if known is not None else None
        if seen is not None and seen[0] == file_stats:
            files.append(_found(rel, full, seen[1], size, mtime, meta))
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
    result: dict[str, list[int]] = {}
    for rel, _path, found, meta in _walk_corpus(corpus_dir.resolve(), max_file_bytes):
        if not isinstance(found, str):
            result[rel] = [found.st_size, found.st_mtime_ns] + ([meta.st_size, meta.st_mtime_ns] if meta else [])
    return result


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
    # orjson: 0.02 s instead of 0.18 s at 125k files, at every start and update
    return hashlib.sha256(orjson.dumps(list(stats.items()))).hexdigest()


Found = Iterator[tuple[str, str, os.stat_result | str, os.stat_result | None]]


def _walk_corpus(
    root: Path, max_file_bytes: int | None, stats: FileStats | None = None, folders: dict[str, int] | None = None
) -> Found:
    """``(doc id, path, stat, sidecar stat or None)`` for each acceptable corpus file and
    ``(doc id, path, reason, None)`` for each one to skip (also for a sidecar that cannot be
    used), folder by folder in name order. Hidden files and folders are left out. ``os.scandir``
    and plain strings, one ``stat`` per file: this runs over every file at every start
    (staleness check) and update. ``stats`` receives size and time of every supported regular
    file (and its sidecar), also of too large ones."""
    yield from _walk_folder(root, str(root), "", max_file_bytes, stats, folders)


def _walk_folder(
    root: Path,
    folder: str,
    prefix: str,
    max_file_bytes: int | None,
    stats: FileStats | None,
    folder_times: dict[str, int] | None,
) -> Found:
    try:
        if folder_times is not None:  # before the listing: an entry added during the walk changes it later
            folder_times[prefix] = os.stat(folder).st_mtime_ns
        with os.scandir(folder) as found:
            entries = sorted((e for e in found if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError:
        return  # as os.walk: a folder that cannot be listed is left out
    folders = []
    folder_names = set()
    for entry in entries:
        try:
            is_folder = entry.is_dir()  # follows links, as os.walk does
        except OSError:
            is_folder = False
        if not is_folder:
            continue
        folder_names.add(entry.name)
        if entry.is_symlink():
            yield (
                _shown(prefix + entry.name),
                entry.path,
                "symbolischer Link auf einen Ordner wird nicht verfolgt",
                None,
            )
        else:
            folders.append(entry)
    files = {e.name: e for e in entries if e.name not in folder_names}
    for name, entry in files.items():
        full = entry.path
        rel = prefix + name
        if not rel.isascii() and _shown(rel) != rel:
            # Bytes that are no UTF-8 come back as lone surrogates, which the index files
            # (UTF-8 JSON) cannot hold: one such name would fail the whole build.
            yield _shown(rel), full, "Dateiname ist kein gültiges UTF-8 (bitte umbenennen)", None
            continue
        if name.endswith(SIDECAR_SUFFIX) and len(name) > len(SIDECAR_SUFFIX):
            base = name[: -len(SIDECAR_SUFFIX)]
            if base not in files or _suffix(base) not in SUPPORTED_SUFFIXES:
                yield rel, full, f"Metadaten-Datei ohne indexierbares Dokument {base} daneben", None
            continue  # else read with its document
        if entry.is_symlink():
            problem = _link_problem(full, root)
            if problem is not None:
                yield rel, full, problem, None
                continue
        dot = name.rfind(".")  # as _suffix, inlined: this line runs for every file at every update
        suffix = name[dot:].lower() if dot > 0 else ""
        if suffix not in SUPPORTED_SUFFIXES:
            yield rel, full, f"Format {suffix or '(ohne Endung)'} wird nicht unterstützt", None
            continue
        try:
            info = entry.stat()
        except OSError as exc:
            yield rel, full, f"nicht lesbar: {exc.strerror or exc}", None
            continue
        if not stat.S_ISREG(info.st_mode):
            # Opening a named pipe would block the whole scan.
            yield rel, full, "keine gewöhnliche Datei (z. B. Pipe oder Gerät)", None
            continue
        meta = None
        if name + SIDECAR_SUFFIX in files:
            meta, problem = _sidecar_stat(files[name + SIDECAR_SUFFIX])
            if problem is not None:
                yield rel + SIDECAR_SUFFIX, full + SIDECAR_SUFFIX, problem, None
        size = info.st_size
        if stats is not None:
            stats[rel] = (
                [size, info.st_mtime_ns] if meta is None else [size, info.st_mtime_ns, meta.st_size, meta.st_mtime_ns]
            )
        if max_file_bytes is not None and size > max_file_bytes:
            message = f"Datei zu groß ({size / 1e6:.1f} MB, Grenze {max_file_bytes / 1e6:.1f} MB)"
            yield rel, full, message, None
            continue
        yield rel, full, info, meta
    for entry in folders:
        yield from _walk_folder(root, entry.path, prefix + entry.name + "/", max_file_bytes, stats, folder_times)


def _suffix(name: str) -> str:
    """The lower-case suffix, as ``os.path.splitext`` finds it ("" for ".bashrc" or none)."""
    return name[name.rfind(".") :].lower() if name.rfind(".") > 0 else ""


def _sidecar_stat(entry: os.DirEntry[str] | None) -> tuple[os.stat_result | None, str | None]:
    """The stat of a file's sidecar when it can be read (a regular file, no link, not too large),
    else why not (German; the document is then indexed without it)."""
    if entry is None:
        return None, None
    without = "; das Dokument wird ohne Adresse und Veröffentlichungsdatum indexiert"
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError as exc:
        return None, f"Metadaten-Datei nicht lesbar: {exc.strerror or exc}{without}"
    if not stat.S_ISREG(info.st_mode):
        return None, f"Metadaten-Datei ist keine gewöhnliche Datei (Link, Pipe oder Gerät){without}"
    if info.st_size > MAX_SIDECAR_BYTES:
        return None, f"Metadaten-Datei zu groß ({info.st_size / 1e6:.1f} MB, Grenze 1 MB){without}"
    return info, None


_LOOP = "symbolischer Link bildet eine Schleife (führt über Links wieder auf sich selbst)"


def _link_problem(full: str, root: Path) -> str | None:
    """Why the file link ``full`` is not followed (German), or None when it leads to a file in
    the corpus. A loop (``a.txt -> b.txt -> a.txt``) is one such link, not an error: Python
    before 3.13 raises RuntimeError for it in ``Path.resolve``, later ones report ELOOP."""
    try:
        os.stat(full)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return _LOOP
    try:
        target = Path(full).resolve()
    except RuntimeError:
        return _LOOP
    except OSError as exc:
        return _LOOP if exc.errno == errno.ELOOP else f"symbolischer Link nicht lesbar: {exc.strerror or exc}"
    if not target.is_relative_to(root):
        return "symbolischer Link zeigt aus dem Korpus-Ordner heraus"
    if not target.is_file():
        return "symbolischer Link zeigt auf keine Datei"
    return None


def _shown(rel: str) -> str:
    """``rel`` as valid Unicode: undecodable bytes of a file name become U+FFFD."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


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
