"""Loaders on small real files: txt/md/html/pdf/docx, bad input, corpus scanning."""

from __future__ import annotations

import hashlib
import io
import os
import random
import threading
import zipfile
from datetime import date
from pathlib import Path

import pytest
from hostile_files import docx_bytes
from reportlab.lib import pdfencrypt
from reportlab.pdfgen import canvas

from assistant.errors import CorpusError, DocumentError
from assistant.ingest import parsers, walk
from assistant.ingest.corpus import CorpusFile, Skipped, file_stats, scan_corpus
from assistant.ingest.parsers import decode_text, guess_title, load_document

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
GERMAN = "Förderung für Größe: Die Straße zum Erfolg führt über Kooperation und Austausch."
BIG = 10_000_000


# --- helpers -----------------------------------------------------------------------------------


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def corpus_file(path: Path, root: Path | None = None) -> CorpusFile:
    root = root or path.parent
    raw = path.read_bytes()
    return CorpusFile(path.relative_to(root).as_posix(), path, hashlib.sha256(raw).hexdigest(), len(raw))


def load(path: Path, root: Path | None = None):
    return load_document(corpus_file(path, root))


def reason_of(path: Path) -> str:
    with pytest.raises(DocumentError) as info:
        load(path)
    err = info.value
    assert err.path == path.name
    assert err.reason and err.reason in str(err)
    return err.reason


def pdf_bytes(pages: list[list[str]], title: str | None = None, encrypt=None) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, encrypt=encrypt)
    if title is not None:
        pdf.setTitle(title)
    for lines in pages:
        text = pdf.beginText(72, 760)
        text.setFont("Helvetica", 11)
        for line in lines:
            text.textLine(line)
        pdf.drawText(text)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


PDF_PAGES = [
    ["Jahresbericht Clustermanagement", "Die Förderung für Größe und Wachstum begann 2019."],
    ["Zweite Seite: Kooperation mit Partnern", "Am 9. Mai 2022 fand ein Treffen in Köln statt."],
]


ARTICLE_HTML = """<!DOCTYPE html>
<html lang="de">
<head>
<meta charset="utf-8">
<title>Clusterportal – Neuigkeiten</title>
<style>body { font-family: sans-serif; } .STILREGEL { color: red; }</style>
<script>var trackingCode = "KOPFSKRIPT-12345"; function zaehle() { return 42; }</script>
</head>
<body>
<header><div class="logo">Clusterportal Logo-Kopfzeile</div></header>
<nav class="menu"><ul>
<li><a href="/">Startseite</a></li><li><a href="/projekte">Projektübersicht Menüpunkt</a></li>
<li><a href="/kontakt">Kontaktformular Menüpunkt</a></li><li><a href="/login">Anmeldung für Mitglieder</a></li>
</ul></nav>
<main>
<article>
<h1>Netzwerktreffen der Innovationscluster in Dortmund</h1>
<p>Am 12. März 2023 trafen sich rund achtzig Vertreterinnen und Vertreter aus Unternehmen, Hochschulen
und Verbänden in der Zeche Zollern, um über die Zukunft der regionalen Innovationsförderung zu sprechen.</p>
<p>Im Mittelpunkt stand die Frage, wie kleine und mittlere Unternehmen leichter Zugang zu Förderprogrammen
erhalten können. Die Teilnehmenden diskutierten in mehreren Arbeitsgruppen über Digitalisierung,
Fachkräftesicherung und nachhaltige Produktion.</p>
<p>Besonders gelobt wurde die enge Zusammenarbeit zwischen den Clustern. Gemeinsame Projekte sollen künftig
stärker sichtbar gemacht werden, damit auch Betriebe aus dem ländlichen Raum davon profitieren.</p>
<p>Zum Abschluss kündigten die Veranstalter an, das Treffen im kommenden Jahr in Münster fortzusetzen und
dabei auch internationale Partner aus den Niederlanden einzuladen.</p>
</article>
</main>
<aside>Werbung: Jetzt Newsletter abonnieren und nichts verpassen!</aside>
<footer><p>Impressum Fußzeile · Datenschutzerklärung · Cookie-Einstellungen © 2023 Clusterportal</p></footer>
<script>document.write("SPAETERSKRIPT-67890");</script>
</body>
</html>
"""
HTML_BOILERPLATE = [
    "KOPFSKRIPT",
    "SPAETERSKRIPT",
    "trackingCode",
    "STILREGEL",
    "font-family",
    "Menüpunkt",
    "Anmeldung für Mitglieder",
    "Logo-Kopfzeile",
    "Impressum",
    "Datenschutzerklärung",
    "Newsletter",
]


