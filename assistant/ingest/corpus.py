"""The corpus folder: which files it holds, their sizes, times and content hashes.

The walk runs at every start (is the index stale?) and update, so it uses ``os.scandir`` and
plain strings, one ``stat`` per file. Symlinks that leave the corpus or form a loop, pipes,
hidden files, unsupported formats and oversized files are reported as skipped with a German
reason.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorpusError

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx", ".odt", ".pptx", ".xlsx", ".csv")
# {doc id: [size, mtime_ns]} of every supported regular file: the corpus state an index was built from.
FileStats = dict[str, list[int]]


@dataclass(frozen=True)
class Skipped:
    """A corpus file that was not indexed, and why (German, for the summary)."""

    path: str
    reason: str


@dataclass(frozen=True)
class CorpusFile:
    """A file found in the corpus: its id (relative path), location and raw content hash."""

    doc_id: str
    path: Path
    content_hash: str
    size: int
    mtime_ns: int = 0


def scan_corpus(
    corpus_dir: Path,
    max_file_bytes: int,
    known: dict[str, tuple[int, int, str]] | None = None,
    stats: FileStats | None = None,
) -> tuple[list[CorpusFile], list[Skipped]]:
    """List the corpus files with their content hashes, without parsing them.

    Hidden files and folders are ignored; symlinks that leave the corpus, unsupported formats
    and files over ``max_file_bytes`` are returned as skipped. ``known`` maps doc ids to
    ``(size, mtime_ns, content hash)``: a file with that size and time keeps that hash unread.
    ``stats``, when given, receives what :func:`file_stats` returns (same walk).
    """
    if not corpus_dir.is_dir():
        raise CorpusError(f"Korpus-Ordner {corpus_dir} existiert nicht oder ist kein Ordner")
    known = known or {}
    files: list[CorpusFile] = []
    skipped: list[Skipped] = []
    for rel, full, found in _walk_corpus(corpus_dir.resolve(), max_file_bytes, stats):
        if isinstance(found, str):
            skipped.append(Skipped(rel, found))
            continue
        path = Path(full)
        seen = known.get(rel)
        if seen is not None and seen[0] == found.st_size and seen[1] == found.st_mtime_ns:
            files.append(CorpusFile(rel, path, seen[2], found.st_size, found.st_mtime_ns))
            continue
        try:
            digest = _hash_file(path)
        except OSError as exc:
            skipped.append(Skipped(rel, f"nicht lesbar: {exc.strerror or exc}"))
            continue
        files.append(CorpusFile(rel, path, digest, found.st_size, found.st_mtime_ns))
    return files, skipped


def file_stats(corpus_dir: Path, max_file_bytes: int | None = None) -> FileStats:
    """``{doc id: [size, mtime_ns]}`` of the files :func:`scan_corpus` accepts (with the same
    ``max_file_bytes``), without reading them: a cheap way to tell whether the corpus changed
    since the index was built. Without ``max_file_bytes`` the size limit is not applied."""
    result: dict[str, list[int]] = {}
    for rel, _path, found in _walk_corpus(corpus_dir.resolve(), max_file_bytes):
        if not isinstance(found, str):
            result[rel] = [found.st_size, found.st_mtime_ns]
    return result


def stats_digest(stats: FileStats) -> str:
    """One value for the whole corpus state (file names, sizes, modification times), in the
    order of the corpus walk (the same at build and check; another order only costs the
    detailed comparison)."""
    return hashlib.sha256(json.dumps(list(stats.items())).encode("utf-8")).hexdigest()


def _walk_corpus(
    root: Path,
    max_file_bytes: int | None,
    stats: FileStats | None = None,
) -> Iterator[tuple[str, str, os.stat_result | str]]:
    """``(doc id, path, stat)`` for each acceptable corpus file and ``(doc id, path, reason)``
    for each one to skip, folder by folder in name order. Hidden files and folders are left
    out. ``os.scandir`` and plain strings, one ``stat`` per file: this runs over every file at
    every start (staleness check) and update. ``stats`` receives size and time of every
    supported regular file, also of too large ones."""
    yield from _walk_folder(root, str(root), "", max_file_bytes, stats)


def _walk_folder(
    root: Path, folder: str, prefix: str, max_file_bytes: int | None, stats: FileStats | None
) -> Iterator[tuple[str, str, os.stat_result | str]]:
    try:
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
            yield _shown(prefix + entry.name), entry.path, "symbolischer Link auf einen Ordner wird nicht verfolgt"
        else:
            folders.append(entry)
    for entry in entries:
        if entry.name in folder_names:
            continue
        name, full = entry.name, entry.path
        rel = prefix + name
        if not rel.isascii() and _shown(rel) != rel:
            # Bytes that are no UTF-8 come back as lone surrogates, which the index files
            # (UTF-8 JSON) cannot hold: one such name would fail the whole build.
            yield _shown(rel), full, "Dateiname ist kein gültiges UTF-8 (bitte umbenennen)"
            continue
        if entry.is_symlink():
            problem = _link_problem(full, root)
            if problem is not None:
                yield rel, full, problem
                continue
        suffix = name[name.rfind(".") :].lower() if name.rfind(".") > 0 else ""  # as os.path.splitext
        if suffix not in SUPPORTED_SUFFIXES:
            yield rel, full, f"Format {suffix or '(ohne Endung)'} wird nicht unterstützt"
            continue
        try:
            info = entry.stat()
        except OSError as exc:
            yield rel, full, f"nicht lesbar: {exc.strerror or exc}"
            continue
        if not stat.S_ISREG(info.st_mode):
            # Opening a named pipe would block the whole scan.
            yield rel, full, "keine gewöhnliche Datei (z. B. Pipe oder Gerät)"
            continue
        if stats is not None:
            stats[rel] = [info.st_size, info.st_mtime_ns]
        if max_file_bytes is not None and info.st_size > max_file_bytes:
            yield rel, full, (f"Datei zu groß ({info.st_size / 1e6:.1f} MB, Grenze {max_file_bytes / 1e6:.1f} MB)")
            continue
        yield rel, full, info
    for entry in folders:
        yield from _walk_folder(root, entry.path, prefix + entry.name + "/", max_file_bytes, stats)


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


def _hash_file(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()
