"""ODT, PPTX, XLSX and CSV: real files built on the spot, indexed with the real pipeline, asked
about with ``Assistant.ask``; the citation quotes the right text at exact offsets (and, for a
presentation, names the right slide). Hostile files of each format are skipped with a German
reason naming the file while a good file beside them is indexed."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from conftest import lexical_index
from hostile_files import (
    encrypted_odt,
    encrypted_ooxml,
    entity_bomb,
    odt_bytes,
    pptx_bytes,
    replace_member,
    write_zip_bomb,
    xlsx_bytes,
)

from assistant.config import Settings
from assistant.errors import DocumentError
from assistant.index.build import build_index
from assistant.ingest import office
from assistant.ingest.corpus import CorpusFile
from assistant.ingest.parsers import MAX_UNPACKED_BYTES, load_document
from assistant.ingest.walk import SUPPORTED_SUFFIXES
from assistant.pipeline import Assistant
from assistant.types import Answer, Citation


def put(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def load(path: Path):
    raw = path.read_bytes()
    return load_document(CorpusFile(path.name, path, hashlib.sha256(raw).hexdigest(), len(raw)))


def reason_of(path: Path) -> str:
    with pytest.raises(DocumentError) as info:
        load(path)
    assert info.value.path == path.name and path.name in str(info.value)
    return info.value.reason


def cited(assistant: Assistant, question: str, doc_id: str, expected: str) -> tuple[Answer, Citation]:
    """The answer to ``question`` and its first citation of ``doc_id``, which must quote
    ``expected`` at exact offsets of the document's text."""
    answer = assistant.ask(question)
    assert not answer.abstained, answer.text
    citation = next((c for c in answer.citations if c.doc_id == doc_id), None)
    assert citation is not None, [c.doc_id for c in answer.citations]
    text = assistant.index.documents[doc_id].text
    assert text[citation.start : citation.end] == citation.quote
    assert expected in citation.quote, citation.quote
    return answer, citation


# A corpus of one file per new format plus a text file, indexed once for the module.
ODT_FACT = "Die Werkstatt für Wasserstoffspeicher eröffnet am 14. März 2025 in Gelsenkirchen."
SLIDE_FACT = "Das Kooperationsbudget der Glasfaserallianz beträgt 480.000 Euro."
CSV_TEXT = (
    "Unternehmen;Ort;Ansprechpartnerin;Thema\n"
    "Müller Präzisionstechnik GmbH;Köln;Jörg Weiß;Sensorik für Brückenbau\n"
    "Bäckerei Schäfer;Düren;Käthe Groß;Backöfen mit Abwärmenutzung\n"
    "Überland Logistik;Aachen;Günther Öztürk;Lastenräder für Innenstädte\n"
)


@pytest.fixture(scope="module")
def office_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("office")
    corpus = root / "korpus"
    put(
        corpus,
        "werkstatt.odt",
        odt_bytes(
            ["Das Netzwerk plant neue Angebote für Mitglieder.", ODT_FACT],
            heading="Neue Werkstätten im Cluster",
            table=[["Ort", "Kapazität"], ["Gelsenkirchen", "12 Plätze"]],
        ),
    )
    put(
        corpus,
        "allianz.pptx",
        pptx_bytes(
            [
                ("Glasfaserallianz 2024", ["Überblick über die Arbeitsgruppen", "Termine im Herbst"]),
                ("Mitglieder", ["Zwölf Stadtwerke und drei Hochschulen", "Neue Mitglieder seit Mai"]),
                ("Finanzen", [SLIDE_FACT, "Die Mittel stammen aus dem Landesprogramm."]),
            ],
            title="PowerPoint-Präsentation",  # PowerPoint's own default: no title
            notes={1: "Sprechernotiz: auf die Satzung hinweisen."},
        ),
    )
    projects: list[list[object]] = [["Projekt", "Partner", "Fördersumme", "Start"]]
    projects += [[f"Vorhaben {i}", f"Partner {i}", 1000 * i, dt.date(2023, 1 + i % 12, 1)] for i in range(1, 60)]
    projects.insert(30, ["Wasserstoffbrücke", "Stadtwerke Bochum", 250000, dt.date(2024, 3, 1)])
    put(
        corpus,
        "foerderung.xlsx",
        xlsx_bytes({"Übersicht": [["Stand", "Mai 2024"]], "Förderprojekte": projects}, title="Förderliste 2024"),
    )
    put(corpus, "kontakte.csv", CSV_TEXT.encode("cp1252"))
    put(corpus, "notiz.txt", b"Notiz\n\nDas Sommerfest des Netzwerks findet im Juli statt.\n")
    return lexical_index(corpus, root / "index")