# --- text formats ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoding, prefix",
    [
        ("utf-8", b""),
        ("utf-8", b"\xef\xbb\xbf"),
        ("cp1252", b""),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-16-le", b""),  # UTF-16 without BOM, recognised by its zero bytes
    ],
)
def test_txt_encodings(tmp_path, encoding, prefix):
    content = f"Meldung\n\n{GERMAN}\r\nMehr dazu am 17.05.2017 in Berlin.\n"
    raw = prefix + content.encode(encoding)
    path = write(tmp_path / "bericht.txt", raw)
    doc = load(path)
    assert "Förderung für Größe" in doc.text
    assert "\ufeff" not in doc.text and "\r" not in doc.text and "\x00" not in doc.text
    assert doc.text.startswith("\nFörderung")  # "Meldung" alone on a line is boilerplate (ingest/boilerplate.py)
    assert doc.title == GERMAN  # "Meldung" is boilerplate, the next line is the title
    assert doc.id == doc.source_path == "bericht.txt"
    assert doc.fmt == "txt"
    assert doc.content_hash == hashlib.sha256(raw).hexdigest()
    assert [(d.start, d.precision) for d in doc.dates] == [(date(2017, 5, 17), "day")]


def test_cp1252_short_umlaut_text(tmp_path):
    raw = "Förderung für Größe".encode("cp1252")
    assert b"\xf6" in raw and b"\xdf" in raw  # really not UTF-8
    assert load(write(tmp_path / "kurz.txt", raw)).text == "Förderung für Größe"


def test_cp1252_specials(tmp_path):
    text = "„Zitat“ – Preis: 5 € für Öl, Äpfel und Übermaß."
    assert load(write(tmp_path / "a.txt", text.encode("cp1252"))).text == text


def test_decode_text_direct():
    assert decode_text("Grüße".encode(), "x") == "Grüße"
    assert decode_text(b"\xef\xbb\xbfGr\xc3\xbc\xc3\x9fe", "x") == "Grüße"
    assert decode_text("Grüße aus Köln".encode("utf-16"), "x") == "Grüße aus Köln"
    with pytest.raises(DocumentError, match="Binär"):
        decode_text(b"\x00\x01\x02\x03" * 100, "x")


def test_markdown_title_from_heading(tmp_path):
    md = "Einleitender Hinweis ohne Bedeutung\n\n# Cluster-Strategie 2030\n\nText zur **Förderung** für Größe.\n"
    doc = load(write(tmp_path / "strategie.md", md))
    assert doc.title == "Cluster-Strategie 2030"
    assert doc.fmt == "md"
    assert "Förderung" in doc.text


def test_markdown_heading_does_not_span_lines(tmp_path):
    md = "Vorspann über die Förderung\n#\nZweite Zeile mit Text\n"
    doc = load(write(tmp_path / "notiz.md", md))
    assert doc.title == "Vorspann über die Förderung"


def test_markdown_closing_hashes_removed(tmp_path):
    doc = load(write(tmp_path / "n.md", "# Jahresrückblick Netzwerk ##\n\nText.\n"))
    assert doc.title == "Jahresrückblick Netzwerk"


@pytest.mark.parametrize("name", ["seite.html", "seite.htm"])
def test_html_main_text_without_boilerplate(tmp_path, name):
    doc = load(write(tmp_path / name, ARTICLE_HTML))
    assert doc.fmt == "html"
    assert doc.title == "Netzwerktreffen der Innovationscluster in Dortmund"
    for sentence in (
        "trafen sich rund achtzig Vertreterinnen",
        "Fachkräftesicherung und nachhaltige Produktion",
        "aus dem ländlichen Raum davon profitieren",
        "Partner aus den Niederlanden einzuladen",
    ):
        assert sentence in doc.text
    for junk in HTML_BOILERPLATE:
        assert junk not in doc.text, junk
    assert doc.dates and doc.dates[0].start == date(2023, 3, 12)


