"""``assistant crawl``: web pages into the corpus, and kept current.

Pages come from the start addresses, their sitemaps (``sitemap=True``) or the links of the
start host (``same_site=True``); PDF and DOCX files linked on the site are always fetched. A
second run asks conditionally (If-None-Match / If-Modified-Since from the sidecars): 304 or the
same bytes count as unchanged, 404 and 410 remove the page the crawler wrote. Every page stored
earlier for a crawled host is asked again, also when no link leads to it any more. Anything
else that goes wrong (robots.txt, timeout, too large, server error) skips the page and keeps
what the corpus has.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from ...config import Settings
from ...errors import CrawlError
from ...types import Progress
from .extract import extract_page
from .fetch import Fetcher, Response, Unfetchable, page_kind
from .robots import Robots
from .sitemaps import MAX_SITEMAPS, SitemapError, parse_sitemap
from .store import StoredPage, WebStore
from .urls import is_document_link, normalize_url, origin_of, page_links, site_of

PROGRESS_STAGE = "Webseiten"
GONE = (404, 410)


@dataclass(frozen=True)
class CrawlOptions:
    """What one ``assistant crawl`` asks for."""

    urls: tuple[str, ...]
    sitemap: bool = False
    same_site: bool = False
    max_pages: int = 200
    delay: float = 1.0
    dry_run: bool = False


@dataclass(frozen=True)
class SkippedUrl:
    """An address that was not stored, the kind of reason (a key of fetch.KINDS) and the reason."""

    url: str
    kind: str
    reason: str


@dataclass(frozen=True)
class Change:
    """What happened to one page: "new", "changed", "unchanged" or "removed"; ``path`` relative
    to the corpus folder."""

    status: str
    url: str
    path: str


@dataclass
class CrawlReport:
    changes: list[Change] = field(default_factory=list)
    skipped: list[SkippedUrl] = field(default_factory=list)
    not_fetched: int = 0  # found, but beyond max_pages
    seconds: float = 0.0
    dry_run: bool = False

    def of(self, status: str) -> list[Change]:
        return [c for c in self.changes if c.status == status]

    @property
    def reached_any(self) -> bool:
        """Whether at least one page was answered (stored, unchanged or removed)."""
        return bool(self.changes)


def check_urls(urls: tuple[str, ...]) -> list[str]:
    """The start addresses normalized; a :class:`CrawlError` naming every one that is no
    http(s) address, before anything is fetched."""
    if not urls:
        raise CrawlError("Keine Adresse angegeben (z. B. assistant crawl https://www.example.de/)")
    good: list[str] = []
    bad: list[str] = []
    for url in urls:
        normal = normalize_url(url)
        (good if normal else bad).append(normal or url)
    if bad:
        shown = ", ".join(repr(u) for u in bad)
        raise CrawlError(f"Keine gültige Web-Adresse (http:// oder https:// mit Host): {shown}")
    return list(dict.fromkeys(good))


def crawl(settings: Settings, options: CrawlOptions, progress: Progress | None = None) -> CrawlReport:
    """Run one crawl into ``settings.corpus_dir / "web"``; with ``options.dry_run`` nothing is
    written and the report says what would change."""
    started = time.monotonic()
    starts = check_urls(options.urls)
    store = WebStore(settings.corpus_dir, dry_run=options.dry_run)
    with Fetcher(settings.crawl_user_agent, settings.crawl_timeout, settings.crawl_max_bytes, options.delay) as fetch:
        run = _Run(settings, options, store, fetch, progress)
        run.run(starts)
    run.report.seconds = time.monotonic() - started
    run.report.dry_run = options.dry_run
    return run.report


class _Run:
    def __init__(
        self, settings: Settings, options: CrawlOptions, store: WebStore, fetcher: Fetcher, progress: Progress | None
    ) -> None:
        self.settings = settings
        self.options = options
        self.store = store
        self.fetcher = fetcher
        self.robots = Robots(fetcher)
        self.progress = progress
        self.report = CrawlReport()
        self.queue: deque[str] = deque()
        self.seen: set[str] = set()
        self.sites: set[str] = set()
        self.known: dict[str, StoredPage] = {}
        self.finals: dict[str, str] = {}  # final address -> the address stored for it
        self.starts: set[str] = set()
        self.fetched = 0
        self.done = 0

    def run(self, starts: list[str]) -> None:
        self.starts = set(starts)
        for start in starts:
            self._add_site(site_of(start))
        if self.options.sitemap:
            for start in starts:
                self._from_sitemaps(start)
        else:
            for start in starts:
                self._enqueue(start)
        while self.queue and self.fetched < self.options.max_pages:
            self.fetched += 1
            self._visit(self.queue.popleft(), discover=True)
        self.report.not_fetched = len(self.queue)
        # Pages stored earlier that nothing linked to this time: still there, changed, gone?
        for url in sorted(self.known):
            if url not in self.seen:
                self.seen.add(url)
                self._visit(url, discover=False)

    def _add_site(self, site: str) -> None:
        if site not in self.sites:
            self.sites.add(site)
            self.known.update(self.store.known({site}))

    def _enqueue(self, url: str) -> None:
        if url not in self.seen:
            self.seen.add(url)
            self.queue.append(url)

    def _skip(self, url: str, kind: str, reason: str) -> None:
        self.report.skipped.append(SkippedUrl(url, kind, reason))

    def _tick(self) -> None:
        self.done += 1
        if self.progress is not None:
            ahead = min(len(self.queue), max(self.options.max_pages - self.fetched, 0))
            rest = sum(1 for url in self.known if url not in self.seen)
            self.progress(PROGRESS_STAGE, self.done, self.done + ahead + rest)

    # --- sources of addresses ------------------------------------------------------------------

    def _from_sitemaps(self, start: str) -> None:
        path = urlsplit(start).path.lower()
        if path.endswith((".xml", ".xml.gz")) or "sitemap" in path:
            pending = deque([start])
        else:
            origin = origin_of(start)
            named = [n for n in (normalize_url(u) for u in self.robots.sitemaps(origin)) if n]
            pending = deque(named or [origin + "/sitemap.xml"])
        read: set[str] = set()
        offsite = 0
        while pending and len(read) < MAX_SITEMAPS:
            url = pending.popleft()
            if url in read:
                continue
            read.add(url)
            try:
                response = self.fetcher.get(url, permission=self.robots.check)
            except Unfetchable as exc:
                self._skip(url, exc.kind, f"Sitemap: {exc.reason}")
                continue
            if response.status != 200:
                self._skip(url, "sitemap", f"Sitemap nicht abrufbar (HTTP {response.status})")
                continue
            try:
                found = parse_sitemap(response.body, self.settings.crawl_max_bytes)
            except SitemapError as exc:
                self._skip(url, "sitemap", f"Sitemap nicht lesbar: {exc}")
                continue
            pending.extend(n for n in (normalize_url(u) for u in found.sitemaps) if n)
            for page in found.pages:
                normal = normalize_url(page)
                if normal is None or site_of(normal) not in self.sites:
                    offsite += 1
                else:
                    self._enqueue(normal)
        if offsite:
            self._skip(start, "offsite", f"Sitemap: {offsite} Adresse(n) auf anderen Hosts oder ungültig, übergangen")

    def _follow(self, response: Response) -> None:
        for link in page_links(response.body, response.final_url):
            if site_of(link) not in self.sites:
                continue
            if is_document_link(link) or self.options.same_site:
                self._enqueue(link)

    # --- one page ------------------------------------------------------------------------------

    def _visit(self, url: str, discover: bool) -> None:
        try:
            self._fetch_and_store(url, discover)
        finally:
            self._tick()

    def _fetch_and_store(self, url: str, discover: bool) -> None:
        stored = self.known.get(url)
        headers = {}
        if stored is not None:
            if stored.meta.get("etag"):
                headers["If-None-Match"] = str(stored.meta["etag"])
            if stored.meta.get("last_modified"):
                headers["If-Modified-Since"] = str(stored.meta["last_modified"])
        try:
            response = self.fetcher.get(
                url, headers, allowed=lambda r: page_kind(r) is not None, permission=self.robots.check
            )
        except Unfetchable as exc:
            self._skip(url, exc.kind, exc.reason)
            return
        if url in self.starts:
            self._add_site(site_of(response.final_url))
        if response.status == 304 and stored is not None:
            self.report.changes.append(Change("unchanged", url, self.store.relative(stored.path)))
            return
        if response.status in GONE and stored is not None:
            self.store.remove(stored)
            self.report.changes.append(Change("removed", url, self.store.relative(stored.path)))
            return
        if response.status != 200:
            self._skip(url, "http", f"HTTP-Fehler {response.status}")
            return
        kind = page_kind(response)
        if kind is None:
            self._skip(url, "type", f"nicht unterstützter Typ {response.content_type or '(ohne Angabe)'}")
            return
        earlier = self.finals.get(response.final_url)
        if earlier is not None and earlier != url:
            self._skip(url, "duplicate", f"dieselbe Seite wie {earlier} (Weiterleitung)")
            return
        self.finals[response.final_url] = url
        meta: dict[str, Any] = {
            "url": url,
            "final_url": response.final_url,
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "etag": response.etag,
            "last_modified": response.last_modified,
            "published": None,
            "author": None,
            "title": None,
            "content_type": response.content_type or None,
        }
        content = response.body
        if kind == "html":
            if discover:
                self._follow(response)
            page = extract_page(response.body, response.final_url, response.charset)
            if page is None:
                self._skip(url, "content", "kein Text gefunden")
                return
            content = page.file_bytes()
            meta.update(title=page.title, author=page.author, published=page.published)
        path = self.store.path_for(url, kind)
        try:
            status = self.store.save(path, content, meta, stored)
        except OSError as exc:
            where = PurePosixPath(self.store.relative(path))
            raise CrawlError(
                f"{where} konnte nicht gespeichert werden ({exc.strerror or exc}); "
                "bereits gespeicherte Seiten bleiben unverändert"
            ) from None
        self.report.changes.append(Change(status, url, self.store.relative(path)))
