"""`assistant crawl`: websites into corpus/web/, against a real HTTP server on 127.0.0.1 (never
another host): links within the site, sitemaps (index, gzip), robots.txt, redirects, limits,
conditional requests on the second run, removal of pages that are gone, --dry-run, and the way
on through `assistant index` and `assistant ask`."""

from __future__ import annotations

import gzip
import io
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from reportlab.pdfgen import canvas

from assistant.cli import EXIT_ERROR, main
from assistant.config import Settings
from assistant.errors import CrawlError
from assistant.ingest.web import META_KEYS, CrawlOptions, crawl
from assistant.ingest.web.sitemaps import SitemapError, parse_sitemap
from assistant.ingest.web.store import WebStore, host_folder, slug
from assistant.ingest.web.urls import normalize_url

AGENT = Settings().crawl_user_agent


def html(title: str, *paragraphs: str, links: tuple[str, ...] = ()) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    anchors = "".join(f'<li><a href="{href}">Link {n}</a></li>' for n, href in enumerate(links))
    return (
        f"<!doctype html><html lang=de><head><meta charset=utf-8><title>{title} | Cluster Nord</title>"
        '<meta name="author" content="Erika Mustermann">'
        '<meta property="article:published_time" content="2023-04-05T09:00:00+02:00"></head>'
        f"<body><nav><ul>{anchors}</ul></nav><main><article><h1>{title}</h1>{body}</article></main>"
        "<footer>Impressum · Datenschutz</footer></body></html>"
    ).encode()


def pdf_bytes(text: str) -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, text)
    page.save()
    return out.getvalue()


LONG = (
    "Der Cluster Nord lädt alle Mitglieder zum Netzwerktreffen ein. Im Mittelpunkt stehen Wasserstoff, "
    "Energienetze und die Zusammenarbeit mit Hochschulen der Region."
)


# --- the test site -------------------------------------------------------------------------------


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    hang: float = 0.0
    no_length: bool = False  # no Content-Length: the body ends when the connection closes


@dataclass
class Site:
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [path for path, _, _ in self.requests]


class Handler(BaseHTTPRequestHandler):
    server: SiteServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        site = self.server.site
        headers = {k.lower(): v for k, v in self.headers.items()}
        site.requests.append((self.path, headers, time.monotonic()))
        route = site.routes.get(self.path)
        if route is None:
            self._send(404, b"<html><body>Nicht gefunden</body></html>", "text/html", {})
            return
        if route.hang:
            time.sleep(route.hang)
        fresh = (route.etag and headers.get("if-none-match") == route.etag) or (
            route.last_modified and headers.get("if-modified-since") == route.last_modified
        )
        extra = dict(route.headers)
        if route.etag:
            extra["ETag"] = route.etag
        if route.last_modified:
            extra["Last-Modified"] = route.last_modified
        if fresh:
            self._send(304, b"", "", extra)
            return
        self._send(route.status, route.body, route.content_type, extra, length=not route.no_length)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str], length: bool = True) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for start in range(0, len(body), 16384):
                self.wfile.write(body[start : start + 16384])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the crawler hung up on a too large or too slow answer


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.site = Site()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server():
    httpd = SiteServer()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture(autouse=True)
def _small_limits(monkeypatch):
    monkeypatch.setenv("ASSISTANT_CRAWL_MAX_BYTES", "200000")
    monkeypatch.setenv("ASSISTANT_CRAWL_TIMEOUT", "2")


def run_crawl(capsys, corpus: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["crawl", *argv, "--corpus", str(corpus), "--delay", "0", "--quiet"])
    out, err = capsys.readouterr()
    return code, out, err


def web_files(corpus: Path) -> dict[str, bytes]:
    return {p.relative_to(corpus).as_posix(): p.read_bytes() for p in sorted(corpus.rglob("*")) if p.is_file()}