def test_html_short_page_drops_navigation(tmp_path):
    html = (
        "<html><head><title>Kurzmeldung Cluster</title><script>var geheimSkript = 1;</script></head>"
        "<body><nav>Startseite Menüeintrag Kontakt</nav><p>Kurzer Hinweis zur Förderung für Größe.</p>"
        "<footer>Impressum Fußzeile</footer></body></html>"
    )
    doc = load(write(tmp_path / "kurz.html", html))
    assert "Kurzer Hinweis zur Förderung für Größe." in doc.text
    for junk in ("Menüeintrag", "geheimSkript", "Impressum"):
        assert junk not in doc.text
    assert doc.title == "Kurzmeldung Cluster"


def test_html_latin1_markup(tmp_path):
    html = f"<html><body><article><p>{GERMAN}</p></article></body></html>"
    doc = load(write(tmp_path / "alt.html", html.encode("cp1252")))
    assert GERMAN in doc.text


# --- PDF ---------------------------------------------------------------------------------------


def test_pdf_pages_offsets_and_subfolder_id(tmp_path):
    raw = pdf_bytes(PDF_PAGES, title="Jahresbericht 2022")
    path = write(tmp_path / "sub" / "x.pdf", raw)
    files, skipped = scan_corpus(tmp_path, BIG)
    assert skipped == []
    assert [f.doc_id for f in files] == ["sub/x.pdf"]
    doc = load_document(files[0])
    assert doc.id == "sub/x.pdf"
    assert doc.fmt == "pdf"
    assert doc.title == "Jahresbericht 2022"
    assert doc.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [p[0] for p in doc.pages] == [1, 2]
    (_n1, s1, e1), (_n2, s2, e2) = doc.pages
    assert s1 == 0 and e1 <= s2 and e2 == len(doc.text)
    page1, page2 = doc.text[s1:e1], doc.text[s2:e2]
    assert page1.startswith("Jahresbericht Clustermanagement") and "Förderung für Größe" in page1
    assert page2.startswith("Zweite Seite: Kooperation") and "Köln" in page2
    assert "Zweite Seite" not in page1 and "Jahresbericht" not in page2
    offset = doc.text.index("Kooperation")
    assert doc.page_at(offset) == 2
    assert doc.page_at(doc.text.index("Wachstum")) == 1
    assert doc.page_at(len(doc.text) + 5) is None
    assert date(2022, 5, 9) in [d.start for d in doc.dates]


def test_pdf_placeholder_title_is_ignored(tmp_path):
    # reportlab writes /Title (untitled) when no title is set; that is no title.
    raw = pdf_bytes(PDF_PAGES)
    doc = load(write(tmp_path / "bericht.pdf", raw))
    assert doc.title == "Jahresbericht Clustermanagement"


def test_pdf_owner_password_only_is_readable(tmp_path):
    encryption = pdfencrypt.StandardEncryption("", ownerPassword="besitzer")
    doc = load(write(tmp_path / "frei.pdf", pdf_bytes(PDF_PAGES, encrypt=encryption)))
    assert "Kooperation mit Partnern" in doc.text


# --- DOCX --------------------------------------------------------------------------------------


def test_docx_paragraphs_table_and_title(tmp_path):
    raw = docx_bytes(
        ["Einleitung zur Förderung für Größe.", "", "Der zweite Absatz nennt den 20. Oktober 2022."],
        table=[["Partner", "Ort"], ["NIRO", "Unna"], ["ifii", "Werder"]],
        title="Projektbericht Cluster",
    )
    path = write(tmp_path / "ordner" / "bericht.docx", raw)
    doc = load(path, tmp_path)
    assert doc.id == "ordner/bericht.docx"
    assert doc.fmt == "docx"
    assert doc.title == "Projektbericht Cluster"
    assert doc.text.split("\n\n") == [
        "Einleitung zur Förderung für Größe.",
        "Der zweite Absatz nennt den 20. Oktober 2022.",
        "Partner | Ort",
        "NIRO | Unna",
        "ifii | Werder",
    ]
    assert doc.date is not None and doc.date.start == date(2022, 10, 20)
    assert doc.content_hash == hashlib.sha256(raw).hexdigest()


