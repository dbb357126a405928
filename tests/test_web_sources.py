"""Web pages as sources (issue 15): the page's address and publication date from its sidecar
``<file>.meta.json`` reach citations (``ask --json``), source cards and the document view as a
link to the site; bad sidecars cost only that, with a German warning naming the file; a changed
sidecar updates its document alone; navigation and cookie lines never reach a chunk.

Offline and lexical-only; the browser test runs in Debian's chromium (skipped without it).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from conftest import CORPUS, lexical_index

from assistant.cli import EXIT_ERROR, main
from assistant.config import Settings
from assistant.index.build import build_index
from assistant.index.format import FORMAT_VERSION, current_generation
from assistant.index.freshness import needs_rebuild
from assistant.index.reader import load_index
from assistant.ingest.boilerplate import is_boilerplate, removed_lines
from assistant.ingest.corpus import CorpusFile, scan_corpus
from assistant.ingest.parsers import load_document
from assistant.types import Document
from assistant.ui.render import render_document, render_sources, source_entries

pytestmark = [  # Gradio's own pandas warnings in the browser test, as in the other chat tests
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

PAGE = "web/clusterplattform.de/foerderung.txt"
PAGE_TEXT = (
    "Innovationsgutscheine für Clustermitglieder\n\n"
    "Das Programm Innovationsgutschein Nord erstattet kleinen Unternehmen bis zu 15.000 Euro "
    "für Beratung durch Hochschulen.\n"
)
OTHER = "notiz.txt"
OTHER_TEXT = "Interne Notiz\n\nDas Netzwerktreffen Wasserstoff Lippe findet in Detmold statt.\n"
FINAL_URL = "https://www.clusterplattform.de/foerderung/innovationsgutschein"
QUESTION = "Wie viel erstattet der Innovationsgutschein Nord?"


def sidecar(path: Path, **fields: object) -> Path:
    """The crawler's sidecar beside ``path`` (the keys of the contract with `assistant crawl`)."""
    data: dict[str, object] = {
        "url": "http://clusterplattform.de/foerderung",
        "final_url": FINAL_URL,
        "fetched_at": "2024-03-14T08:00:00+00:00",
        "etag": '"abc"',
        "last_modified": "Tue, 12 Mar 2024 09:00:00 GMT",
        "published": "2024-03-12",
        "author": "Redaktion",
        "title": "Innovationsgutscheine",
        "content_type": "text/html; charset=utf-8",
    }
    data.update(fields)
    meta = path.with_name(path.name + ".meta.json")
    meta.write_text(json.dumps(data), encoding="utf-8")
    return meta


@pytest.fixture
def web_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    page = corpus / PAGE
    page.parent.mkdir(parents=True)
    page.write_text(PAGE_TEXT, encoding="utf-8")
    sidecar(page)
    (corpus / OTHER).write_text(OTHER_TEXT, encoding="utf-8")
    return corpus


def cli_args(corpus: Path, index: Path, *extra: str) -> list[str]:
    return ["--index", str(index), "--corpus", str(corpus), "--model", "none", "--answer-mode", "extractive", *extra]


def ask_json(capsys, corpus: Path, index: Path, question: str, *extra: str) -> dict:
    capsys.readouterr()
    assert main(["ask", question, *cli_args(corpus, index, "--json", *extra)]) == 0
    return json.loads(capsys.readouterr().out)


def touch_later(path: Path) -> None:
    """A modification time surely after the last build's (coarse file system clocks)."""
    stamp = time.time_ns() + 2_000_000_000
    os.utime(path, ns=(stamp, stamp))


# --- sidecar -> citation ----------------------------------------------------------------------