def build_site(site: Site) -> None:
    site.routes.update(
        {
            "/robots.txt": Route(b"User-agent: *\nDisallow: /privat/\n", content_type="text/plain"),
            "/": Route(
                html(
                    "Willkommen beim Cluster Nord",
                    LONG,
                    links=(
                        "/treffen.html",
                        "news/wasserstoff.html#oben",
                        "/programm.pdf",
                        "/privat/intern.html",
                        "/gross.html",
                        "/bild.png",
                        "/kaputt.html",
                        "/weiter",
                        "/schleife",
                        "http://partner.invalid/seite.html",
                        "mailto:info@example.org",
                    ),
                ),
                etag='"start-1"',
            ),
            "/treffen.html": Route(
                html("Netzwerktreffen in Kiel", "Das Netzwerktreffen findet am 12. Juni 2023 in Kiel statt.", LONG),
                etag='"treffen-1"',
            ),
            "/news/wasserstoff.html": Route(
                html("Wasserstoff-Initiative", "Die Wasserstoff-Initiative fördert 14 Pilotprojekte.", LONG),
                last_modified="Wed, 05 Apr 2023 07:00:00 GMT",
            ),
            "/programm.pdf": Route(
                pdf_bytes("Programm des Clustertags: Vortraege zur Kreislaufwirtschaft"),
                content_type="application/pdf",
                etag='"pdf-1"',
            ),
            "/privat/intern.html": Route(html("Intern", "Nur für Mitarbeiter.", LONG)),
            "/gross.html": Route(html("Groß", "x" * 250_000)),
            "/bild.png": Route(b"\x89PNG\r\n\x1a\n" + b"0" * 100, content_type="image/png"),
            "/kaputt.html": Route(b"Serverfehler", status=500),
            "/weiter": Route(status=302, headers={"Location": "/ziel.html"}),
            "/ziel.html": Route(html("Ziel der Weiterleitung", "Die Geschäftsstelle ist umgezogen.", LONG)),
            "/schleife": Route(status=301, headers={"Location": "/schleife"}),
        }
    )


# --- tests ---------------------------------------------------------------------------------------


def test_links_within_the_site_robots_limits_and_summary(server, tmp_path, capsys):
    build_site(server.site)
    corpus = tmp_path / "corpus"
    code, out, err = run_crawl(capsys, corpus, server.base + "/", "--same-site")
    assert code == 0, err
    host = host_folder(server.base + "/")
    files = web_files(corpus)
    texts = {name: data for name, data in files.items() if name.endswith(".txt")}
    assert len(texts) == 4  # start, treffen, wasserstoff, ziel
    pdfs = [name for name in files if name.endswith(".pdf")]
    assert len(pdfs) == 1 and files[pdfs[0]].startswith(b"%PDF")
    assert all(name.startswith(f"web/{host}/") for name in files)

    treffen = next(name for name in texts if "treffen" in name)
    lines = texts[treffen].decode().split("\n")
    assert lines[0] == "Netzwerktreffen in Kiel" and lines[1] == ""
    assert "12. Juni 2023 in Kiel" in texts[treffen].decode()
    assert "Impressum" not in texts[treffen].decode()  # the footer is no main text
    meta = json.loads(files[treffen + ".meta.json"])
    assert tuple(meta) == META_KEYS
    assert meta["url"] == meta["final_url"] == server.base + "/treffen.html"
    assert meta["etag"] == '"treffen-1"' and meta["last_modified"] is None
    assert meta["published"] == "2023-04-05" and meta["author"] == "Erika Mustermann"
    assert meta["content_type"] == "text/html" and meta["title"] == "Netzwerktreffen in Kiel"
    assert meta["fetched_at"].endswith("Z")
    pdf_meta = json.loads(files[pdfs[0] + ".meta.json"])
    assert pdf_meta["content_type"] == "application/pdf" and pdf_meta["url"] == server.base + "/programm.pdf"

    ziel = next(name for name in texts if "weiter" in name)  # stored under the address linked
    ziel_meta = json.loads(files[ziel + ".meta.json"])
    assert ziel_meta["url"] == server.base + "/weiter" and ziel_meta["final_url"] == server.base + "/ziel.html"

    paths = server.site.paths()
    assert "/privat/intern.html" not in paths  # robots.txt is obeyed
    assert paths.count("/robots.txt") == 1
    assert all(headers["user-agent"] == AGENT for _, headers, _ in server.site.requests)
    assert paths.count("/schleife") == 6  # the first request and five redirects, then it gives up

    assert "Seiten: 5 (5 neu, 0 geändert, 0 entfernt, 0 unverändert)" in out
    assert "Übersprungen: 5 (robots.txt: 1, zu groß: 1, falscher Typ: 1, HTTP-Fehler: 1, Weiterleitungen: 1)" in out
    skipped = {line.split(": ", 1)[0][4:]: line.split(": ", 1)[1] for line in out.splitlines() if line[:4] == "  - "}
    assert skipped[server.base + "/privat/intern.html"] == "robots.txt verbietet den Abruf"
    assert skipped[server.base + "/gross.html"].startswith("zu groß (0.3 MB, Grenze 0.2 MB)")
    assert skipped[server.base + "/bild.png"] == "nicht unterstützter Typ image/png"
    assert skipped[server.base + "/kaputt.html"] == "HTTP-Fehler 500"
    assert skipped[server.base + "/schleife"] == "zu viele Weiterleitungen (mehr als 5)"
    assert "partner.invalid" not in out
    assert "Weiter mit `assistant index`" in out