def test_docx_without_title_guesses_one(tmp_path):
    doc = load(write(tmp_path / "n.docx", docx_bytes(["Kurzbericht zum Sommerempfang", "Text folgt."])))
    assert doc.title == "Kurzbericht zum Sommerempfang"


# --- bad input ---------------------------------------------------------------------------------


def _random_binary(seed: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(3000)) + b"\x00\x00"


def _png() -> bytes:
    rng = random.Random(7)
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00" + bytes(
        rng.randrange(256) for _ in range(500)
    )


def _zip_bomb() -> bytes:
    # A real DOCX with an extra member that unpacks far beyond the (patched) limit.
    buffer = io.BytesIO(docx_bytes(["Harmloser Text."]))
    with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/bombe.bin", b"\x00" * 3_000_000)
    return buffer.getvalue()


BAD_FILES = {
    "leer.txt": (lambda: b"", "leer"),
    "leerzeichen.txt": (lambda: b"  \n\t\r\n   \n", "leer"),
    "leerzeichen.md": (lambda: "\u00a0\n\u2003\n".encode("utf-8"), "kein Text"),
    "nur-kommentar.html": (lambda: b"<body><!--", "kein Text"),  # the parsed root is a comment
    "zufall.txt": (lambda: _random_binary(1), "Binär"),
    "bild.txt": (_png, "Binär"),
    "hoch.txt": (lambda: bytes(range(0x80, 0x100)) * 20 + bytes(range(1, 0x20)) * 20, "Zeichenkodierung|Binär"),
    "kaputt.pdf": (
        lambda: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog" + bytes(range(256)),
        "beschädigtes PDF",
    ),
    "abgeschnitten.pdf": (lambda: pdf_bytes(PDF_PAGES)[:600], "beschädigtes PDF"),
    "verschluesselt.pdf": (lambda: pdf_bytes(PDF_PAGES, encrypt="geheim"), "verschlüsseltes PDF"),
    "bild.pdf": (lambda: _pdf_without_text(), "ohne Textebene"),
    "kaputt.docx": (lambda: b"Das ist gar keine ZIP-Datei, sondern Text.", "beschädigte DOCX"),
    "falsches-zip.docx": (lambda: _plain_zip(), "beschädigte DOCX"),
    "bombe.docx": (_zip_bomb, "ZIP-Bombe"),
    "tabelle.xls": (lambda: b"PK\x03\x04 irgendwas", "nicht unterstützt"),
}


def _pdf_without_text() -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.rect(100, 100, 200, 200, fill=1)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hallo.txt", "kein Word-Dokument")
    return buffer.getvalue()


@pytest.fixture
def small_zip_limit(monkeypatch):
    monkeypatch.setattr(parsers, "MAX_UNPACKED_BYTES", 1_000_000)


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_raises_document_error(tmp_path, small_zip_limit, name):
    make, expected = BAD_FILES[name]
    reason = reason_of(write(tmp_path / name, make()))
    assert any(part in reason for part in expected.split("|")), reason


def test_zip_bomb_limit_is_what_decides(tmp_path):
    # Under the real limit the same file is an ordinary DOCX.
    doc = load(write(tmp_path / "bombe.docx", _zip_bomb()))
    assert doc.text == "Harmloser Text."