def test_sidecar_url_and_date_reach_ask_json(tmp_path, web_corpus, capsys):
    index = tmp_path / "index"
    assert main(["index", *cli_args(web_corpus, index)[:6]]) == 0
    out = capsys.readouterr()
    assert "Dokumente: 2 (2 neu" in out.out and "meta.json" not in out.out + out.err  # no document, no warning
    result = ask_json(capsys, web_corpus, index, QUESTION)
    first = result["citations"][0]
    assert first["doc_id"] == PAGE and "15.000 Euro" in first["quote"]
    assert first["url"] == FINAL_URL  # final_url wins over url
    assert first["date"] == "12. März 2024"  # the publication date, though the text names none
    data = load_index(index)
    try:
        doc = data.documents[PAGE]
        assert doc.text[first["start"] : first["end"]] == first["quote"]
        assert doc.url == FINAL_URL and doc.published is not None and doc.published.offset == -1
        assert doc.dates == ()  # the date is not in the text
    finally:
        data.close()
    assert main(["ask", QUESTION, *cli_args(web_corpus, index)]) == 0
    text = capsys.readouterr().out
    assert "(web/clusterplattform.de/foerderung.txt, 12. März 2024)\n    „Das Programm" in text
    assert f"für Beratung durch Hochschulen.“\n    Original: {FINAL_URL}\n" in text
    other = ask_json(capsys, web_corpus, index, "Wo findet das Netzwerktreffen Wasserstoff Lippe statt?")
    assert other["citations"][0]["doc_id"] == OTHER and other["citations"][0]["url"] is None  # null, not missing
    # The publication date serves the date filter as a date written in the text does.
    within = ask_json(capsys, web_corpus, index, QUESTION, "--from", "2024-03-01", "--to", "2024-03-31")
    assert [c["doc_id"] for c in within["citations"]] == [PAGE]
    outside = ask_json(capsys, web_corpus, index, QUESTION, "--from", "2023-01-01", "--to", "2023-12-31")
    assert not outside["citations"]


def test_url_without_final_url_and_iso_time_as_published(tmp_path, web_corpus):
    page = web_corpus / PAGE
    sidecar(page, final_url=None, published="2024-03-12T09:30:00+01:00")
    settings = lexical_index(web_corpus, tmp_path / "index")
    data = load_index(settings.index_dir)
    try:
        doc = data.documents[PAGE]
        assert doc.url == "http://clusterplattform.de/foerderung"
        assert doc.date is not None and doc.date.text == "12. März 2024"
    finally:
        data.close()


# --- bad sidecars -----------------------------------------------------------------------------

BAD_SIDECARS = {
    "leer": (b"", "leer"),
    "kaputt": (b'{"url": "https://a.example/x", ', "kein gültiges JSON (Zeile 1"),
    "liste": (b'["https://a.example/x"]', "kein JSON-Objekt"),
    "latin1": ('{"author": "Müller"}'.encode("latin-1"), "kein UTF-8"),
    "typen": (b'{"url": 42, "final_url": ["x"], "published": 2024}', "„final_url“ ist keine http(s)-Adresse"),
    "javascript": (b'{"url": "javascript:alert(1)"}', "„url“ ist keine http(s)-Adresse"),
    "data": (b'{"final_url": "data:text/html,<script>alert(1)</script>"}', "„final_url“ ist keine http(s)-Adresse"),
    "ohne-host": (b'{"url": "https:///pfad"}', "„url“ ist keine http(s)-Adresse"),
    "leerzeichen": (b'{"url": "https://a.example/x y"}', "„url“ ist keine http(s)-Adresse"),
    "datum": (b'{"url": "https://a.example/x", "published": "gestern"}', "„published“ ist kein Datum"),
    "unmoeglich": (b'{"published": "2024-02-30"}', "„published“ ist kein Datum"),
}


@pytest.mark.parametrize("case", sorted(BAD_SIDECARS))
def test_bad_sidecar_is_named_and_costs_only_its_fields(tmp_path, web_corpus, case):
    raw, reason = BAD_SIDECARS[case]
    meta = web_corpus / (PAGE + ".meta.json")
    meta.write_bytes(raw)
    settings = Settings(corpus_dir=web_corpus, index_dir=tmp_path / "index", model="none", reader="none")
    report = build_index(settings)
    assert sorted(report.added) == sorted([PAGE, OTHER]) and not report.skipped
    named = [w for w in report.warnings if PAGE + ".meta.json" in w]
    assert named and reason in named[0] and "ohne diese Angabe indexiert" in named[0], report.warnings
    data = load_index(settings.index_dir)
    try:
        doc = data.documents[PAGE]
        assert doc.text.startswith("Innovationsgutscheine")
        expected_url = "https://a.example/x" if case == "datum" else None
        assert doc.url == expected_url and doc.published is None
    finally:
        data.close()


def test_hostile_final_url_falls_back_to_url(tmp_path, web_corpus):
    sidecar(web_corpus / PAGE, final_url="javascript:alert(1)", url="https://clusterplattform.de/a")
    report = build_index(Settings(corpus_dir=web_corpus, index_dir=tmp_path / "index", model="none", reader="none"))
    assert any("„final_url“ ist keine http(s)-Adresse" in w for w in report.warnings)
    data = load_index(tmp_path / "index")
    try:
        assert data.documents[PAGE].url == "https://clusterplattform.de/a"
    finally:
        data.close()