def test_without_same_site_only_the_start_page_and_its_documents(server, tmp_path, capsys):
    build_site(server.site)
    corpus = tmp_path / "corpus"
    code, out, err = run_crawl(capsys, corpus, server.base + "/")
    assert code == 0, err
    names = sorted(n for n in web_files(corpus) if not n.endswith(".meta.json"))
    assert len(names) == 2 and names[0].endswith("/index-" + names[0][-12:]) and names[1].endswith(".pdf")
    assert "/treffen.html" not in server.site.paths()
    assert "Seiten: 2 (2 neu," in out


def test_second_run_asks_conditionally_and_removes_what_is_gone(server, tmp_path, capsys):
    build_site(server.site)
    corpus = tmp_path / "corpus"
    assert run_crawl(capsys, corpus, server.base + "/", "--same-site")[0] == 0
    host = corpus / "web" / host_folder(server.base + "/")
    own = host / "notiz.txt"  # a file a person put there: no sidecar, never the crawler's
    own.write_text("Eigene Notiz\n\nBleibt.", encoding="utf-8")
    (corpus / "eigenes.txt").write_text("Eigenes Dokument\n\nBleibt auch.", encoding="utf-8")
    before = web_files(corpus)
    server.site.requests.clear()

    code, out, err = run_crawl(capsys, corpus, server.base + "/", "--same-site")
    assert code == 0, err
    assert "Seiten: 5 (0 neu, 0 geändert, 0 entfernt, 5 unverändert)" in out
    assert web_files(corpus) == before
    sent = {path: headers for path, headers, _ in server.site.requests}
    assert sent["/treffen.html"]["if-none-match"] == '"treffen-1"'
    assert sent["/news/wasserstoff.html"]["if-modified-since"] == "Wed, 05 Apr 2023 07:00:00 GMT"
    assert "Weiter mit `assistant index`" not in out

    # The meeting page changes, the hydrogen page is gone, the start page no longer links to it.
    routes = server.site.routes
    routes["/treffen.html"] = Route(
        html("Netzwerktreffen in Kiel", "Das Netzwerktreffen wird auf den 19. Juni 2023 verschoben.", LONG),
        etag='"treffen-2"',
    )
    del routes["/news/wasserstoff.html"]
    routes["/"] = Route(html("Willkommen beim Cluster Nord", LONG, links=("/treffen.html", "/weiter")), etag='"s-2"')
    code, out, err = run_crawl(capsys, corpus, server.base + "/", "--same-site")
    assert code == 0, err
    # The start page's links changed, its main text did not: unchanged, only its sidecar follows.
    assert "Seiten: 5 (0 neu, 1 geändert, 1 entfernt, 3 unverändert)" in out
    after = web_files(corpus)
    gone = [name for name in before if "wasserstoff" in name]
    assert len(gone) == 2 and not any(name in after for name in gone)  # the page and its sidecar
    assert "/news/wasserstoff.html" in server.site.paths()  # asked although nothing links to it
    assert own.read_text(encoding="utf-8").endswith("Bleibt.") and (corpus / "eigenes.txt").exists()
    treffen = next(name for name in after if "treffen" in name and name.endswith(".txt"))
    assert "19. Juni 2023" in after[treffen].decode()
    assert json.loads(after[treffen + ".meta.json"])["etag"] == '"treffen-2"'
    start = next(name for name in after if "/index-" in name and name.endswith(".txt"))
    assert after[start] == before[start] and json.loads(after[start + ".meta.json"])["etag"] == '"s-2"'
    assert any(n.endswith(".pdf") for n in after)  # still stored: only asked, unchanged (304)


