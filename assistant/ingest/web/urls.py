"""Web addresses for the crawler: one normal form per page (so a page is one file however it is
linked), the host a page belongs to, and the links of an HTML page."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
# Link targets stored as files for the corpus loaders rather than read as pages.
DOCUMENT_SUFFIXES = (".pdf", ".docx")


def normalize_url(url: str) -> str | None:
    """``url`` in one normal form (lower-case scheme and host, no default port, no fragment,
    no user name or password, ``/`` for an empty path), or None when it is no http(s) address
    with a host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a port that is no number, an unbalanced "[" ...
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host or any(ch.isspace() for ch in url.strip()):
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def site_of(url: str) -> str:
    """The ``host[:port]`` part of a normalized URL: what "the same site" means here."""
    return urlsplit(url).netloc


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a normalized URL (robots.txt and the pause between requests
    are per origin)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def is_document_link(url: str) -> bool:
    """Whether the link points at a file the corpus loaders read (PDF, DOCX) by its name."""
    return urlsplit(url).path.lower().endswith(DOCUMENT_SUFFIXES)


def page_links(html: bytes, base_url: str) -> list[str]:
    """The http(s) links of an HTML page, normalized, in page order, each once. ``<base href>``
    is honoured; ``rel="nofollow"`` links are left out, as are mailto:, javascript: and the like."""
    from lxml import etree
    from lxml import html as lxml_html

    try:
        tree = lxml_html.fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    base = base_url
    for element in tree.iter("base"):
        href = element.get("href")
        if href:
            base = urljoin(base_url, href.strip())
            break
    found: dict[str, None] = {}
    for element in tree.iter("a", "area"):
        href = element.get("href")
        if not href or "nofollow" in (element.get("rel") or "").lower().split():
            continue
        try:
            target = normalize_url(urljoin(base, href.strip()))
        except ValueError:
            continue
        if target is not None:
            found.setdefault(target, None)
    return list(found)
