"""Corpus files -> Documents: txt, md, html/htm, pdf, docx.

Each file either becomes a :class:`Document` or is skipped with a German reason; one bad file
never stops the others.
"""

from __future__ import annotations

import io
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

from ..config import UNPACKED_PER_FILE_BYTE, Settings
from ..errors import DocumentError
from ..types import Document
from .boilerplate import is_boilerplate, strip_boilerplate
from .corpus import CorpusFile
from .dates import extract_dates
from .decoding import decode_text

# A DOCX whose parts unpack to more than this is treated as a zip bomb, unless the caller passes
# its own limit (a build passes Settings.max_unpacked_bytes; this is its default value).
MAX_UNPACKED_BYTES = Settings.max_file_bytes * UNPACKED_PER_FILE_BYTE

# Metadata titles that programs fill in by themselves (reportlab: "untitled"); they name nothing.
_PLACEHOLDER_TITLE = re.compile(
    r"^(untitled|unbenannt|ohne titel|kein titel|title|titel|document|dokument|word document"
    r"|microsoft word - .*|.*\.(docx?|pdf|odt|rtf|txt))$",
    re.IGNORECASE,
)


def load_document(file: CorpusFile, max_unpacked_bytes: int | None = None) -> Document:
    """Parse one corpus file; raises :class:`DocumentError` with the reason when it cannot.
    ``max_unpacked_bytes``: how far a DOCX may unpack (default :data:`MAX_UNPACKED_BYTES`)."""
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
    if parser is _parse_docx:
        text, title, pages = _parse_docx(raw, file.doc_id, max_unpacked_bytes)
    else:
        text, title, pages = parser(raw, file.doc_id)
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


def _parse_docx(raw: bytes, doc_id: str, max_unpacked: int | None = None) -> tuple[str, str | None, Pages]:
    import docx

    package = _checked_docx(raw, doc_id, MAX_UNPACKED_BYTES if max_unpacked is None else max_unpacked)
    try:
        document = docx.Document(package)
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors on bad files
        raise DocumentError(doc_id, f"beschädigte DOCX-Datei ({type(exc).__name__})") from None
    blocks = [p.text for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
            if cells:
                blocks.append(" | ".join(dict.fromkeys(cells)))
    title = document.core_properties.title or None
    return "\n\n".join(blocks), title, ()


# A DOCX part python-docx parses: XML and relationship files. Images, fonts and embedded
# objects carry no text and are never unpacked.
_XML_PART = re.compile(r"(\.xml|\.rels)$", re.IGNORECASE)
_INFLATE_STEP = 1 << 16


def _checked_docx(raw: bytes, doc_id: str, max_unpacked: int) -> io.BytesIO:
    """The DOCX as an uncompressed zip of its XML parts (the others empty), for python-docx.

    Each XML part is inflated here, 64 KB at a time, counting the bytes it really yields: a zip
    whose headers claim less than a part unpacks to (issue 14: 1.8 MB on disk, 2 KB claimed,
    1.9 GB inflated) is skipped once one byte more than claimed came out, and all parts
    together may unpack to ``max_unpacked`` bytes. python-docx would inflate each part in one
    piece, up to 1 GB at a time, before noticing that its checksum fails."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except Exception:  # BadZipFile, and NotImplementedError for a mangled version field, among others
        raise DocumentError(doc_id, "beschädigte DOCX-Datei (kein gültiges ZIP)") from None
    with archive:
        declared = sum(info.file_size for info in archive.infolist())
        if declared > max_unpacked:
            raise DocumentError(
                doc_id,
                f"DOCX entpackt zu groß ({declared / 1e6:.0f} MB, Grenze {max_unpacked / 1e6:.0f} MB), "
                "möglicherweise eine ZIP-Bombe",
            )
        parts: dict[str, bytes] = {}
        left = max_unpacked
        for name, info in archive.NameToInfo.items():
            if _XML_PART.search(name):
                parts[name] = _inflate_part(raw, info, doc_id, left, max_unpacked)
                left -= len(parts[name])
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w", zipfile.ZIP_STORED) as out:
        for name in archive.NameToInfo:
            out.writestr(name, parts.pop(name, b""))
    package.seek(0)
    return package


def _inflate_part(raw: bytes, info: zipfile.ZipInfo, doc_id: str, left: int, cap: int) -> bytes:
    """The unpacked bytes of one zip member, never more than its header claims or ``left`` (what
    is left of ``cap`` for the whole document)."""
    name = info.filename
    if info.flag_bits & 0x1:
        raise DocumentError(doc_id, f"verschlüsselte DOCX-Datei ({name})")
    header = raw[info.header_offset : info.header_offset + 30]
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise DocumentError(doc_id, f"beschädigte DOCX-Datei ({name} nicht lesbar)")
    name_length, extra_length = struct.unpack_from("<HH", header, 26)
    start = info.header_offset + 30 + name_length + extra_length
    packed = memoryview(raw)[start : start + info.compress_size]
    limit = min(info.file_size, left)
    if info.compress_type == zipfile.ZIP_STORED:
        data = bytes(packed[: limit + 1])
        complete = len(packed) <= limit
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        pieces: list[bytes] = []
        size = 0
        pending: bytes | memoryview = packed
        try:
            while size <= limit and not inflater.eof:
                piece = inflater.decompress(pending, min(_INFLATE_STEP, limit + 1 - size))
                pending = inflater.unconsumed_tail
                if not piece and not pending:
                    break  # the input ended before the stream did
                pieces.append(piece)
                size += len(piece)
        except zlib.error:
            raise DocumentError(doc_id, f"beschädigte DOCX-Datei ({name} nicht entpackbar)") from None
        data = b"".join(pieces)
        complete = inflater.eof
    else:
        raise DocumentError(doc_id, f"beschädigte DOCX-Datei ({name}: unbekannte Kompression)")
    if len(data) > info.file_size:
        raise DocumentError(
            doc_id,
            f"DOCX-Datei gibt falsche Größen an ({name} entpackt zu mehr als den angegebenen "
            f"{info.file_size} Bytes), möglicherweise eine ZIP-Bombe",
        )
    if len(data) > limit:
        raise DocumentError(doc_id, f"DOCX entpackt zu groß (Grenze {cap / 1e6:.0f} MB), möglicherweise eine ZIP-Bombe")
    if not complete or zlib.crc32(data) != info.CRC:  # shorter than claimed is harmless, as for zipfile
        raise DocumentError(doc_id, f"beschädigte DOCX-Datei ({name}: unvollständig oder Prüfsumme falsch)")
    return data


_PARSERS: dict[str, Callable[[bytes, str], tuple[str, str | None, Pages]]] = {
    ".txt": _parse_text,
    ".md": _parse_markdown,
    ".html": _parse_html,
    ".htm": _parse_html,
    ".pdf": _parse_pdf,
    ".docx": _parse_docx,
}