def test_a_failed_crawl_loses_nothing(server, tmp_path, capsys):
    build_site(server.site)
    corpus = tmp_path / "corpus"
    assert run_crawl(capsys, corpus, server.base + "/", "--same-site")[0] == 0
    before = web_files(corpus)
    # The server now fails for everything: robots.txt gives 503, so the host is off limits.
    server.site.routes = {"/robots.txt": Route(b"kaputt", status=503)}
    code, out, err = run_crawl(capsys, corpus, server.base + "/", "--same-site")
    assert code == EXIT_ERROR
    assert "Keine Seite konnte abgerufen werden" in err and "Traceback" not in out + err
    assert f"  - {server.base}/: robots.txt nicht abrufbar (HTTP 503), Host übersprungen" in out
    assert web_files(corpus) == before


def test_dry_run_writes_nothing_and_lists_the_changes(server, tmp_path, capsys):
    build_site(server.site)
    corpus = tmp_path / "corpus"
    code, out, err = run_crawl(capsys, corpus, server.base + "/", "--same-site", "--dry-run")
    assert code == 0, err
    assert not corpus.exists()
    assert "(Probelauf: nichts geschrieben)" in out
    assert f"  neu: {server.base}/treffen.html -> web/{host_folder(server.base + '/')}/treffen-" in out
    assert "Weiter mit `assistant index`" not in out

    assert run_crawl(capsys, corpus, server.base + "/", "--same-site")[0] == 0
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in corpus.rglob("*") if p.is_file()}
    server.site.routes["/treffen.html"] = Route(html("Netzwerktreffen in Kiel", "Neu: ein anderer Text.", LONG))
    del server.site.routes["/news/wasserstoff.html"]
    code, out, err = run_crawl(capsys, corpus, server.base + "/", "--same-site", "--dry-run")
    assert code == 0, err
    assert f"  geändert: {server.base}/treffen.html -> " in out
    assert f"  entfernt: {server.base}/news/wasserstoff.html -> " in out
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in corpus.rglob("*") if p.is_file()} == before


def test_sitemap_index_with_gzip_sitemap_from_robots(server, tmp_path, capsys):
    base = server.base
    news = (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{base}/news/a.html</loc><lastmod>2023-04-05</lastmod></url>"
        f"<url><loc>{base}/news/b.html</loc></url>"
        "<url><loc>http://anderer-host.invalid/x.html</loc></url></urlset>"
    )
    pages = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc> {base}/ueber-uns.html </loc></url></urlset>"
    )
    index = (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{base}/sitemap-news.xml.gz</loc></sitemap>"
        f"<sitemap><loc>{base}/sitemap-seiten.xml</loc></sitemap></sitemapindex>"
    )
    server.site.routes.update(
        {
            "/robots.txt": Route(f"User-agent: *\nAllow: /\nSitemap: {base}/sitemap_index.xml\n".encode()),
            "/sitemap_index.xml": Route(index.encode(), content_type="application/xml"),
            "/sitemap-news.xml.gz": Route(gzip.compress(news.encode()), content_type="application/gzip"),
            "/sitemap-seiten.xml": Route(pages.encode(), content_type="text/xml"),
            "/news/a.html": Route(html("Meldung A", "Förderaufruf für Kreislaufwirtschaft gestartet.", LONG)),
            "/news/b.html": Route(html("Meldung B", "Neue Mitglieder im Cluster.", LONG, links=("/nicht.html",))),
            "/ueber-uns.html": Route(html("Über uns", "Der Cluster Nord wurde 2009 gegründet.", LONG)),
            "/nicht.html": Route(html("Nicht in der Sitemap", LONG)),
        }
    )
    code, out, err = run_crawl(capsys, tmp_path / "corpus", base + "/", "--sitemap")
    assert code == 0, err
    assert "Seiten: 3 (3 neu, 0 geändert, 0 entfernt, 0 unverändert)" in out
    assert "/nicht.html" not in server.site.paths()  # no links followed without --same-site
    assert "1 Adresse(n) auf anderen Hosts oder ungültig, übergangen" in out
    titles = sorted(p.read_text(encoding="utf-8").split("\n")[0] for p in (tmp_path / "corpus").rglob("*.txt"))
    assert titles == ["Meldung A", "Meldung B", "Über uns"]