def test_scan_and_load_mixed_corpus(tmp_path, small_zip_limit, monkeypatch):
    root = tmp_path / "korpus"
    outside = write(tmp_path / "draussen" / "geheim.txt", "Vertraulicher Text außerhalb des Korpus.")
    write(root / "gut.txt", f"Gute Meldung\n\n{GERMAN}")
    write(root / "sub" / "x.pdf", pdf_bytes(PDF_PAGES))
    write(root / "sub" / "tief" / "bericht.docx", docx_bytes(["Absatz eins über Förderung."], title="Bericht"))
    write(root / "seite.html", ARTICLE_HTML)
    write(root / "notiz.md", "# Notiz zum Treffen\n\nInhalt.")
    write(root / "gross.txt", "Großer Text. " * 10_000)
    write(root / ".versteckt.txt", "versteckt")
    write(root / ".git" / "config.txt", "versteckter Ordner")
    for name, (make, _) in BAD_FILES.items():
        write(root / "schlecht" / name, make())
    (root / "raus.txt").symlink_to(outside)
    (root / "drinnen.txt").symlink_to(root / "gut.txt")
    (root / "kaputt-link.txt").symlink_to(root / "gibt-es-nicht.txt")
    (root / "ordner-link").symlink_to(tmp_path / "draussen", target_is_directory=True)

    files, skipped = scan_corpus(root, max_file_bytes=100_000)
    ids = [f.doc_id for f in files]
    assert ids == sorted(ids) or set(ids) == set(ids)
    assert not any("versteckt" in i or i.startswith(".") or "/." in i for i in ids)
    skipped_reasons = {s.path: s.reason for s in skipped}
    assert "symbolischer Link" in skipped_reasons["raus.txt"] and "Korpus" in skipped_reasons["raus.txt"]
    assert "symbolischer Link" in skipped_reasons["kaputt-link.txt"]
    assert "symbolischer Link" in skipped_reasons["ordner-link"]
    assert "zu groß" in skipped_reasons["gross.txt"]
    assert "nicht unterstützt" in skipped_reasons["schlecht/tabelle.xls"]
    assert all(isinstance(s, Skipped) for s in skipped)
    assert not set(ids) & set(skipped_reasons)
    for f in files:
        assert f.content_hash == hashlib.sha256(f.path.read_bytes()).hexdigest()
        assert f.size == f.path.stat().st_size

    loaded, failed = {}, {}
    for f in files:
        try:
            loaded[f.doc_id] = load_document(f)
        except DocumentError as exc:
            failed[exc.path] = exc.reason
    assert set(loaded) == {"gut.txt", "drinnen.txt", "sub/x.pdf", "sub/tief/bericht.docx", "seite.html", "notiz.md"}
    assert set(failed) == {f"schlecht/{n}" for n in BAD_FILES if not n.endswith(".xls")}
    assert all(reason for reason in failed.values())
    assert loaded["drinnen.txt"].text == loaded["gut.txt"].text
    assert loaded["sub/x.pdf"].pages[1][0] == 2
    assert loaded["sub/tief/bericht.docx"].title == "Bericht"
    assert loaded["notiz.md"].title == "Notiz zum Treffen"
    assert {d.fmt for d in loaded.values()} == {"txt", "pdf", "docx", "html", "md"}

    # The file stats name exactly the files the scan accepted, so an index built from them
    # is not reported as stale.
    stats = file_stats(root, max_file_bytes=100_000)
    assert stats == {f.doc_id: [f.size, f.mtime_ns] for f in files}

    # Listing folders by path (where os.scandir takes no descriptor, Windows) finds the same.
    monkeypatch.setattr(walk, "_BY_DESCRIPTOR", False)
    assert scan_corpus(root, max_file_bytes=100_000) == (files, skipped)


def test_file_stats_change_with_content(tmp_path):
    path = write(tmp_path / "a.txt", "Erster Stand des Textes.")
    before = file_stats(tmp_path)
    write(tmp_path / "b.md", "# Neu")
    write(tmp_path / "c.xls", b"ignoriert")
    path.write_text("Zweiter, längerer Stand des Textes.", encoding="utf-8")
    after = file_stats(tmp_path)
    assert set(before) == {"a.txt"} and set(after) == {"a.txt", "b.md"}
    assert after["a.txt"][0] == path.stat().st_size != before["a.txt"][0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="keine benannten Pipes")
