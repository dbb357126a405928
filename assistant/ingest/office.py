"""Office formats people send: ODT (lxml on content.xml), PPTX (python-pptx, slide numbers as
pages), XLSX (openpyxl, read-only, cached values) and CSV (delimiter sniffed).

Zip containers are unpacked by :func:`.containers.checked_zip` first (zip bombs, lying headers,
encryption, entity declarations), so the libraries only see XML that is already bounded. Tables
become one block per group of rows, each headed by its sheet and row numbers and each row
written as ``Spalte: Wert; Spalte: Wert``: every passage a user gets cited stands on its own.
Parsers here take ``(raw bytes, doc id, unpacking limit)`` and return ``(text, title or None,
pages)``; :mod:`.parsers` maps the suffixes to them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import DocumentError
from .containers import checked_zip
from .decoding import decode_text

Pages = tuple[tuple[int, int, int], ...]
Parsed = tuple[str, str | None, Pages]

# Cells (empty ones inside a row included) a table may have, all sheets of a workbook together;
# every row counts one more, so a sheet that claims row 10^12 stops too. openpyxl reads about
# 30,000 cells a second here (2 shared cores): the largest admissible workbook takes half a minute.
MAX_TABLE_CELLS = 1_000_000
# A group of rows fits in one chunk at the default chunk size, so the chunker never cuts one.
GROUP_CHARS = Settings.chunk_size * 3 // 4
GROUP_ROWS = 25
# Titles programs fill in by themselves; they name nothing (the file name is better).
_PLACEHOLDER = re.compile(
    r"^(powerpoint[- ]pr[äa]sentation|powerpoint presentation|präsentation|presentation|folie \d+|slide \d+"
    r"|sheet\d*|tabelle\d*|blatt\d*|feuil\d*|hoja\d*|.*\.(pptx?|xlsx?|ods|odt|csv))$",
    re.IGNORECASE,
)


def _clean(text: str) -> str:
    """What :func:`.parsers.load_document` does to every text, done per piece here, so that page
    offsets computed from the pieces stay exact."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return unicodedata.normalize("NFC", text)


def _one_line(value: str) -> str:
    return " ".join(_clean(value).split())


def _title(*candidates: str | None) -> str | None:
    for candidate in candidates:
        text = _one_line(candidate or "")
        if text and not _PLACEHOLDER.match(text):
            return text
    return None


# --- ODT -----------------------------------------------------------------------------------------

_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
_BLOCKS = (_TEXT + "p", _TEXT + "h")
# Not the document's text: comments, tracked deletions, field declarations.
_SKIPPED = {
    _OFFICE + "annotation",
    _OFFICE + "annotation-end",
    _TEXT + "tracked-changes",
    _TEXT + "sequence-decls",
    _TEXT + "variable-decls",
    _TEXT + "user-field-decls",
}


def parse_odt(raw: bytes, doc_id: str, max_unpacked: int) -> Parsed:
    from lxml import etree

    with zipfile.ZipFile(checked_zip(raw, doc_id, max_unpacked, "ODT")) as package:
        names = set(package.namelist())
        if "META-INF/manifest.xml" in names and b"encryption-data" in package.read("META-INF/manifest.xml"):
            raise DocumentError(doc_id, "verschlüsselte ODT-Datei (Passwort nötig)")
        if "content.xml" not in names:
            raise DocumentError(doc_id, "beschädigte ODT-Datei (content.xml fehlt)")
        content = package.read("content.xml")
        meta = package.read("meta.xml") if "meta.xml" in names else b""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
    try:
        root = etree.fromstring(content, parser)
        meta_root = etree.fromstring(meta, parser) if meta.strip() else None
    except etree.XMLSyntaxError as exc:
        raise DocumentError(doc_id, f"beschädigte ODT-Datei (XML nicht lesbar: {exc})") from None
    body = root.find(_OFFICE + "body")
    blocks = [b for b in _odt_blocks(body if body is not None else root) if b.strip()]
    title_el = meta_root.find(f".//{_DC_TITLE}") if meta_root is not None else None
    heading = next((_odt_text(h) for h in root.iter(_TEXT + "h") if _odt_text(h).strip()), None)
    return "\n\n".join(blocks), _title(title_el.text if title_el is not None else None, heading), ()