def test_bad_sitemap_names_its_url(server, tmp_path, capsys):
    server.site.routes["/sitemap.xml"] = Route(b"<urlset><url><loc>kaputt", content_type="application/xml")
    corpus = tmp_path / "corpus"
    (corpus / "web").mkdir(parents=True)
    (corpus / "alt.txt").write_text("Alt\n\nBleibt.", encoding="utf-8")
    code, out, err = run_crawl(capsys, corpus, server.base + "/", "--sitemap")  # no robots.txt: /sitemap.xml
    assert code == EXIT_ERROR
    assert f"  - {server.base}/sitemap.xml: Sitemap nicht lesbar: kein gültiges XML" in out
    assert "Traceback" not in out + err
    assert (corpus / "alt.txt").read_text(encoding="utf-8") == "Alt\n\nBleibt."
    with pytest.raises(SitemapError, match="Wurzelelement <html>"):
        parse_sitemap(b"<html><body>keine Sitemap</body></html>", 1000)
    with pytest.raises(SitemapError, match="entpackt größer"):
        parse_sitemap(gzip.compress(b"<urlset>" + b" " * 5000 + b"</urlset>"), 1000)


def test_robots_group_for_our_agent_and_crawl_delay(server, tmp_path, capsys):
    server.site.routes.update(
        {
            "/robots.txt": Route(
                b"User-agent: *\nDisallow: /\n\nUser-agent: Cluster-Dokumenten-Assistent\n"
                b"Disallow: /privat/\nCrawl-delay: 1\n"
            ),
            "/": Route(html("Start", LONG, links=("/a.html", "/privat/b.html"))),
            "/a.html": Route(html("Seite A", LONG)),
            "/privat/b.html": Route(html("Seite B", LONG)),
        }
    )
    code, out, err = run_crawl(capsys, tmp_path / "corpus", server.base + "/", "--same-site")
    assert code == 0, err
    assert "Seiten: 2 (2 neu," in out  # our own group allows what "*" forbids, but not /privat/
    times = {path: at for path, _, at in server.site.requests}
    assert "/privat/b.html" not in times
    assert times["/a.html"] - times["/"] >= 0.9  # Crawl-delay: 1 although --delay 0


def test_bad_addresses_unreachable_hosts_and_timeouts(server, tmp_path, capsys, monkeypatch):
    corpus = tmp_path / "corpus"
    code, _out, err = run_crawl(capsys, corpus, "ftp://example.org/", "keine-adresse")
    assert code == EXIT_ERROR
    assert "Fehler: Keine gültige Web-Adresse" in err and "'ftp://example.org/'" in err and "'keine-adresse'" in err

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, out, err = run_crawl(capsys, corpus, f"http://127.0.0.1:{port}/seite.html")
    assert code == EXIT_ERROR and "Traceback" not in err
    assert f"http://127.0.0.1:{port}/" in out and "nicht erreichbar" in out

    monkeypatch.setenv("ASSISTANT_CRAWL_TIMEOUT", "0.3")
    server.site.routes["/langsam.html"] = Route(html("Langsam", LONG), hang=1.5)
    code, out, err = run_crawl(capsys, corpus, server.base + "/langsam.html")
    assert code == EXIT_ERROR
    assert f"  - {server.base}/langsam.html: Zeitüberschreitung (keine Antwort in 0.3 s)" in out
    assert not corpus.exists()


