"""A corpus file's sidecar, ``<file>.meta.json``: where the page came from and when it appeared.

The crawler (``assistant crawl``) writes one beside each page it stores, a JSON object with the
keys ``url``, ``final_url``, ``fetched_at``, ``etag``, ``last_modified``, ``published`` (an ISO
date or null), ``author``, ``title`` and ``content_type``; a person may write one by hand. Read
here: the page's address (``final_url`` when present, else ``url``; http or https only, any
other scheme such as ``javascript:`` is dropped) and its publication date. A sidecar that is
empty, no JSON, no object or has values of the wrong type costs only these two fields: the
document is indexed without them and a German warning names the file.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

from ..types import DateMention, Document
from .corpus import MAX_SIDECAR_BYTES, SIDECAR_SUFFIX, CorpusFile, read_sidecar_bytes

MAX_URL_CHARS = 2048
_MONTH_NAMES = "Januar Februar März April Mai Juni Juli August September Oktober November Dezember".split()
_ISO_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:$|[T ])")
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")


@dataclass(frozen=True)
class PageInfo:
    """What a sidecar adds to its document, and what was wrong with it (German, naming the file)."""

    url: str | None = None
    published: DateMention | None = None
    warnings: tuple[str, ...] = ()


def safe_url(value: object) -> str | None:
    """``value`` when it is an absolute http(s) address with a host and without spaces or
    control characters (at most :data:`MAX_URL_CHARS`), else None."""
    if not isinstance(value, str) or not value or len(value) > MAX_URL_CHARS or _CONTROL.search(value):
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:  # "http://[::1" and other malformed hosts
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return value


def site_name(url: str) -> str:
    """The host of an address without "www.": "clusterplattform.de"."""
    host = urlsplit(url).hostname or url
    return host[4:] if host.startswith("www.") else host


def read_page_info(file: CorpusFile) -> PageInfo:
    """The sidecar of ``file`` (none: an empty :class:`PageInfo`)."""
    if file.sidecar is None:
        return PageInfo()
    name = file.doc_id + SIDECAR_SUFFIX

    def problem(reason: str) -> str:
        return f"Metadaten-Datei {name}: {reason}; das Dokument wird ohne diese Angabe indexiert."

    try:
        raw = read_sidecar_bytes(file.sidecar)
    except OSError as exc:
        return PageInfo(warnings=(problem(f"nicht lesbar ({exc.strerror or exc})"),))
    if len(raw) > MAX_SIDECAR_BYTES:
        return PageInfo(warnings=(problem("zu groß (Grenze 1 MB)"),))
    if not raw.strip():
        return PageInfo(warnings=(problem("leer"),))
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return PageInfo(warnings=(problem("kein UTF-8"),))
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f" (Zeile {exc.lineno}, Spalte {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        return PageInfo(warnings=(problem(f"kein gültiges JSON{where}"),))
    if not isinstance(data, dict):
        return PageInfo(warnings=(problem("kein JSON-Objekt"),))
    warnings: list[str] = []
    url = None
    for key in ("final_url", "url"):
        value = data.get(key)
        if value is None or value == "":
            continue
        url = safe_url(value)
        if url is not None:
            break
        warnings.append(problem(f"„{key}“ ist keine http(s)-Adresse"))
    published = None
    value = data.get("published")
    if value is not None and value != "":
        published = _published(value)
        if published is None:
            warnings.append(problem("„published“ ist kein Datum (JJJJ-MM-TT)"))
    return PageInfo(url, published, tuple(warnings))


def with_page_info(doc: Document, info: PageInfo) -> Document:
    """The document with the sidecar's address and publication date."""
    if info.url is None and info.published is None:
        return doc
    return dataclasses.replace(doc, url=info.url, published=info.published)


def _published(value: object) -> DateMention | None:
    """An ISO date ("2024-03-12", also the day of "2024-03-12T09:30:00+01:00") as a mention of
    day precision outside the text (offset -1), written as the cards show dates."""
    match = _ISO_DAY.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    try:
        day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None
    if not 1900 <= day.year <= 2100:
        return None
    text = f"{day.day}. {_MONTH_NAMES[day.month - 1]} {day.year}"
    return DateMention(day, day, text, -1, "day")