@pytest.fixture(scope="module")
def assistant(office_index: Settings) -> Assistant:
    return Assistant.open(office_index)


def test_new_suffixes_are_supported_everywhere():
    for suffix in (".odt", ".pptx", ".xlsx", ".csv"):
        assert suffix in SUPPORTED_SUFFIXES


def test_odt_cited_with_exact_offsets_and_title_from_heading(assistant: Assistant):
    doc = assistant.index.documents["werkstatt.odt"]
    assert doc.fmt == "odt" and doc.title == "Neue Werkstätten im Cluster"
    assert [m.start for m in doc.dates] == [dt.date(2025, 3, 14)]
    assert "Gelsenkirchen | 12 Plätze" in doc.text
    _, citation = cited(assistant, "Wann eröffnet die Werkstatt für Wasserstoffspeicher?", "werkstatt.odt", ODT_FACT)
    assert citation.page is None


def test_pptx_cites_the_right_slide(assistant: Assistant):
    doc = assistant.index.documents["allianz.pptx"]
    # PowerPoint's placeholder title names nothing: the first slide's title is taken.
    assert doc.fmt == "pptx" and doc.title == "Glasfaserallianz 2024"
    assert [number for number, _, _ in doc.pages] == [1, 2, 3]
    for number, start, end in doc.pages:
        assert doc.text[start:end].startswith(("Glasfaserallianz 2024", "Mitglieder", "Finanzen")[number - 1])
    assert "Sprechernotiz: auf die Satzung hinweisen." in doc.text[doc.pages[1][1] : doc.pages[1][2]]
    _, citation = cited(
        assistant, "Wie hoch ist das Kooperationsbudget der Glasfaserallianz?", "allianz.pptx", SLIDE_FACT
    )
    assert citation.page == 3
    assert citation.to_json()["page"] == 3


def test_xlsx_rows_stand_on_their_own(assistant: Assistant):
    doc = assistant.index.documents["foerderung.xlsx"]
    assert doc.fmt == "xlsx" and doc.title == "Förderliste 2024"
    assert dt.date(2024, 3, 1) in {m.start for m in doc.dates}
    row = "Projekt: Wasserstoffbrücke; Partner: Stadtwerke Bochum; Fördersumme: 250000; Start: 01.03.2024"
    assert row in doc.text.splitlines()
    _, citation = cited(assistant, "Wie hoch ist die Fördersumme der Wasserstoffbrücke?", "foerderung.xlsx", row)
    assert citation.quote == row
    # 60 rows in several groups, each headed by its sheet and row numbers, each row with the header
    groups = [g for g in doc.text.split("\n\n") if "Förderprojekte" in g.split("\n", 1)[0]]
    assert len(groups) > 2
    for group in groups:
        heading, *rows = group.split("\n")
        assert heading.startswith("Tabellenblatt „Förderprojekte“, Zeilen ")
        assert rows and all(r.startswith("Projekt: ") and "; Fördersumme: " in r for r in rows)
        assert len(group) <= office.GROUP_CHARS
    # every chunk of the workbook begins with a group heading: no passage without its sheet
    chunks = [
        h.chunk for h in assistant.search("Vorhaben Partner Fördersumme", 20) if h.chunk.doc_id == "foerderung.xlsx"
    ]
    assert chunks and all(c.text.startswith("Tabellenblatt „") for c in chunks)