def test_slugs_and_paths_stay_inside_corpus_web(server, tmp_path, capsys):
    assert normalize_url("HTTP://User:pw@Example.ORG:80/a#b") == "http://example.org/a"
    for url in (
        "http://example.org/../../etc/passwd",
        "http://example.org/%2e%2e/%2e%2e/etc/passwd",
        "http://example.org/a/..%2f..%2f..%2fb.html",
        "http://example.org/%00/\u202e/ä.html",
        "http://example.org/",
    ):
        name = slug(url)
        assert "/" not in name and "\\" not in name and ".." not in name and "\x00" not in name
        assert name.isascii() and not name.startswith(("-", "."))
    assert slug("http://example.org/") != slug("http://example.org/?seite=2")
    assert slug("http://example.org/news/2023/treffen.html").startswith("news-2023-treffen-")
    assert host_folder("http://[::1]:8080/") == "___1__8080" and host_folder("http://127.0.0.1:81/") == "127.0.0.1_81"

    server.site.routes["/%2e%2e/%2e%2e/ausbruch.html"] = Route(html("Ausbruch", LONG))
    server.site.routes["/..%2f..%2fweg.html"] = Route(html("Weg", LONG))
    corpus = tmp_path / "corpus"
    for path in ("/%2e%2e/%2e%2e/ausbruch.html", "/..%2f..%2fweg.html"):
        assert run_crawl(capsys, corpus, server.base + path)[0] == 0
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) == 4
    assert all(p.parent == corpus / "web" / host_folder(server.base + "/") for p in written)

    # A host folder that is a link out of the corpus is not written through.
    outside = tmp_path / "draussen"
    outside.mkdir()
    other = tmp_path / "korpus2"
    (other / "web").mkdir(parents=True)
    (other / "web" / host_folder(server.base + "/")).symlink_to(outside, target_is_directory=True)
    code, _out, err = run_crawl(capsys, other, server.base + "/%2e%2e/%2e%2e/ausbruch.html")
    assert code == EXIT_ERROR and "außerhalb von" in err and "Traceback" not in err
    assert list(outside.iterdir()) == []
    (tmp_path / "korpus3").mkdir()
    (tmp_path / "korpus3" / "web").symlink_to(outside, target_is_directory=True)
    with pytest.raises(CrawlError, match="symbolischer Link"):
        WebStore(tmp_path / "korpus3")