def _odt_blocks(element: Any) -> Iterator[str]:
    """The paragraphs, headings and table rows under ``element``, in document order."""
    for child in element:
        tag = child.tag
        if not isinstance(tag, str) or tag in _SKIPPED:
            continue
        if tag in _BLOCKS:
            yield _clean(_odt_text(child)).strip()
            yield from _odt_blocks_inside(child)  # text boxes, footnotes: paragraphs of their own
        elif tag == _TABLE + "table-row":
            cells = [
                " ".join(_one_line(_odt_text(p)) for p in cell.iter(*_BLOCKS)).strip()
                for cell in child
                if cell.tag == _TABLE + "table-cell"
            ]
            yield " | ".join(dict.fromkeys(c for c in cells if c))
        else:
            yield from _odt_blocks(child)


def _odt_blocks_inside(paragraph: Any) -> Iterator[str]:
    for child in paragraph:
        if isinstance(child.tag, str) and child.tag not in _SKIPPED:
            if child.tag in _BLOCKS or child.tag == _TABLE + "table":
                yield from _odt_blocks([child])
            else:
                yield from _odt_blocks_inside(child)


def _odt_text(paragraph: Any) -> str:
    """A paragraph's own text: spaces (text:s), tabs and line breaks written out; nested
    paragraphs (text boxes, footnotes), comments and frames left out."""
    parts = [paragraph.text or ""]
    for child in paragraph:
        tag = child.tag
        if isinstance(tag, str):
            if tag == _TEXT + "s":
                parts.append(" " * min(_int(child.get(_TEXT + "c"), 1), 100))
            elif tag == _TEXT + "tab":
                parts.append("\t")
            elif tag == _TEXT + "line-break":
                parts.append("\n")
            elif tag not in _SKIPPED and tag not in _BLOCKS and not tag.endswith(("}note", "}frame")):
                parts.append(_odt_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


# --- PPTX ----------------------------------------------------------------------------------------


def parse_pptx(raw: bytes, doc_id: str, max_unpacked: int) -> Parsed:
    import pptx

    package = checked_zip(raw, doc_id, max_unpacked, "PPTX")
    try:
        presentation = pptx.Presentation(package)
        parts: list[str] = []
        pages: list[tuple[int, int, int]] = []
        offset = 0
        first_title: str | None = None
        for number, slide in enumerate(presentation.slides, start=1):
            title_shape = slide.shapes.title
            title = _clean(title_shape.text_frame.text).strip() if title_shape is not None else ""
            first_title = first_title or title or None
            blocks = [title] + [b for shape in slide.shapes if shape != title_shape for b in _shape_blocks(shape)]
            if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
                notes = _clean(slide.notes_slide.notes_text_frame.text.replace("\v", "\n")).strip()
                blocks.append(f"Notizen: {notes}" if notes else "")
            slide_text = "\n".join(b for b in blocks if b)
            if not slide_text:
                continue
            if parts:
                offset += 2
            pages.append((number, offset, offset + len(slide_text)))
            parts.append(slide_text)
            offset += len(slide_text)
        meta_title = presentation.core_properties.title
    except DocumentError:
        raise
    except Exception as exc:  # python-pptx raises KeyError, ValueError, lxml errors on bad files
        raise DocumentError(doc_id, f"beschädigte PPTX-Datei ({type(exc).__name__})") from None
    return "\n\n".join(parts), _title(meta_title, first_title), tuple(pages)


def _shape_blocks(shape: Any) -> Iterator[str]:
    """The text of one shape: its paragraphs, a table's rows (cells joined by " | "), a group's
    shapes."""
    if getattr(shape, "shape_type", None) == 6:  # MSO_SHAPE_TYPE.GROUP
        for inner in shape.shapes:
            yield from _shape_blocks(inner)
    elif getattr(shape, "has_table", False):
        for row in shape.table.rows:
            cells = [_one_line(cell.text_frame.text.replace("\v", " ")) for cell in row.cells]
            yield " | ".join(dict.fromkeys(c for c in cells if c))
    elif getattr(shape, "has_text_frame", False):
        yield _clean(shape.text_frame.text.replace("\v", "\n")).strip()


# --- tables: XLSX and CSV ------------------------------------------------------------------------


def parse_xlsx(raw: bytes, doc_id: str, max_unpacked: int) -> Parsed:
    import openpyxl

    package = checked_zip(raw, doc_id, max_unpacked, "XLSX")
    try:
        workbook = openpyxl.load_workbook(package, read_only=True, data_only=True, keep_vba=False)
    except Exception as exc:  # openpyxl raises KeyError, ValueError, zip and XML errors on bad files
        raise DocumentError(doc_id, f"beschädigte XLSX-Datei ({type(exc).__name__})") from None
    budget = [MAX_TABLE_CELLS]
    blocks: list[str] = []
    try:
        sheet_names: list[str] = []
        for sheet in workbook.worksheets:
            sheet_names.append(sheet.title)
            if hasattr(sheet, "reset_dimensions"):
                sheet.reset_dimensions()  # the declared size may lie; each row is as wide as its cells
            rows = sheet.iter_rows(values_only=True)
            blocks += _table_blocks(rows, f"Tabellenblatt „{_one_line(sheet.title)}“", doc_id, budget)
        meta_title = workbook.properties.title if workbook.properties else None
    except DocumentError:
        raise
    except Exception as exc:
        raise DocumentError(doc_id, f"beschädigte XLSX-Datei ({type(exc).__name__})") from None
    finally:
        workbook.close()
    return "\n\n".join(blocks), _title(meta_title, *sheet_names, Path(doc_id).stem), ()


def parse_csv(raw: bytes, doc_id: str, _max_unpacked: int) -> Parsed:
    text = decode_text(raw, doc_id)
    dialect = _sniff(text)
    rows = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        blocks = _table_blocks(rows, None, doc_id, [MAX_TABLE_CELLS])
    except csv.Error as exc:
        if "field limit" in str(exc):
            reason = f"ein Feld ist länger als {csv.field_size_limit()} Zeichen (fehlt ein Anführungszeichen?)"
        else:
            reason = str(exc)
        raise DocumentError(doc_id, f"CSV nicht lesbar (Zeile {rows.line_num}: {reason})") from None
    return "\n\n".join(blocks), _title(Path(doc_id).stem), ()


_DELIMITERS = ";,\t|"


def _sniff(text: str) -> type[csv.Dialect] | csv.Dialect:
    """The CSV dialect of ``text``: csv.Sniffer on its start, else the delimiter of
    :data:`_DELIMITERS` its first line holds most often (";" in German Excel exports)."""
    sample = text[:65536]
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS)
    except csv.Error:
        pass
    first = sample.split("\n", 1)[0]
    delimiter = max(_DELIMITERS, key=first.count)

    class Fallback(csv.excel):
        pass

    Fallback.delimiter = delimiter if first.count(delimiter) else ","
    return Fallback