def test_csv_in_cp1252_with_semicolons(assistant: Assistant):
    doc = assistant.index.documents["kontakte.csv"]
    assert doc.fmt == "csv" and doc.title == "kontakte"
    row = "Unternehmen: Bäckerei Schäfer; Ort: Düren; Ansprechpartnerin: Käthe Groß; Thema: Backöfen mit Abwärmenutzung"
    assert doc.text.split("\n") == [
        "Zeilen 2–4",
        "Unternehmen: Müller Präzisionstechnik GmbH; Ort: Köln; Ansprechpartnerin: Jörg Weiß; "
        "Thema: Sensorik für Brückenbau",
        row,
        "Unternehmen: Überland Logistik; Ort: Aachen; Ansprechpartnerin: Günther Öztürk; "
        "Thema: Lastenräder für Innenstädte",
    ]
    cited(assistant, "Welches Thema hat die Bäckerei Schäfer in Düren?", "kontakte.csv", row)


def test_csv_delimiters_and_quoted_fields(tmp_path: Path):
    comma = put(tmp_path, "komma.csv", b'Name,Notiz\n"Meier, Anna","Zeile eins\nZeile zwei"\n')
    assert load(comma).text == "Zeile 2\nName: Meier, Anna; Notiz: Zeile eins Zeile zwei"
    tabs = put(tmp_path, "tabs.csv", "Name\tOrt\nÖzdemir\tKöln\n".encode("utf-16"))
    assert load(tabs).text == "Zeile 2\nName: Özdemir; Ort: Köln"
    numbers = put(tmp_path, "zahlen.csv", b"1;2\n3;4\n")  # no header: columns by letter
    assert load(numbers).text == "Zeilen 1–2\nSpalte A: 1; Spalte B: 2\nSpalte A: 3; Spalte B: 4"


def test_titles_fall_back_to_sheet_and_file_name(tmp_path: Path):
    named = put(tmp_path, "liste.xlsx", xlsx_bytes({"Teilnehmende": [["Name"], ["Anna"]]}))
    assert load(named).title == "Teilnehmende"
    default = put(tmp_path, "bericht-2024.xlsx", xlsx_bytes({"Sheet1": [["Name"], ["Anna"]]}))
    assert load(default).title == "bericht-2024"
    odt = put(tmp_path, "meta.odt", odt_bytes(["Ein Absatz ohne Überschrift im Dokument."], title="Protokoll Mai"))
    assert load(odt).title == "Protokoll Mai"


def test_declared_sheet_size_is_not_trusted(tmp_path: Path):
    """A sheet whose <dimension> claims the whole grid is read as wide as its cells."""
    raw = xlsx_bytes({"Daten": [["Name", "Ort"], ["Anna", "Köln"]]})
    sheet = zipfile.ZipFile(io.BytesIO(raw)).read("xl/worksheets/sheet1.xml")
    lying = replace_member(raw, "xl/worksheets/sheet1.xml", sheet.replace(b'ref="A1:B2"', b'ref="A1:XFD1048576"'))
    assert load(put(tmp_path, "weit.xlsx", lying)).text == "Tabellenblatt „Daten“, Zeile 2\nName: Anna; Ort: Köln"


def test_macros_are_ignored(tmp_path: Path):
    raw = replace_member(xlsx_bytes({"Daten": [["Name"], ["Anna"]]}), "xl/vbaProject.bin", b"Attribute MAKROWORT" * 50)
    doc = load(put(tmp_path, "makro.xlsx", raw))
    assert "MAKROWORT" not in doc.text and "Name: Anna" in doc.text
    raw = replace_member(pptx_bytes([("Folie mit Makro", ["Harmloser Text"])]), "ppt/vbaProject.bin", b"MAKROWORT")
    doc = load(put(tmp_path, "makro.pptx", raw))
    assert "MAKROWORT" not in doc.text and "Harmloser Text" in doc.text


