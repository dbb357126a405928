"""Real corpus files built on the spot: a plain DOCX (the one builder the tests share), ODT
(odfpy), PPTX (python-pptx) and XLSX (openpyxl) files and, written streaming so that a large one
costs little memory to make, a DOCX whose zip headers lie about a member's size and a large
German text file; and hostile variants of any zip container: a zip bomb, a member replaced (an
entity bomb), an encrypted Office or ODT file.

Used by tests/test_ingest_hardening.py, tests/test_office_formats.py, tests/test_robustness.py
and benchmarks/ingest_memory.py (no pytest needed)."""

from __future__ import annotations

import io
import random
import struct
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT_XML = "word/document.xml"


def docx_bytes(paragraphs: list[str], table: list[list[str]] | None = None, title: str | None = None) -> bytes:
    """A real DOCX (python-docx) with these paragraphs, optionally a table and a title."""
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    if title is not None:
        document.core_properties.title = title
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def padded_docx(path: Path, text: str, padding: int, claimed: int | None = None) -> Path:
    """A real DOCX whose ``word/document.xml`` is followed by ``padding`` spaces (still valid
    XML: white space after the root element), deflated about 1000:1 (level 9). With ``claimed`` the zip
    headers (local and central) state that many unpacked bytes for it instead of the truth."""
    original = zipfile.ZipFile(io.BytesIO(docx_bytes([text])))
    block = b" " * (1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for info in original.infolist():
            data = original.read(info)
            if info.filename != DOCUMENT_XML:
                archive.writestr(info.filename, data)
                continue
            with archive.open(DOCUMENT_XML, "w") as member:
                member.write(data)
                left = padding
                while left > 0:
                    member.write(block[:left])
                    left -= len(block)
    if claimed is not None:
        _claim_size(path, DOCUMENT_XML, claimed)
    return path


def _claim_size(path: Path, name: str, size: int) -> None:
    """Overwrite the unpacked size of ``name`` in its local header and central directory entry."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
        central = archive.start_dir
    with open(path, "r+b") as handle:
        handle.seek(info.header_offset)
        assert handle.read(4) == b"PK\x03\x04"
        handle.seek(info.header_offset + 22)
        handle.write(struct.pack("<I", size))
        handle.seek(central)
        directory = handle.read()
        at = 0
        while True:
            name_length = struct.unpack_from("<H", directory, at + 28)[0]
            extra, comment = struct.unpack_from("<HH", directory, at + 30)
            if directory[at + 46 : at + 46 + name_length].decode() == name:
                handle.seek(central + at + 24)
                handle.write(struct.pack("<I", size))
                return
            at += 46 + name_length + extra + comment


def _paragraphs() -> list[str]:
    found = []
    for source in sorted((ROOT / "corpus").glob("*.txt")):
        found += [line.strip() for line in source.read_text(encoding="utf-8").splitlines() if len(line.strip()) > 60]
    return found


def write_german_text(path: Path, size: int, seed: int = 0) -> Path:
    """About ``size`` bytes of German prose (the shipped corpus's paragraphs, shuffled, each with an
    invented word and a number of its own, so the vocabulary grows as in a real large file)."""
    rng = random.Random(seed)
    paragraphs = _paragraphs()
    syllables = ("ka", "lo", "mer", "tan", "vi", "sel", "bru", "dor", "fen", "gal", "hüs", "jör", "kel", "län")
    written = 0
    with open(path, "w", encoding="utf-8") as handle:
        while written < size:
            word = "".join(rng.choice(syllables) for _ in range(4)).capitalize()
            line = f"{rng.choice(paragraphs)} Dazu {word} mit {rng.randrange(100_000)} Euro.\n"
            if rng.random() < 0.1:
                line += "\n"
            handle.write(line)
            written += len(line.encode("utf-8"))
    return path


def odt_bytes(
    paragraphs: list[str], heading: str | None = None, title: str | None = None, table: list[list[str]] | None = None
) -> bytes:
    """A real ODT (odfpy) with an optional heading, these paragraphs, optionally a table and a title."""
    from odf import dc, text
    from odf import table as odf_table
    from odf.opendocument import OpenDocumentText

    document = OpenDocumentText()
    if heading is not None:
        document.text.addElement(text.H(outlinelevel=1, text=heading))
    for paragraph in paragraphs:
        document.text.addElement(text.P(text=paragraph))
    if table:
        grid = odf_table.Table(name="Tabelle1")
        grid.addElement(odf_table.TableColumn(numbercolumnsrepeated=len(table[0])))
        for row in table:
            tr = odf_table.TableRow()
            for value in row:
                cell = odf_table.TableCell()
                cell.addElement(text.P(text=value))
                tr.addElement(cell)
            grid.addElement(tr)
        document.text.addElement(grid)
    if title is not None:
        document.meta.addElement(dc.Title(text=title))
    buffer = io.BytesIO()
    document.write(buffer)
    return buffer.getvalue()


def pptx_bytes(
    slides: list[tuple[str, list[str]]], title: str | None = None, notes: dict[int, str] | None = None
) -> bytes:
    """A real PPTX (python-pptx): one slide per (title, bullet lines); ``notes`` by slide index."""
    import pptx

    presentation = pptx.Presentation()
    layout = presentation.slide_layouts[1]  # title and content
    for index, (slide_title, lines) in enumerate(slides):
        slide = presentation.slides.add_slide(layout)
        slide.shapes.title.text = slide_title
        body = slide.placeholders[1].text_frame
        body.text = "\n".join(lines)
        if notes and index in notes:
            slide.notes_slide.notes_text_frame.text = notes[index]
    if title is not None:
        presentation.core_properties.title = title
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


def xlsx_bytes(sheets: dict[str, list[list[object]]], title: str | None = None) -> bytes:
    """A real XLSX (openpyxl): one sheet per name -> rows."""
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    if title is not None:
        workbook.properties.title = title
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- hostile variants of zip containers -----------------------------------------------------------

# "Billion laughs": ten levels of ten references, 10^9 "lol" once expanded.
ENTITY_BOMB = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'.encode() for i in range(1, 10)
    )
    + b"]>\n"
)


def replace_member(raw: bytes, name: str, data: bytes) -> bytes:
    """The zip ``raw`` with member ``name`` holding ``data`` (added when missing)."""
    source = zipfile.ZipFile(io.BytesIO(raw))
    parts = {info.filename: source.read(info) for info in source.infolist()}
    parts[name] = data
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, content in parts.items():
            archive.writestr(member, content)
    return buffer.getvalue()


def entity_bomb(raw: bytes, name: str) -> bytes:
    """The zip ``raw`` with the XML part ``name`` behind an entity-bomb DTD, its root element's
    first text replaced by the fully expanded entity."""
    xml = zipfile.ZipFile(io.BytesIO(raw)).read(name)
    body = xml.split(b"?>", 1)[1] if xml.startswith(b"<?xml") else xml
    at = body.index(b"<t>") + 3 if b"<t>" in body else body.index(b">") + 1
    return replace_member(raw, name, ENTITY_BOMB + body[:at] + b"&lol9;" + body[at:])


def write_zip_bomb(path: Path, raw: bytes, unpacked: int, member: str = "media/bombe.bin") -> Path:
    """The real container ``raw`` plus one member of ``unpacked`` zero bytes, written streaming
    (< 1 MB on disk)."""
    path.write_bytes(raw)
    block = b"\0" * (1 << 20)
    with (
        zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open(member, "w", force_zip64=True) as handle,
    ):
        for _ in range(-(-unpacked // len(block))):
            handle.write(block)
    return path


def encrypted_ooxml(raw: bytes, password: str = "geheim") -> bytes:
    """A DOCX/PPTX/XLSX encrypted with a password as Office does it (msoffcrypto-tool): an OLE
    compound file holding the encrypted package."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(raw)).encrypt(password, out)
    return out.getvalue()


def encrypted_odt(raw: bytes) -> bytes:
    """An ODT as LibreOffice saves it with a password: the manifest names the encryption, the
    content is ciphertext."""
    manifest = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        b'<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>'
        b'<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">'
        b'<manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="AAAA">'
        b'<manifest:algorithm manifest:algorithm-name="Blowfish CFB" manifest:initialisation-vector="AAAA"/>'
        b"</manifest:encryption-data></manifest:file-entry></manifest:manifest>"
    )
    scrambled = bytes(random.Random(3).randrange(256) for _ in range(2000))
    return replace_member(replace_member(raw, "META-INF/manifest.xml", manifest), "content.xml", scrambled)
