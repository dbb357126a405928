"""Where crawled pages live: ``corpus/web/<host>/<slug>.txt`` (or ``.pdf`` / ``.docx``) with a
sidecar ``<file>.meta.json``.

The sidecar is a contract with the index (citations take their URL and publication date from
it): its name and keys (:data:`META_KEYS`) stay as they are. Only files that have a sidecar in
a host folder are the crawler's; it never changes or removes any other file, and never writes
outside ``corpus/web/``. Files are written to a temporary name and renamed, so a crawl that is
interrupted leaves the old version or the new one, never half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ...errors import CrawlError

WEB_FOLDER = "web"
META_SUFFIX = ".meta.json"
META_KEYS = ("url", "final_url", "fetched_at", "etag", "last_modified", "published", "author", "title", "content_type")
# What each kind of response is stored as.
SUFFIXES = {"html": ".txt", "pdf": ".pdf", "docx": ".docx"}
MAX_SLUG_CHARS = 60
_PAGE_SUFFIX = re.compile(r"\.(html?|php\d?|aspx?|jsp|cfm|shtml|pdf|docx)$", re.IGNORECASE)


@dataclass(frozen=True)
class StoredPage:
    """A page the crawler wrote earlier: its file, its sidecar and what the sidecar says."""

    path: Path
    meta_path: Path
    meta: dict[str, Any]

    @property
    def url(self) -> str:
        return str(self.meta["url"])


def host_folder(url: str) -> str:
    """The folder name for a URL's host: ``host`` or ``host_port``, only letters, digits, ``.``,
    ``-`` and ``_``, never ``.`` or ``..``."""
    netloc = urlsplit(url).netloc.lower()
    name = re.sub(r"[^a-z0-9.\-]", "_", netloc.replace(":", "_")).strip(".")
    return name if name and set(name) - {".", "_"} else "host"


def slug(url: str) -> str:
    """A stable, safe file stem for a URL: the words of its path (``/news/2023/treffen.html`` ->
    ``news-2023-treffen``) and a short hash of the whole URL, so two URLs never share a file."""
    path = unicodedata.normalize("NFC", unquote(urlsplit(url).path))
    path = _PAGE_SUFFIX.sub("", path)
    words = re.sub(r"[^\w]+", "-", path, flags=re.ASCII).strip("-_").lower()
    words = re.sub(r"-{2,}", "-", words)[:MAX_SLUG_CHARS].strip("-_") or "index"
    return f"{words}-{hashlib.sha256(url.encode('utf-8')).hexdigest()[:8]}"


class WebStore:
    """The ``web/`` folder of a corpus: read what is there, write and remove crawled pages.
    With ``dry_run`` it only tells what it would do."""

    def __init__(self, corpus_dir: Path, dry_run: bool = False) -> None:
        if corpus_dir.exists() and not corpus_dir.is_dir():
            raise CrawlError(f"Korpus-Ordner {corpus_dir} ist kein Ordner")
        self.corpus_dir = corpus_dir
        self.root = corpus_dir / WEB_FOLDER
        if self.root.is_symlink():
            raise CrawlError(f"{self.root} ist ein symbolischer Link; Webseiten werden dort nicht gespeichert")
        if self.root.exists() and not self.root.is_dir():
            raise CrawlError(f"{self.root} ist kein Ordner")
        self.dry_run = dry_run

    def path_for(self, url: str, kind: str) -> Path:
        """Where the page at ``url`` of ``kind`` ("html", "pdf", "docx") is stored; always
        inside ``web/<host>/`` (checked after resolving links)."""
        folder = host_folder(url)
        name = slug(url) + SUFFIXES[kind]
        root = self.root.resolve()
        target = (self.root / folder / name).resolve()
        if target.parent != root / folder or not target.is_relative_to(root):
            raise CrawlError(f"{url}: Speicherort {target} läge außerhalb von {self.root}")
        return self.root / folder / name

    def relative(self, path: Path) -> str:
        """``path`` as the index names it (relative to the corpus folder)."""
        return path.relative_to(self.corpus_dir).as_posix()

    def known(self, urls_hosts: set[str]) -> dict[str, StoredPage]:
        """The pages stored earlier for these hosts (``host[:port]``), by URL. A sidecar that is
        unreadable, names no URL, or has no file beside it is left alone (and not counted)."""
        pages: dict[str, StoredPage] = {}
        for host in sorted(urls_hosts):
            folder = self.root / host_folder(f"http://{host}/")
            if folder.is_symlink() or not folder.is_dir():
                continue
            for meta_path in sorted(folder.glob("*" + META_SUFFIX)):
                path = meta_path.with_name(meta_path.name[: -len(META_SUFFIX)])
                if path.suffix not in SUFFIXES.values() or path.is_symlink() or not path.is_file():
                    continue
                meta = read_meta(meta_path)
                if meta is not None and urlsplit(str(meta["url"])).netloc == host:
                    pages[str(meta["url"])] = StoredPage(path, meta_path, meta)
        return pages

    def save(self, path: Path, content: bytes, meta: dict[str, Any], before: StoredPage | None) -> str:
        """Store one page; returns "new", "changed" or "unchanged" (same bytes as before: the
        file is not touched, so the index sees no change; the sidecar is rewritten only when its
        validators or address changed). A page that changed its kind (HTML became PDF) drops its
        old file."""
        if before is not None and before.path == path and _same_bytes(path, content):
            if not self.dry_run and _validators(before.meta) != _validators(meta):
                _write_atomic(before.meta_path, _meta_bytes({**meta, "fetched_at": before.meta.get("fetched_at")}))
            return "unchanged"
        if not self.dry_run:
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(path, content)
            _write_atomic(path.with_name(path.name + META_SUFFIX), _meta_bytes(meta))
            if before is not None and before.path != path:
                self.remove(before)
        return "new" if before is None else "changed"

    def remove(self, page: StoredPage) -> None:
        """Remove a page the crawler wrote (its file and sidecar), nothing else."""
        if self.dry_run:
            return
        for target in (page.path, page.meta_path):
            if target.resolve().is_relative_to(self.root.resolve()):
                try:
                    target.unlink()
                except FileNotFoundError:
                    pass


def read_meta(meta_path: Path) -> dict[str, Any] | None:
    """A sidecar's content, or None when it is unreadable or names no URL."""
    try:
        data = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return None
    return data


def _meta_bytes(meta: dict[str, Any]) -> bytes:
    return (json.dumps({key: meta.get(key) for key in META_KEYS}, ensure_ascii=False, indent=1) + "\n").encode()


def _validators(meta: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(meta.get(key) for key in META_KEYS if key != "fetched_at")


def _same_bytes(path: Path, content: bytes) -> bool:
    try:
        return path.stat().st_size == len(content) and path.read_bytes() == content
    except OSError:
        return False


def _write_atomic(path: Path, content: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".crawl-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
