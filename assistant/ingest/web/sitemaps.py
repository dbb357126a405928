"""Sitemaps (sitemaps.org): a ``<urlset>`` of pages or a ``<sitemapindex>`` of further sitemaps,
plain or gzip-compressed. The XML is parsed without entities, DTDs or network access; a gzip
file may unpack to at most the crawler's size cap."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from lxml import etree

MAX_SITEMAPS = 50  # sitemap files read in one crawl (an index of indexes stops here)


class SitemapError(ValueError):
    """A sitemap that cannot be read; the message (German) says why."""


@dataclass
class Sitemap:
    """What one sitemap file lists."""

    pages: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)


def parse_sitemap(body: bytes, max_bytes: int) -> Sitemap:
    """The page and sitemap addresses in one sitemap file (as written there, not yet checked)."""
    if body[:2] == b"\x1f\x8b":
        body = _gunzip(body, max_bytes)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise SitemapError(f"kein gültiges XML ({exc})") from None
    if root is None:
        raise SitemapError("leere Sitemap")
    name = etree.QName(root).localname
    if name not in ("urlset", "sitemapindex"):
        raise SitemapError(f"keine Sitemap (Wurzelelement <{name}> statt <urlset> oder <sitemapindex>)")
    child = "url" if name == "urlset" else "sitemap"
    found = Sitemap()
    target = found.pages if name == "urlset" else found.sitemaps
    for entry in root:
        if not isinstance(entry.tag, str) or etree.QName(entry).localname != child:
            continue
        for loc in entry:
            if isinstance(loc.tag, str) and etree.QName(loc).localname == "loc" and (loc.text or "").strip():
                target.append((loc.text or "").strip())
                break
    return found


def _gunzip(body: bytes, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise SitemapError(f"gzip-Datei beschädigt ({exc})") from None
    if len(data) > max_bytes:
        raise SitemapError(f"entpackt größer als {max_bytes / 1e6:.1f} MB")
    return data