def test_sidecars_that_are_no_plain_file_are_not_read(tmp_path, web_corpus):
    """A pipe would block the build, a link could lead out of the corpus, a huge file is no
    sidecar: each is named among the skipped files, and its document is indexed without it."""
    outside = tmp_path / "geheim.json"
    outside.write_text(json.dumps({"url": "https://evil.example/"}), encoding="utf-8")
    (web_corpus / "a.txt").write_text("Erstes Dokument über Kooperation.", encoding="utf-8")
    (web_corpus / "b.txt").write_text("Zweites Dokument über Förderung.", encoding="utf-8")
    (web_corpus / "c.txt").write_text("Drittes Dokument über Weiterbildung.", encoding="utf-8")
    os.mkfifo(web_corpus / "a.txt.meta.json")
    (web_corpus / "b.txt.meta.json").symlink_to(outside)
    (web_corpus / "c.txt.meta.json").write_bytes(b'{"url": "https://a.example/"' + b" " * (1 << 20) + b"}")
    (web_corpus / "verwaist.txt.meta.json").write_text("{}", encoding="utf-8")  # its document is gone
    settings = Settings(corpus_dir=web_corpus, index_dir=tmp_path / "index", model="none", reader="none")
    report = build_index(settings)
    skipped = {s.path: s.reason for s in report.skipped}
    assert "keine gewöhnliche Datei" in skipped["a.txt.meta.json"]
    assert "keine gewöhnliche Datei" in skipped["b.txt.meta.json"]
    assert "zu groß" in skipped["c.txt.meta.json"]
    assert "ohne indexierbares Dokument verwaist.txt" in skipped["verwaist.txt.meta.json"]
    assert sorted(report.added) == sorted(["a.txt", "b.txt", "c.txt", PAGE, OTHER])  # no .meta.json is a document
    data = load_index(settings.index_dir)
    try:
        assert [data.documents[d].url for d in ("a.txt", "b.txt", "c.txt")] == [None, None, None]
    finally:
        data.close()


# --- a changed sidecar updates its document alone -----------------------------------------------


def test_changed_sidecar_updates_that_document_only(tmp_path, web_corpus, capsys):
    settings = Settings(corpus_dir=web_corpus, index_dir=tmp_path / "index", model="none", reader="none")
    build_index(settings)
    assert needs_rebuild(settings) is None
    meta = sidecar(web_corpus / PAGE, final_url="https://clusterplattform.de/neu", published="2024-04-02")
    touch_later(meta)
    assert needs_rebuild(settings) == "Korpus geändert: 1 geändert"  # the page file itself is unchanged
    report = build_index(settings)
    assert report.changed == [PAGE] and report.added == [] and report.unchanged == 1
    result = ask_json(capsys, web_corpus, settings.index_dir, QUESTION)
    assert result["citations"][0]["url"] == "https://clusterplattform.de/neu"
    assert result["citations"][0]["date"] == "2. April 2024"
    # A sidecar added to a document without one, and one removed, update those documents too.
    other_meta = sidecar(web_corpus / OTHER, final_url="https://lippe.example/treffen", published=None)
    meta.unlink()
    touch_later(other_meta)
    report = build_index(settings)
    assert sorted(report.changed) == sorted([PAGE, OTHER]) and report.unchanged == 0
    data = load_index(settings.index_dir)
    try:
        assert data.documents[PAGE].url is None and data.documents[PAGE].published is None
        assert data.documents[OTHER].url == "https://lippe.example/treffen"
    finally:
        data.close()
    assert build_index(settings).up_to_date


def test_scan_hashes_file_and_sidecar_together(web_corpus):
    files, _ = scan_corpus(web_corpus, 1_000_000)
    page = next(f for f in files if f.doc_id == PAGE)
    assert page.sidecar is not None and len(page.stats) == 4
    sidecar(web_corpus / PAGE, author="Jemand anderes")
    again = next(f for f in scan_corpus(web_corpus, 1_000_000)[0] if f.doc_id == PAGE)
    assert again.content_hash != page.content_hash  # the sidecar's content alone changed it


# --- an index written before sidecars ------------------------------------------------------------


