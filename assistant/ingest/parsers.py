"""Corpus files -> Documents: txt, md, html/htm, pdf, docx; odt, pptx, xlsx, csv in :mod:`.office`.

Each file either becomes a :class:`Document` or is skipped with a German reason; one bad file
never stops the others.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

from ..errors import DocumentError
from ..types import Document
from . import office
from .boilerplate import is_boilerplate, strip_boilerplate
from .containers import MAX_UNPACKED_BYTES, checked_zip
from .corpus import CorpusFile
from .dates import extract_dates
from .decoding import decode_text

# Metadata titles that programs fill in by themselves (reportlab: "untitled"); they name nothing.
_PLACEHOLDER_TITLE = re.compile(
    r"^(untitled|unbenannt|ohne titel|kein titel|title|titel|document|dokument|word document"
    r"|microsoft word - .*|.*\.(docx?|pdf|odt|rtf|txt))$",
    re.IGNORECASE,
)


def load_document(file: CorpusFile, max_unpacked_bytes: int | None = None) -> Document:
    """Parse one corpus file; raises :class:`DocumentError` with the reason when it cannot.
    ``max_unpacked_bytes``: how far a zip container (DOCX, ODT, PPTX, XLSX) may unpack (default
    :data:`MAX_UNPACKED_BYTES`)."""
    try:
        raw = file.path.read_bytes()
    except OSError as exc:
        raise DocumentError(file.doc_id, f"nicht lesbar: {exc.strerror or exc}") from None
    if not raw.strip():
        raise DocumentError(file.doc_id, "leere Datei")
    suffix = file.path.suffix.lower()
    parser = _PARSERS.get(suffix)
    if parser is None:
        raise DocumentError(file.doc_id, f"Format {suffix or '(ohne Endung)'} wird nicht unterstützt")
    limit = MAX_UNPACKED_BYTES if max_unpacked_bytes is None else max_unpacked_bytes
    text, title, pages = parser(raw, file.doc_id, limit)
    del raw  # a large file: its bytes need not stay beside its text while that is normalised
    text = _normalize(text)
    if not pages:  # page offsets would no longer fit
        text = strip_boilerplate(text)
    if not text.strip():
        raise DocumentError(file.doc_id, "kein Text gefunden")
    title = " ".join((title or "").split())
    if _PLACEHOLDER_TITLE.match(title):
        title = ""
    title = title or guess_title(text, file.doc_id)
    return Document(
        id=file.doc_id,
        text=text,
        title=title,
        content_hash=file.content_hash,
        source_path=file.doc_id,
        dates=tuple(extract_dates(text, default_year=_year_from_name(file.doc_id))),
        pages=pages,
        fmt="html" if suffix == ".htm" else suffix.lstrip("."),
    )


def _normalize(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return unicodedata.normalize("NFC", text)


def _year_from_name(doc_id: str) -> int | None:
    match = re.search(r"(?:^|/)((?:19|20)\d\d)(?:[-_.]|$)", doc_id)
    return int(match.group(1)) if match else None


def guess_title(text: str, doc_id: str) -> str:
    """The first short line that is neither navigation boilerplate nor a bare date,
    else the first sentence (shortened)."""
    first = Path(doc_id).stem
    for line in [ln for ln in text.splitlines() if ln.strip()][:15]:
        line = line.strip().lstrip("#").strip()
        if len(line) < 8 or is_boilerplate(line) or _is_bare_date(line):
            continue
        if len(line) <= 200:
            return line
        first = line
        break
    sentence = re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0]
    return sentence if len(sentence) <= 120 else sentence[:117].rsplit(" ", 1)[0] + " …"


def _is_bare_date(line: str) -> bool:
    if re.fullmatch(r"[\d.\s/-]+", line):
        return True
    mentions = extract_dates(line, default_year=2000)
    return len(mentions) == 1 and mentions[0].text == line.strip(" ,.:;")


# --- format parsers: (raw bytes, doc id) -> (text, title or None, pages) -----------------------

Pages = tuple[tuple[int, int, int], ...]
# (raw bytes, doc id, how far a zip container may unpack) -> (text, title or None, pages)
Parser = Callable[[bytes, str, int], tuple[str, str | None, Pages]]


def _parse_text(raw: bytes, doc_id: str) -> tuple[str, str | None, Pages]:
    return decode_text(raw, doc_id), None, ()


def _parse_markdown(raw: bytes, doc_id: str) -> tuple[str, str | None, Pages]:
    text = decode_text(raw, doc_id)
    heading = re.search(r"^#[ \t]+(.*\S)[ \t]*$", text, re.MULTILINE)
    title = re.sub(r"[ \t]+#+$", "", heading.group(1)).strip() if heading else None
    return text, title or None, ()


def _parse_html(raw: bytes, doc_id: str) -> tuple[str, str | None, Pages]:
    import trafilatura
    from lxml import etree
    from lxml import html as lxml_html

    markup = decode_text(raw, doc_id)
    parser = lxml_html.HTMLParser(encoding="utf-8", huge_tree=False)
    try:
        tree = lxml_html.fromstring(markup.encode("utf-8"), parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise DocumentError(doc_id, f"HTML nicht lesbar: {exc}") from None
    # Past libxml2's limits (256 levels of nesting, 10 MB in one text node) parsing stops
    # without an exception and the rest of the page would be lost without a word.
    if any(e.type_name == "ERR_RESOURCE_LIMIT" for e in parser.error_log):
        raise DocumentError(
            doc_id,
            "HTML zu tief verschachtelt oder zu großer Textblock "
            "(Grenze des HTML-Parsers), der Text wäre unvollständig",
        )
    title_el = tree.find(".//title")
    title = title_el.text_content().strip() if title_el is not None else None
    h1 = tree.find(".//h1")
    if h1 is not None and h1.text_content().strip():
        title = h1.text_content().strip()
    # Page chrome goes before extraction: with favor_recall trafilatura keeps the menu of a
    # short page. Headers and footers inside the article or main part stay.
    for bad in tree.xpath(
        "//script|//style|//noscript|//template|//nav"
        "|//header[not(ancestor::article or ancestor::main)]"
        "|//footer[not(ancestor::article or ancestor::main)]"
        "|//aside[not(ancestor::article or ancestor::main)]"
    ):
        bad.drop_tree()
    cleaned = lxml_html.tostring(tree, encoding="unicode")
    try:
        text = trafilatura.extract(cleaned, include_comments=False, include_tables=True, favor_recall=True)
    except Exception:  # trafilatura raises assorted errors on hostile markup; fall back below
        text = None
    if not text:
        body = tree.find(".//body")
        try:
            content = (body if body is not None else tree).text_content()
        except ValueError:  # the root is no element ("<body><!--": a comment): nothing to read
            content = ""
        text = "\n".join(line.strip() for line in content.splitlines() if line.strip())
    return text, title, ()


def _parse_pdf(raw: bytes, doc_id: str) -> tuple[str, str | None, Pages]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise DocumentError(doc_id, "verschlüsseltes PDF (Passwort nötig)")
            except (NotImplementedError, PdfReadError):
                raise DocumentError(doc_id, "verschlüsseltes PDF (Passwort nötig)") from None
        parts: list[str] = []
        pages: list[tuple[int, int, int]] = []
        offset = 0
        for number, page in enumerate(reader.pages, start=1):
            page_text = _normalize(page.extract_text() or "").strip()
            if parts:
                offset += 2
            pages.append((number, offset, offset + len(page_text)))
            parts.append(page_text)
            offset += len(page_text)
        meta_title = (reader.metadata.title if reader.metadata else None) or None
    except DocumentError:
        raise
    except Exception as exc:  # pypdf signals corrupt files with many exception types
        raise DocumentError(doc_id, f"beschädigtes PDF ({type(exc).__name__}: {exc})") from None
    text = "\n\n".join(parts)
    if not text.strip():
        raise DocumentError(doc_id, "PDF ohne Textebene (gescannt?), kein Text gefunden")
    return text, meta_title, tuple(pages)


def _parse_docx(raw: bytes, doc_id: str, max_unpacked: int) -> tuple[str, str | None, Pages]:
    import docx

    package = checked_zip(raw, doc_id, max_unpacked, "DOCX")
    try:
        document = docx.Document(package)
        blocks = [p.text for p in document.paragraphs if p.text.strip()]
        for table in document.tables:
            for row in table.rows:
                cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
                if cells:
                    blocks.append(" | ".join(dict.fromkeys(cells)))
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors on bad files
        raise DocumentError(doc_id, f"beschädigte DOCX-Datei ({type(exc).__name__})") from None
    try:
        title = document.core_properties.title or None
    except Exception:  # damaged metadata part (python-docx: AttributeError): the text stands, the title is found later
        title = None
    return "\n\n".join(blocks), title, ()


def _plain(parse: Callable[[bytes, str], tuple[str, str | None, Pages]]) -> Parser:
    """A parser of a format that unpacks nothing, with the unpacking limit every parser takes."""
    return lambda raw, doc_id, _max_unpacked: parse(raw, doc_id)


# The one place that maps suffixes to loaders (corpus.SUPPORTED_SUFFIXES lists the same).
_PARSERS: dict[str, Parser] = {
    ".txt": _plain(_parse_text),
    ".md": _plain(_parse_markdown),
    ".html": _plain(_parse_html),
    ".htm": _plain(_parse_html),
    ".pdf": _plain(_parse_pdf),
    ".docx": _parse_docx,
    ".odt": office.parse_odt,
    ".pptx": office.parse_pptx,
    ".xlsx": office.parse_xlsx,
    ".csv": office.parse_csv,
}
