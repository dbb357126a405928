"""A web page's main text, title, author and publication date, by trafilatura, in the format of
the corpus' text files: the title on the first line, a blank line, then the text."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class PageText:
    """What is kept of an HTML page."""

    title: str
    text: str
    author: str | None
    published: str | None  # ISO date

    def file_bytes(self) -> bytes:
        return f"{self.title}\n\n{self.text}\n".encode()


def extract_page(html: bytes, url: str, charset: str | None = None) -> PageText | None:
    """The page's main content, or None when trafilatura finds no text in it. Navigation,
    footers and comments are left out; when the careful pass keeps nothing (a short page) a
    second pass that keeps more is tried."""
    import trafilatura

    markup: str | bytes = html
    if charset:
        try:
            markup = html.decode(charset, "replace")
        except LookupError:  # an unknown charset name: let trafilatura detect it
            markup = html
    result = None
    for recall in (False, True):
        try:
            result = trafilatura.bare_extraction(
                markup,
                url=url,
                with_metadata=True,
                include_comments=False,
                include_tables=True,
                favor_recall=recall,
            )
        except Exception:  # trafilatura raises assorted errors on hostile markup
            result = None
        if result is not None and (getattr(result, "text", None) or "").strip():
            break
    if result is None:
        return None
    text = _clean(getattr(result, "text", None) or "")
    if not text:
        return None
    title = " ".join((getattr(result, "title", None) or "").split())
    if not title:
        title = next((line for line in text.splitlines() if line.strip()), url)[:200]
    author = " ".join((getattr(result, "author", None) or "").split()) or None
    return PageText(title=title, text=text, author=author, published=_iso_date(getattr(result, "date", None)))


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", ""))
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return "\n".join(lines).strip()


def _iso_date(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return None