def _table_blocks(rows: Iterable[Sequence[object]], sheet: str | None, doc_id: str, budget: list[int]) -> list[str]:
    """One block per group of rows: a heading (sheet, row numbers), then one line per row,
    ``Spalte: Wert; Spalte: Wert``, the column names taken from the table's first row when that
    holds no numbers or dates (else "Spalte A", "Spalte B", ...). ``budget`` is what is left of
    :data:`MAX_TABLE_CELLS`, shared by a workbook's sheets."""
    names: list[str] | None = None
    blocks: list[str] = []
    lines: list[str] = []
    first = last = 0
    reserve = len(_group(sheet, 10**7, 10**7, [])) + 1  # room for the group's heading
    size = reserve
    for number, row in enumerate(rows, start=1):
        budget[0] -= 1 + len(row)
        if budget[0] < 0:
            raise DocumentError(
                doc_id,
                f"Tabelle zu groß (mehr als {MAX_TABLE_CELLS:_} Zellen), bitte aufteilen".replace("_", "."),
            )
        cells = [_cell_text(value) for value in row]
        if not any(cells):
            continue
        if names is None:
            if all(not isinstance(v, (int, float, dt.date, dt.time)) for v in row) and not any(
                _NUMBER.match(c) for c in cells if c
            ):
                names = cells
                continue
            names = []
        line = "; ".join(f"{_column_name(names, i)}: {value}" for i, value in enumerate(cells) if value)
        if lines and (size + len(line) > GROUP_CHARS or len(lines) >= GROUP_ROWS):
            blocks.append(_group(sheet, first, last, lines))
            lines, size = [], reserve
        if not lines:
            first = number
        lines.append(line)
        last = number
        size += len(line) + 1
    if lines:
        blocks.append(_group(sheet, first, last, lines))
    return blocks


_NUMBER = re.compile(r"^[-+]?[\d.,:/ %€]+$")


def _column_name(names: list[str], index: int) -> str:
    if index < len(names) and names[index]:
        return names[index]
    return f"Spalte {_column_letter(index)}"


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _group(sheet: str | None, first: int, last: int, lines: list[str]) -> str:
    rows = f"Zeile {first}" if first == last else f"Zeilen {first}–{last}"
    heading = f"{sheet}, {rows}" if sheet else rows
    return "\n".join([heading, *lines])


def _cell_text(value: object) -> str:
    """A cell as German text: dates as 12.03.2024, decimal commas, ja/nein."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nein"
    if isinstance(value, dt.datetime):
        return value.strftime("%d.%m.%Y" if value.time() == dt.time() else "%d.%m.%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.10g}".replace(".", ",")
    return _one_line(str(value))
