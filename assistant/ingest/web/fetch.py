"""Fetching for the crawler: one httpx client with connect and read timeouts, a deadline for a
whole response, a size cap, redirects followed by hand (each hop checked against robots.txt,
at most :data:`MAX_REDIRECTS`), a pause between two requests to one host, and a User-Agent that
names the assistant.

A page that cannot be had raises :class:`Unfetchable` with a kind (for the summary's counts)
and a German reason; the crawler catches it and skips the page. HTTP errors are no exception:
the crawler needs a 404 to remove a page that is gone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from .urls import normalize_url, origin_of

MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)
# The reasons a page is skipped, as the summary counts them.
KINDS = {
    "robots": "robots.txt",
    "too_large": "zu groß",
    "type": "falscher Typ",
    "http": "HTTP-Fehler",
    "timeout": "Zeitüberschreitung",
    "unreachable": "nicht erreichbar",
    "redirects": "Weiterleitungen",
    "content": "kein Inhalt",
    "sitemap": "Sitemap",
    "duplicate": "doppelt",
    "offsite": "anderer Host",
}
HTML_TYPES = ("text/html", "application/xhtml+xml")
GENERIC_TYPES = ("", "application/octet-stream", "application/zip")
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


class Unfetchable(Exception):
    """A URL that is skipped: ``kind`` is a key of :data:`KINDS`, ``reason`` German. Internal to
    the crawler (which always catches it); never reaches the user as an exception."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class Response:
    """What a GET brought: the status, the address it ended at, validators for the next run's
    conditional request, and the body (empty for 304 and errors)."""

    url: str
    final_url: str
    status: int
    content_type: str = ""
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body: bytes = b""


def page_kind(response: Response) -> str | None:
    """ "html", "pdf" or "docx" by the response's type (and, for a generic type, its first bytes
    and the address's ending), None for anything else."""
    media = response.content_type
    if media in HTML_TYPES:
        return "html"
    if media == "application/pdf" or (response.body.startswith(b"%PDF") and media in GENERIC_TYPES):
        return "pdf"
    if media == DOCX_TYPE:
        return "docx"
    generic = media in GENERIC_TYPES and response.body.startswith(b"PK")
    if generic and response.final_url.lower().split("?")[0].endswith(".docx"):
        return "docx"
    return None


# (url) -> None, or raises Unfetchable("robots", ...): the robots.txt check of each hop.
Permission = Callable[[str], None]


class Fetcher:
    """GETs with the crawler's limits. ``delay_for(origin)`` says how long to wait between two
    requests to one origin (the larger of the ``delay`` setting and robots.txt's Crawl-delay)."""

    def __init__(self, user_agent: str, timeout: float, max_bytes: int, delay: float) -> None:
        self.user_agent = user_agent
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.delay = delay
        self.extra_delay: dict[str, float] = {}
        self._last: dict[str, float] = {}
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
            trust_env=False,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        allowed: Callable[[Response], bool] | None = None,
        permission: Permission | None = None,
    ) -> Response:
        """GET ``url`` following redirects. ``allowed`` sees the response before its body is read
        (status, type) and may refuse it (kind "type"); ``permission`` checks each address."""
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            if permission is not None:
                permission(current)
            self._wait(origin_of(current))
            try:
                response = self._get_once(url, current, headers or {}, allowed)
            except httpx.TimeoutException:
                raise Unfetchable("timeout", f"Zeitüberschreitung (keine Antwort in {self.timeout:g} s)") from None
            except (httpx.TransportError, httpx.InvalidURL) as exc:
                raise Unfetchable("unreachable", f"nicht erreichbar ({_describe(exc)})") from None
            except httpx.HTTPError as exc:  # e.g. a body whose Content-Encoding does not decode
                raise Unfetchable("http", f"Antwort nicht lesbar ({_describe(exc)})") from None
            except UnicodeError as exc:  # a header value (a stored ETag) that is no ASCII
                raise Unfetchable("http", f"Anfrage nicht möglich ({exc})") from None
            if isinstance(response, str):
                current = response
                continue
            return response
        raise Unfetchable("redirects", f"zu viele Weiterleitungen (mehr als {MAX_REDIRECTS})")

    def _get_once(
        self, url: str, current: str, headers: dict[str, str], allowed: Callable[[Response], bool] | None
    ) -> Response | str:
        """One request: the Response, or the next address when it is a redirect."""
        deadline = time.monotonic() + 4 * self.timeout
        with self.client.stream("GET", current, headers=headers) as reply:
            self._last[origin_of(current)] = time.monotonic()
            if reply.status_code in REDIRECTS and reply.headers.get("location"):
                target = normalize_url(urljoin(current, reply.headers["location"]))
                if target is None:
                    raise Unfetchable("redirects", f"Weiterleitung auf keine Web-Adresse: {reply.headers['location']}")
                return target
            media, _, params = reply.headers.get("content-type", "").partition(";")
            charset = None
            for param in params.split(";"):
                name, _, value = param.strip().partition("=")
                if name.lower() == "charset" and value:
                    charset = value.strip("\"' ")
            head = Response(
                url=url,
                final_url=current,
                status=reply.status_code,
                content_type=media.strip().lower(),
                charset=charset,
                etag=reply.headers.get("etag"),
                last_modified=reply.headers.get("last-modified"),
            )
            if reply.status_code != 200:
                return head
            length = reply.headers.get("content-length", "")
            if length.isdigit() and int(length) > self.max_bytes:
                raise Unfetchable("too_large", f"zu groß ({_mb(int(length))}, Grenze {_mb(self.max_bytes)})")
            # A generic type is judged by the first bytes, after reading; any other one now.
            if allowed is not None and head.content_type not in GENERIC_TYPES and not allowed(head):
                raise Unfetchable("type", f"nicht unterstützter Typ {head.content_type}")
            body = bytearray()
            for piece in reply.iter_bytes():
                body += piece
                if len(body) > self.max_bytes:
                    raise Unfetchable("too_large", f"zu groß (mehr als {_mb(self.max_bytes)})")
                if time.monotonic() > deadline:
                    raise Unfetchable("timeout", f"Zeitüberschreitung (Antwort nicht in {4 * self.timeout:g} s)")
        result = Response(**{**head.__dict__, "body": bytes(body)})
        if allowed is not None and not allowed(result):
            raise Unfetchable("type", f"nicht unterstützter Typ {head.content_type or '(ohne Angabe)'}")
        return result

    def _wait(self, origin: str) -> None:
        last = self._last.get(origin)
        if last is None:
            return
        pause = max(self.delay, self.extra_delay.get(origin, 0.0)) - (time.monotonic() - last)
        if pause > 0:
            time.sleep(pause)


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    if isinstance(exc, httpx.ConnectError):
        return "Verbindung abgelehnt oder Host unbekannt" + (f": {text}" if text else "")
    return text or type(exc).__name__
