"""The corpus walk: the files and folders of the corpus folder, with one ``stat`` a file and a
German reason for each one left out.

It runs at every start (is the index stale?) and update, so it uses ``os.scandir`` (by folder
descriptor) and plain strings. Symlinks that leave the corpus or form a loop, pipes, hidden
files, unsupported formats and oversized files are reported as skipped. A file's sidecar
``<file>.meta.json`` is no document of its own: its stat comes with the file's (see
:mod:`.corpus`).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Generator, Iterator
from operator import attrgetter
from pathlib import Path

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx", ".odt", ".pptx", ".xlsx", ".csv")
SIDECAR_SUFFIX = ".meta.json"
MAX_SIDECAR_BYTES = 1 << 20
# {doc id: [size, mtime_ns]} of every supported regular file, [size, mtime_ns, sidecar size,
# sidecar mtime_ns] for one with a sidecar: the corpus state an index was built from.
FileStats = dict[str, list[int]]


# (doc id, path, stat or the reason to skip it, the sidecar's stat, the file's FileStats entry)
Found = Iterator[tuple[str, str, os.stat_result | str, os.stat_result | None, list[int] | None]]
_BY_NAME = attrgetter("name")
# Listing a folder by its descriptor lets each entry's stat look up just the name (fstatat),
# not the whole path again: the walk's stat calls at 125k files 0.58 s -> 0.51 s.
_BY_DESCRIPTOR = os.scandir in os.supports_fd


def walk_corpus(
    root: Path, max_file_bytes: int | None, stats: FileStats | None = None, folders: dict[str, int] | None = None
) -> Found:
    """``(doc id, path, stat, sidecar stat or None, stats entry)`` for each acceptable corpus
    file and ``(doc id, path, reason, None, None)`` for each one to skip (also for a sidecar
    that cannot be used), folder by folder in name order. Hidden files and folders are left out.
    ``os.scandir`` and plain strings, one ``stat`` per file: this runs over every file at every
    start (staleness check) and update. ``stats`` receives size and time of every supported
    regular file (and its sidecar), also of too large ones."""
    yield from _walk_folder(root, str(root), "", max_file_bytes, stats, folders)


def _walk_folder(
    root: Path,
    folder: str,
    prefix: str,
    max_file_bytes: int | None,
    stats: FileStats | None,
    folder_times: dict[str, int] | None,
) -> Found:
    descriptor = -1
    try:
        if folder_times is not None:  # before the listing: an entry added during the walk changes it later
            folder_times[prefix] = os.stat(folder).st_mtime_ns
        if _BY_DESCRIPTOR:
            descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        with os.scandir(descriptor if descriptor >= 0 else folder) as found:
            entries = sorted((e for e in found if e.name[0] != "."), key=_BY_NAME)
    except OSError:
        if descriptor >= 0:
            os.close(descriptor)
        return  # as os.walk: a folder that cannot be listed is left out
    try:
        folders = yield from _walk_files(root, folder + os.sep, prefix, entries, max_file_bytes, stats)
    finally:
        if descriptor >= 0:
            os.close(descriptor)  # before the subfolders: one descriptor open a level
    for name in folders:
        yield from _walk_folder(root, folder + os.sep + name, prefix + name + "/", max_file_bytes, stats, folder_times)


def _walk_files(
    root: Path,
    base: str,
    prefix: str,
    entries: list[os.DirEntry[str]],
    max_file_bytes: int | None,
    stats: FileStats | None,
) -> Generator[tuple[str, str, os.stat_result | str, os.stat_result | None, list[int] | None], None, list[str]]:
    """The files of one folder's ``entries`` (as :func:`walk_corpus`); returns the names of
    the subfolders to walk. ``base``: the folder's path with a separator at the end."""
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
                base + entry.name,
                "symbolischer Link auf einen Ordner wird nicht verfolgt",
                None,
                None,
            )
        else:
            folders.append(entry.name)
    files = {e.name: e for e in entries if e.name not in folder_names}
    for name, entry in files.items():
        full = base + name
        rel = prefix + name
        if not rel.isascii() and _shown(rel) != rel:
            # Bytes that are no UTF-8 come back as lone surrogates, which the index files
            # (UTF-8 JSON) cannot hold: one such name would fail the whole build.
            yield _shown(rel), full, "Dateiname ist kein gültiges UTF-8 (bitte umbenennen)", None, None
            continue
        if name.endswith(SIDECAR_SUFFIX) and len(name) > len(SIDECAR_SUFFIX):
            sidecar_of = name[: -len(SIDECAR_SUFFIX)]
            if sidecar_of not in files or _suffix(sidecar_of) not in SUPPORTED_SUFFIXES:
                yield rel, full, f"Metadaten-Datei ohne indexierbares Dokument {sidecar_of} daneben", None, None
            continue  # else read with its document
        if entry.is_symlink():
            problem = _link_problem(full, root)
            if problem is not None:
                yield rel, full, problem, None, None
                continue
        dot = name.rfind(".")  # as _suffix, inlined: this line runs for every file at every update
        suffix = name[dot:].lower() if dot > 0 else ""
        if suffix not in SUPPORTED_SUFFIXES:
            yield rel, full, f"Format {suffix or '(ohne Endung)'} wird nicht unterstützt", None, None
            continue
        try:
            info = entry.stat()
        except OSError as exc:
            yield rel, full, f"nicht lesbar: {exc.strerror or exc}", None, None
            continue
        if not stat.S_ISREG(info.st_mode):
            # Opening a named pipe would block the whole scan.
            yield rel, full, "keine gewöhnliche Datei (z. B. Pipe oder Gerät)", None, None
            continue
        meta = None
        sidecar = files.get(name + SIDECAR_SUFFIX)
        if sidecar is not None:
            meta, problem = _sidecar_stat(sidecar)
            if problem is not None:
                yield rel + SIDECAR_SUFFIX, full + SIDECAR_SUFFIX, problem, None, None
        size = info.st_size
        entry_stats = (
            [size, info.st_mtime_ns] if meta is None else [size, info.st_mtime_ns, meta.st_size, meta.st_mtime_ns]
        )
        if stats is not None:
            stats[rel] = entry_stats
        if max_file_bytes is not None and size > max_file_bytes:
            message = f"Datei zu groß ({size / 1e6:.1f} MB, Grenze {max_file_bytes / 1e6:.1f} MB)"
            yield rel, full, message, None, None
            continue
        yield rel, full, info, meta, entry_stats
    return folders


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