# --- hostile files: one corpus, one build --------------------------------------------------------

_ODT = odt_bytes(["Gute Zeilen im Dokument."], heading="Dokument")
_PPTX = pptx_bytes([("Folie", ["Gute Zeilen auf der Folie."])])
_XLSX = xlsx_bytes({"Daten": [["Name", "Wert"], ["Kieselgurtreppe", 1]]})
_SHEET = "xl/worksheets/sheet1.xml"
# file name -> (content, part of the German reason)
HOSTILE: dict[str, tuple[bytes, str]] = {
    "leer.odt": (b"", "leere Datei"),
    "leer.xlsx": (b"  \n", "leere Datei"),
    "abgeschnitten.odt": (_ODT[: len(_ODT) // 2], "beschädigte ODT-Datei (kein gültiges ZIP)"),
    "abgeschnitten.pptx": (_PPTX[: len(_PPTX) // 2], "beschädigte PPTX-Datei (kein gültiges ZIP)"),
    "abgeschnitten.xlsx": (_XLSX[:-100], "beschädigte XLSX-Datei (kein gültiges ZIP)"),
    "kaputt.csv": (b"\x00\x01\x02\xff" * 500, "Binärdatei"),
    "verschluesselt.odt": (encrypted_odt(_ODT), "verschlüsselte ODT-Datei (Passwort nötig)"),
    "verschluesselt.pptx": (encrypted_ooxml(_PPTX), "verschlüsselte PPTX-Datei (Passwort nötig)"),
    "verschluesselt.xlsx": (encrypted_ooxml(_XLSX), "verschlüsselte XLSX-Datei (Passwort nötig)"),
    "lachen.odt": (entity_bomb(_ODT, "content.xml"), "XML-Bombe"),
    "lachen.pptx": (entity_bomb(_PPTX, "ppt/slides/slide1.xml"), "XML-Bombe"),
    "lachen.xlsx": (entity_bomb(_XLSX, _SHEET), "XML-Bombe"),
    "ohne-inhalt.odt": (replace_member(_ODT, "content.xml", b"<kaputt"), "beschädigte ODT-Datei"),
    "ohne-folien.pptx": (replace_member(_PPTX, "[Content_Types].xml", b"<Types/>"), "beschädigte PPTX-Datei"),
    # a sheet that claims row 10^12: the row limit stops it before openpyxl walks there
    "endlos.xlsx": (
        replace_member(
            _XLSX,
            _SHEET,
            zipfile.ZipFile(io.BytesIO(_XLSX))
            .read(_SHEET)
            .replace(b"</sheetData>", b'<row r="1000000000000"><c r="A1000000000000"><v>1</v></c></row></sheetData>'),
        ),
        "Tabelle zu groß",
    ),
    "riesig.csv": (b"a;b;c\n" * 400_000, "Tabelle zu groß (mehr als 1.000.000 Zellen)"),
}
BOMBS = {"bombe.odt": _ODT, "bombe.pptx": _PPTX, "bombe.xlsx": _XLSX}
GOOD = {
    "gut.odt": (odt_bytes(["Quittenmarmelade aus dem Netzwerkgarten."], heading="Garten"), "Quittenmarmelade"),
    "gut.pptx": (pptx_bytes([("Garten", ["Holunderpresse für alle Mitglieder."])]), "Holunderpresse"),
    "gut.xlsx": (xlsx_bytes({"Garten": [["Ernte", "Menge"], ["Sanddornkelterei", 5]]}), "Sanddornkelterei"),
    "gut.csv": ("Ernte;Menge\nMispelhecke;3\n".encode("cp1252"), "Mispelhecke"),
}


def test_hostile_files_skipped_with_german_reasons_beside_good_ones(tmp_path: Path):
    corpus = tmp_path / "korpus"
    for name, (data, _) in HOSTILE.items():
        put(corpus, name, data)
    for name, raw in BOMBS.items():
        write_zip_bomb(corpus / name, raw, MAX_UNPACKED_BYTES + (1 << 20))
    for name, (data, _) in GOOD.items():
        put(corpus, name, data)
    settings = lexical_index(corpus, tmp_path / "index")
    report = build_index(settings)  # the second run: up to date, same skips
    skipped = {s.path: s.reason for s in report.skipped}
    expected = {**{n: r for n, (_, r) in HOSTILE.items()}, **dict.fromkeys(BOMBS, "ZIP-Bombe")}
    assert set(skipped) == set(expected), skipped
    for name, part in expected.items():
        assert part in skipped[name], (name, skipped[name])
        assert "Traceback" not in skipped[name]
    assistant = Assistant.open(settings)
    assert set(assistant.index.documents) == set(GOOD)
    for name, (_, word) in GOOD.items():
        hits = assistant.search(word, 3)
        assert hits and hits[0].chunk.doc_id == name and word in hits[0].chunk.text
    assert all("Kieselgurtreppe" not in h.chunk.text for h in assistant.search("Kieselgurtreppe", 5))


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_each_hostile_file_names_itself(tmp_path: Path, name: str):
    data, part = HOSTILE[name]
    assert part in reason_of(put(tmp_path, name, data))


def test_csv_field_over_the_limit_is_a_german_reason(tmp_path: Path):
    reason = reason_of(put(tmp_path, "offen.csv", b'Name;Notiz\nAnna;"offen ' + b"x" * 200_000 + b"\n"))
    assert reason.startswith("CSV nicht lesbar (Zeile ") and "Anführungszeichen" in reason


def test_odt_spaces_breaks_footnotes_and_comments(tmp_path: Path):
    from odf import dc, text
    from odf import office as odf_office
    from odf.opendocument import OpenDocumentText

    document = OpenDocumentText()
    paragraph = text.P(text="Drei")
    paragraph.addElement(text.S(c=3))
    paragraph.addText("Leerzeichen")
    paragraph.addElement(text.LineBreak())
    paragraph.addText("neue Zeile")
    note = text.Note(noteclass="footnote")
    note.addElement(text.NoteCitation(text="1"))
    body = text.NoteBody()
    body.addElement(text.P(text="Fußnote zum Förderbescheid."))
    note.addElement(body)
    paragraph.addElement(note)
    comment = odf_office.Annotation()
    comment.addElement(dc.Creator(text="Prüferin"))
    comment.addElement(text.P(text="KOMMENTARWORT"))
    paragraph.addElement(comment)
    paragraph.addText(" Ende.")
    document.text.addElement(paragraph)
    buffer = io.BytesIO()
    document.write(buffer)
    doc = load(put(tmp_path, "aufbau.odt", buffer.getvalue()))
    assert doc.text == "Drei   Leerzeichen\nneue Zeile Ende.\n\nFußnote zum Förderbescheid."
    assert "KOMMENTARWORT" not in doc.text


def test_pptx_tables_and_groups_are_read(tmp_path: Path):
    import pptx
    from pptx.util import Inches

    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])  # title only
    slide.shapes.title.text = "Zahlen"
    grid = slide.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    for (r, c), value in {(0, 0): "Jahr", (0, 1): "Mitglieder", (1, 0): "2024", (1, 1): "87"}.items():
        grid.cell(r, c).text = value
    group = slide.shapes.add_group_shape()
    group.shapes.add_textbox(Inches(1), Inches(4), Inches(3), Inches(1)).text_frame.text = "Text in der Gruppe"
    buffer = io.BytesIO()
    presentation.save(buffer)
    doc = load(put(tmp_path, "zahlen.pptx", buffer.getvalue()))
    assert doc.text == "Zahlen\nJahr | Mitglieder\n2024 | 87\nText in der Gruppe"
    assert doc.pages == ((1, 0, len(doc.text)),)