def test_scan_skips_fifo_without_blocking(tmp_path):
    write(tmp_path / "gut.txt", "Guter Text.")
    os.mkfifo(tmp_path / "rohr.txt")
    result = {}
    worker = threading.Thread(target=lambda: result.update(scan=scan_corpus(tmp_path, BIG)), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "scan_corpus blockiert auf einer benannten Pipe"
    files, skipped = result["scan"]
    assert [f.doc_id for f in files] == ["gut.txt"]
    assert [s.path for s in skipped] == ["rohr.txt"]


def test_scan_missing_folder(tmp_path):
    with pytest.raises(CorpusError, match="existiert nicht"):
        scan_corpus(tmp_path / "fehlt", BIG)


def test_load_document_unsupported_suffix_is_document_error(tmp_path):
    path = write(tmp_path / "daten.xls", b"PK\x03\x04")
    with pytest.raises(DocumentError, match="nicht unterstützt"):
        load(path)


def test_year_from_file_name_is_default_year(tmp_path):
    doc = load(write(tmp_path / "2019-treffen.txt", "Treffen am 3. Juni im Rathaus der Stadt."))
    assert [(d.start, d.end) for d in doc.dates] == [(date(2019, 6, 3), date(2019, 6, 3))]
    doc = load(write(tmp_path / "treffen.txt", "Treffen am 3. Juni im Rathaus der Stadt."))
    assert doc.dates == ()


# --- titles ------------------------------------------------------------------------------------

SHIPPED_TITLES = {
    "2017-05-balticnet-plasmatec-cluster-excellence-training.txt": "BalticNet-PlasmaTec: Treffen europäischer "
    "Cluster zu einem speziellen Cluster Excellence Management Training",
    "2020-cross-cluster-camp-ifii.txt": "Unser Beitrag zum Cross-Cluster-Camp 2020",
    "2022-05-go-cluster-eccp-infoveranstaltung.txt": "Infoveranstaltung zum Programm go-cluster und der "
    "European Cluster Collaboration Platform im Rahmen des Cluster-Dialogs.NRW",
    "2022-10-niro-clustererfolg.txt": "NIRO zum ClusterERFOLG 2022 gewählt",
}


def test_shipped_corpus_loads_with_titles():
    files, skipped = scan_corpus(CORPUS, BIG)
    assert skipped == []
    docs = {f.doc_id: load_document(f) for f in files}
    assert len(docs) == 5
    for doc_id, title in SHIPPED_TITLES.items():
        assert docs[doc_id].title == title
    region = docs["in-die-region-westfalen-sommerempfang.txt"].title
    # Its first line is a long paragraph: the title is its first sentence, shortened at a word.
    assert region.startswith("Am vergangenen Mittwoch fand der Sommerempfang des Netzwerks")
    assert region.endswith(" …") and len(region) <= 120
    for doc in docs.values():
        assert doc.fmt == "txt"
        assert doc.content_hash == hashlib.sha256((CORPUS / doc.id).read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "text, title",
    [
        ("Skip to main content\n\nNIRO gewinnt den Preis\nText", "NIRO gewinnt den Preis"),
        ("Meldung\n17.05.2017\n\nTreffen der Cluster in Berlin\n", "Treffen der Cluster in Berlin"),
        ("Pressemitteilung\n17. Mai 2017\n\nTreffen der Cluster in Berlin\n", "Treffen der Cluster in Berlin"),
        ("Aktuelles\n\nMai 2017\nTreffen der Cluster in Berlin\n", "Treffen der Cluster in Berlin"),
        ("## Menü\nZum Inhalt springen\n# Die Überschrift des Artikels\n", "Die Überschrift des Artikels"),
        ("Kurz\n\nDer erste lange Satz. Der zweite Satz.", "Der erste lange Satz. Der zweite Satz."),
        ("Wort " * 60 + ". Rest.", None),
    ],
)
def test_guess_title(text, title):
    guessed = guess_title(text, "ordner/datei.txt")
    if title is None:
        assert guessed.endswith(" …") and len(guessed) <= 120
    else:
        assert guessed == title


def test_guess_title_falls_back_to_file_name():
    assert guess_title("kurz\n1\n", "ordner/jahresbericht.txt") == "jahresbericht"


def test_html_article_header_text_is_kept(tmp_path):
    html = (
        "<html><body><header>Seitenkopf mit Logo</header><main><article><header><h1>Überschrift des "
        "Beitrags über Förderung</h1><p class='meta'>Autorin: Erika Mustermann</p></header>"
        "<p>Der eigentliche Beitrag berichtet ausführlich über das Treffen der Cluster und die "
        "Ergebnisse der Arbeitsgruppen zur Digitalisierung in kleinen und mittleren Unternehmen.</p>"
        "</article></main><footer>Impressum Fußzeile</footer></body></html>"
    )
    doc = load(write(tmp_path / "beitrag.html", html))
    assert doc.title == "Überschrift des Beitrags über Förderung"
    assert "Ergebnisse der Arbeitsgruppen" in doc.text
    assert "Seitenkopf" not in doc.text and "Impressum" not in doc.text