def test_index_of_the_previous_format_is_rebuilt_with_the_message(tmp_path, web_corpus, capsys):
    index = tmp_path / "index"
    build_index(Settings(corpus_dir=web_corpus, index_dir=index, model="none", reader="none"))
    generation = current_generation(index)
    assert generation is not None
    manifest = generation / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text("utf-8")), "format_version": 4}), "utf-8")
    capsys.readouterr()
    assert main(["ask", QUESTION, *cli_args(web_corpus, index)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"hat Format 4, erwartet {FORMAT_VERSION}; `assistant index` baut ihn neu." in err
    assert "Traceback" not in err
    assert main(["index", *cli_args(web_corpus, index)[:6]]) == 0
    assert "Vollständig neu gebaut: bisheriger Index nicht nutzbar" in capsys.readouterr().out
    assert ask_json(capsys, web_corpus, index, QUESTION)["citations"][0]["url"] == FINAL_URL


def test_document_lines_without_url_read_as_none():
    """A stored document line of format 4 (no "url", no "published") reads with neither."""
    line = {"id": "a.txt", "text": "x", "title": "A", "content_hash": "0" * 64, "source_path": "a.txt"}
    doc = Document.from_json(line)
    assert doc.url is None and doc.published is None and doc.date is None
    assert Document.from_json(doc.to_json()) == doc


# --- the site as a link on the card and in the document view ------------------------------------


def test_card_and_document_view_link_the_site(tmp_path, web_corpus):
    from assistant.pipeline import Assistant

    settings = lexical_index(web_corpus, tmp_path / "index")
    assistant = Assistant.open(settings)
    try:
        answer = assistant.ask(QUESTION)
        entries = source_entries(answer, assistant.index)
        assert entries[0]["url"] == FINAL_URL
        link = (
            f'<a class="quelle-link" href="{FINAL_URL}" target="_blank" rel="noopener noreferrer" '
            f'title="Originalseite öffnen: {FINAL_URL}">clusterplattform.de</a>'
        )
        cards = render_sources(entries, 1, QUESTION, assistant.index)
        assert link in cards and "12. März 2024" in cards
        view = render_document(assistant.index, entries[0])
        assert link in view and "12. März 2024" in view
        # An entry from a stored conversation may carry anything: only http(s) becomes a link.
        for hostile in ("javascript:alert(1)", "data:text/html,<b>x</b>", "JaVaScRiPt:alert(1)", "//evil.example/"):
            shown = render_sources([{**entries[0], "url": hostile}], 1, QUESTION, assistant.index)
            assert "<a " not in shown and "evil" not in shown and "javascript" not in shown.lower()
        quoted = render_sources([{**entries[0], "url": 'https://a.example/"><script>x()</script>'}], 1, "", None)
        assert "<script>" not in quoted and 'href="https://a.example/&quot;&gt;&lt;script&gt;' in quoted
    finally:
        assistant.index.close()


@pytest.mark.browser
def test_browser_card_links_the_site_and_never_a_script(tmp_path, page):
    from playwright.sync_api import expect
    from ui_support import Server, ask_in_browser, shot

    srv = Server(tmp_path)
    try:
        corpus = srv.settings.corpus_dir
        web = corpus / PAGE
        web.parent.mkdir(parents=True)
        web.write_text(PAGE_TEXT, encoding="utf-8")
        sidecar(web)
        hostile = corpus / "web" / "boese.example" / "treffen.txt"
        hostile.parent.mkdir(parents=True)
        hostile.write_text(OTHER_TEXT, encoding="utf-8")
        sidecar(hostile, final_url="javascript:window.__pwned=1", url="data:text/html,<script>1</script>")
        report = srv.service.reindex()
        assert sum("boese.example/treffen.txt.meta.json" in w for w in report.warnings) == 2

        page.goto(srv.url)
        card = ask_in_browser(page, QUESTION)
        expect(card).to_contain_text("15.000 Euro")
        link = card.locator("a.quelle-link")
        expect(link).to_have_text("clusterplattform.de")
        assert link.get_attribute("href") == FINAL_URL
        assert link.get_attribute("target") == "_blank" and link.get_attribute("rel") == "noopener noreferrer"
        expect(card.locator(".quelle-meta")).to_contain_text("12. März 2024")
        card.get_by_role("button", name="Im Dokument anzeigen").click()
        expect(page.locator("#dokument a.quelle-link")).to_have_attribute("href", FINAL_URL)
        shot(page, "web-quelle-link.png")

        card = ask_in_browser(page, "Wo findet das Netzwerktreffen Wasserstoff Lippe statt?")
        expect(page.locator("#quellen")).to_contain_text("Detmold")
        assert card.locator("a").count() == 0  # a sidecar's javascript: or data: address is no link
        live = page.locator('a[href^="javascript:" i], a[href^="data:" i]')
        assert live.count() == 0, live.evaluate_all("l => l.map(a => a.href)")
        assert page.evaluate("window.__pwned") is None
        shot(page, "web-quelle-ohne-link.png")
    finally:
        srv.close()


# --- boilerplate out -----------------------------------------------------------------------------

WEB_COPY = (
    """Skip to main content
Zum Inhalt springen
Wir verwenden Cookies, um Ihnen ein optimales Webseiten-Erlebnis zu bieten.
Cookie-Einstellungen
Alle akzeptieren
Startseite > Aktuelles > Förderung
Meldung

Neue Förderrunde für Cluster

Die Meldung ging am 3. Mai 2024 an alle Mitglieder des Netzwerks.
Teilen Sie uns bis Ende Mai mit, ob Sie teilnehmen.
Wir verwenden Cookies nicht für Werbung, sondern messen nur, wie oft diese Förderrunde gelesen wird; """
    + ("dieser lange Absatz ist Inhalt, kein Banner. " * 3)
    + """
Teilen
Share on Facebook
Share on LinkedIn
Share on X
Drucken
Nach oben
Zurück zur Übersicht
"""
)
KEPT = [
    "",
    "Neue Förderrunde für Cluster",
    "",
    "Die Meldung ging am 3. Mai 2024 an alle Mitglieder des Netzwerks.",
    "Teilen Sie uns bis Ende Mai mit, ob Sie teilnehmen.",
]


def test_boilerplate_lines_leave_the_text_and_the_chunks(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "seite.txt").write_text(WEB_COPY, encoding="utf-8")
    doc = load_document(CorpusFile("seite.txt", corpus / "seite.txt", "0" * 64, len(WEB_COPY.encode())))
    lines = doc.text.splitlines()
    assert lines[:5] == KEPT and lines[5].startswith("Wir verwenden Cookies nicht für Werbung") and len(lines) == 6
    assert doc.title == "Neue Förderrunde für Cluster"
    assert [d.text for d in doc.dates] == ["3. Mai 2024"] and doc.text[doc.dates[0].offset :].startswith("3. Mai")
    index = tmp_path / "index"
    assert main(["index", *cli_args(corpus, index)[:6]]) == 0
    data = load_index(index)
    try:
        chunks = [data.chunks[int(r)] for r in data.doc_rows["seite.txt"]]
        assert chunks and not any(
            re.search(r"Skip to|Cookie-Einst|Share on|Nach oben|Übersicht", c.text) for c in chunks
        )
    finally:
        data.close()
    result = ask_json(capsys, corpus, index, "Wann ging die Meldung an die Mitglieder?")
    first = result["citations"][0]
    assert first["quote"] == doc.text[first["start"] : first["end"]] and "3. Mai 2024" in first["quote"]


def test_html_page_loses_its_navigation_lines(tmp_path):
    page = tmp_path / "seite.html"
    page.write_text(
        "<html><body><main><p>Zum Inhalt springen</p><p>Startseite › Presse › Meldung</p>"
        "<h1>Clustertreffen in Jena</h1><p>Das Clustertreffen Photonik findet am 5. Juni 2024 in Jena statt.</p>"
        "<p>Teilen</p><p>Drucken</p><p>Nach oben</p></main></body></html>",
        encoding="utf-8",
    )
    doc = load_document(CorpusFile("seite.html", page, "0" * 64, page.stat().st_size))
    assert "Das Clustertreffen Photonik findet am 5. Juni 2024 in Jena statt." in doc.text
    assert not any(is_boilerplate(line) for line in doc.text.splitlines()), doc.text
    assert not re.search(r"Zum Inhalt|Startseite|Teilen|Drucken|Nach oben", doc.text), doc.text


@pytest.mark.parametrize(
    "line",
    [
        "Die Meldung ging an alle Mitglieder.",
        "Meldung vom 3. Mai: neue Förderrunde",
        "Teilen Sie uns Ihre Meinung mit.",
        "Drucken Sie das Formular aus und senden Sie es zurück.",
        "Zurück zur Übersicht aller Förderprogramme geht es über das Menü oben.",
        "Auf der Startseite finden Sie alle Termine.",
        "X",
        "E-Mail",
        "YouTube",  # a GermanQuAD article's title line: a network's name alone may be a heading
        "LinkedIn",
        "Wir verwenden Cookies, " + "und dieser Satz ist länger als jede Bannerzeile, " * 5,
    ],
)
def test_sentences_with_such_words_stay(line):
    assert not is_boilerplate(line)


def test_shipped_corpus_loses_two_lines_and_stays_unchanged():
    """What the rule removes from corpus/ (at parsing; the files themselves stay as they are)."""
    removed = {p.name: removed_lines(p.read_text(encoding="utf-8")) for p in sorted(CORPUS.glob("*.txt"))}
    assert {k: v for k, v in removed.items() if v} == {
        "2017-05-balticnet-plasmatec-cluster-excellence-training.txt": ["Meldung"],
        "2022-10-niro-clustererfolg.txt": ["Skip to main content"],
    }