def test_index_and_ask_find_a_crawled_page(server, tmp_path, capsys):
    build_site(server.site)
    corpus = tmp_path / "corpus"
    index = tmp_path / "index"
    (corpus).mkdir()
    (corpus / "eigenes.txt").write_text("Jahresbericht\n\nDer Cluster hat 80 Mitglieder.", encoding="utf-8")
    assert run_crawl(capsys, corpus, server.base + "/", "--same-site")[0] == 0

    def index_run() -> str:
        code = main(["index", "--corpus", str(corpus), "--index", str(index), "--model", "none", "--quiet"])
        out, err = capsys.readouterr()
        assert code == 0, err
        return out

    out = index_run()
    assert "Dokumente: 6 (6 neu, 0 geändert, 0 entfernt, 0 unverändert)" in out  # 4 pages, the PDF, own file
    code = main(
        ["ask", "Wie viele Pilotprojekte fördert die Wasserstoff-Initiative?", "--corpus", str(corpus)]
        + ["--index", str(index), "--model", "none", "--reader", "none", "--answer-mode", "extractive", "--json"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    answer = json.loads(out)
    assert "14" in answer["answer"] and not answer["abstained"]
    assert answer["citations"][0]["doc_id"].startswith(f"web/{host_folder(server.base + '/')}/news-wasserstoff-")
    code = main(
        ["search", "Kreislaufwirtschaft Clustertag", "--corpus", str(corpus), "--index", str(index)]
        + [
            "--model",
            "none",
            "--json",
        ]
    )
    hits = json.loads(capsys.readouterr()[0])["hits"]
    assert hits and hits[0]["doc_id"].endswith(".pdf")  # the linked PDF, read by the PDF loader

    del server.site.routes["/news/wasserstoff.html"]
    assert run_crawl(capsys, corpus, server.base + "/", "--same-site")[0] == 0
    out = index_run()
    assert "(0 neu, 0 geändert, 1 entfernt, 5 unverändert)" in out


def test_a_body_without_length_is_cut_off_at_the_cap(server, tmp_path, capsys):
    server.site.routes["/strom.html"] = Route(html("Strom", "y" * 400_000), no_length=True)
    server.site.routes["/klein.html"] = Route(html("Klein", LONG), no_length=True)
    corpus = tmp_path / "corpus"
    code, out, err = run_crawl(capsys, corpus, server.base + "/strom.html", server.base + "/klein.html")
    assert code == 0, err
    assert f"  - {server.base}/strom.html: zu groß (mehr als 0.2 MB)" in out
    assert [p.read_text(encoding="utf-8").split("\n")[0] for p in corpus.rglob("*.txt")] == ["Klein"]


def test_crawl_settings_are_checked(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ASSISTANT_CRAWL_USER_AGENT", "Bot/1.0 (Kontakt: jörg@example.org)")
    code, _out, err = run_crawl(capsys, tmp_path / "corpus", "http://127.0.0.1:9/")
    assert code == 2 and "crawl_user_agent" in err and "ASCII" in err
    monkeypatch.delenv("ASSISTANT_CRAWL_USER_AGENT")
    monkeypatch.setenv("ASSISTANT_CRAWL_TIMEOUT", "0")
    code, _out, err = run_crawl(capsys, tmp_path / "corpus", "http://127.0.0.1:9/")
    assert code == 2 and "crawl_timeout=0.0 muss eine Zahl größer als 0 sein" in err
    with pytest.raises(SystemExit):
        main(["crawl", "http://127.0.0.1:9/", "--max-pages", "0"])
    assert "ungültige Zahl '0'" in capsys.readouterr()[1]


def test_crawl_options_reach_the_library(server, tmp_path):
    """The library call without the command line: the report's entries and max_pages."""
    build_site(server.site)
    settings = Settings.load(corpus_dir=tmp_path / "corpus")
    report = crawl(settings, CrawlOptions(urls=(server.base + "/",), same_site=True, max_pages=2, delay=0.0))
    assert [c.status for c in report.changes] == ["new", "new"]
    assert report.not_fetched > 0
    assert report.changes[0].path.startswith("web/")


def test_max_pages_is_reported(server, tmp_path, capsys):
    build_site(server.site)
    code, out, err = run_crawl(capsys, tmp_path / "corpus", server.base + "/", "--same-site", "--max-pages", "3")
    assert code == 0, err
    assert "Seiten: 3 (3 neu," in out
    assert "Grenze von 3 Seiten erreicht: 7 gefundene Seite(n) nicht abgerufen (--max-pages)." in out


ARTICLE = (
    "Das Land startet den Förderaufruf Digitalbonus Mittelstand für kleine und mittlere Unternehmen. "
    "Gefördert werden Investitionen in Hard- und Software mit bis zu 10.000 Euro je Unternehmen, "
    "dazu Beratung zur Informationssicherheit und Schulungen der Beschäftigten. Anträge sind bis zum "
    "31. Januar 2024 über das Förderportal des Landes einzureichen; die Auswahl trifft eine Jury aus "
    "Wirtschaft und Wissenschaft. Unternehmen, die teilnehmen möchten, reichen zunächst eine kurze "
    "Projektskizze bei ihrem Cluster ein und stellen danach den Antrag online. Die Clustermanagements "
    "beraten bei der Skizze und vermitteln Partner aus der Region."
)


def sitemap(base: str, *paths: str) -> Route:
    urls = "".join(f"<url><loc>{base}{path}</loc></url>" for path in paths)
    xml = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    return Route(xml.encode(), content_type="application/xml")


def test_two_sites_crawled_asked_with_urls_reposts_merged_and_one_change_updated(server, tmp_path, capsys):
    """The issue's "done when": crawl a sitemap, ask, the citation carries the page's URL; the
    same article reposted on a second site (another port) is one search result naming the copy;
    after one page changed a re-crawl fetches that page only and `assistant index` updates one
    document."""
    second = SiteServer()
    thread = threading.Thread(target=second.serve_forever, daemon=True)
    thread.start()
    try:
        a, b = server.site.routes, second.site.routes
        a["/sitemap.xml"] = sitemap(server.base, "/news/digitalbonus.html", "/treffen.html")
        a["/news/digitalbonus.html"] = Route(html("Digitalbonus Mittelstand", ARTICLE), etag='"bonus-1"')
        a["/treffen.html"] = Route(
            html("Netzwerktreffen in Kiel", "Das Netzwerktreffen findet am 12. Juni 2023 in Kiel statt.", LONG),
            etag='"treffen-1"',
        )
        b["/sitemap.xml"] = sitemap(second.base, "/aktuelles/digitalbonus.html")
        b["/aktuelles/digitalbonus.html"] = Route(
            html("Digitalbonus Mittelstand", "Eine Meldung unseres Partnernetzwerks.", ARTICLE), etag='"b-1"'
        )
        corpus, index = tmp_path / "corpus", tmp_path / "index"
        for site in (server.base, second.base):
            code, out, err = run_crawl(capsys, corpus, site + "/sitemap.xml", "--sitemap")
            assert code == 0, err
        common = ["--corpus", str(corpus), "--index", str(index), "--model", "none"]
        assert main(["index", *common, "--quiet"]) == 0
        out = capsys.readouterr()[0]
        assert "Dokumente: 3 (3 neu" in out

        question = "Bis wann sind Anträge für den Digitalbonus Mittelstand einzureichen?"
        assert main(["ask", question, *common, "--reader", "none", "--answer-mode", "extractive", "--json"]) == 0
        answer = json.loads(capsys.readouterr()[0])
        first = answer["citations"][0]
        assert "31. Januar 2024" in answer["answer"]
        pages = {server.base + "/news/digitalbonus.html", second.base + "/aktuelles/digitalbonus.html"}
        assert first["url"] in pages  # the original, one click away
        (other,) = first["also_published"]  # the repost on the other site, named, not a second result
        assert other != first["doc_id"] and other.startswith("web/")
        assert main(["search", "Digitalbonus Mittelstand Förderportal", *common, "--json"]) == 0
        hits = json.loads(capsys.readouterr()[0])["hits"]
        assert sum("digitalbonus" in h["doc_id"] for h in hits) == 1

        a["/treffen.html"] = Route(
            html("Netzwerktreffen in Kiel", "Das Netzwerktreffen wird auf den 19. Juni 2023 verschoben.", LONG),
            etag='"treffen-2"',
        )
        server.site.requests.clear()
        code, out, err = run_crawl(capsys, corpus, server.base + "/sitemap.xml", "--sitemap")
        assert code == 0, err
        assert "Seiten: 2 (0 neu, 1 geändert, 0 entfernt, 1 unverändert)" in out
        fetched = [path for path, headers, _ in server.site.requests if path.endswith(".html")]
        assert sorted(fetched) == ["/news/digitalbonus.html", "/treffen.html"]  # asked; only one answered 200
        assert main(["index", *common, "--quiet"]) == 0
        assert "(0 neu, 1 geändert, 0 entfernt, 2 unverändert)" in capsys.readouterr()[0]
        assert main(["ask", "Wann findet das Netzwerktreffen in Kiel statt?", *common, "--reader", "none"]) == 0
        assert "19. Juni 2023" in capsys.readouterr()[0]
    finally:
        second.shutdown()
        second.server_close()
        thread.join(5)
