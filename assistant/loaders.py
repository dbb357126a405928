"""Corpus files -> Documents: txt, md, html/htm, pdf, docx.

Each file either becomes a :class:`Document` or is skipped with a German reason; one bad file
never stops the others.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .dates import extract_dates
from .errors import CorpusError, DocumentError
from .types import Document

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")
# A DOCX that unpacks to more than this is treated as a zip bomb.
MAX_UNPACKED_BYTES = 200_000_000
_BOILERPLATE_LINES = re.compile(
    r"^(skip to (main )?content|zum inhalt springen|direkt zum inhalt|meldung|pressemitteilung|news|"
    r"aktuelles|startseite|home|menü|menu|navigation)$",
    re.IGNORECASE,
)

# Metadata titles that programs fill in by themselves (reportlab: "untitled"); they name nothing.
_PLACEHOLDER_TITLE = re.compile(
    r"^(untitled|unbenannt|ohne titel|kein titel|title|titel|document|dokument|word document"
    r"|microsoft word - .*|.*\.(docx?|pdf|odt|rtf|txt))$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Skipped:
    """A corpus file that was not indexed, and why (German, for the summary)."""

    path: str
    reason: str


@dataclass(frozen=True)
class CorpusFile:
    """A file found in the corpus: its id (relative path), location and raw content hash."""

    doc_id: str
    path: Path
    content_hash: str
    size: int
    mtime_ns: int = 0


def scan_corpus(corpus_dir: Path, max_file_bytes: int,
                known: dict[str, tuple[int, int, str]] | None = None,
                fingerprint: dict[str, list[int]] | None = None) -> tuple[list[CorpusFile], list[Skipped]]:
    """List the corpus files with their content hashes, without parsing them.

    Hidden files and folders are ignored; symlinks that leave the corpus, unsupported formats
    and files over ``max_file_bytes`` are returned as skipped. ``known`` maps doc ids to
    ``(size, mtime_ns, content hash)``: a file with that size and time keeps that hash unread.
    ``fingerprint``, when given, receives what :func:`corpus_fingerprint` returns (same walk).
    """
    if not corpus_dir.is_dir():
        raise CorpusError(f"Korpus-Ordner {corpus_dir} existiert nicht oder ist kein Ordner")
    known = known or {}
    files: list[CorpusFile] = []
    skipped: list[Skipped] = []
    for rel, full, found in _walk_corpus(corpus_dir.resolve(), max_file_bytes, fingerprint):
        if isinstance(found, str):
            skipped.append(Skipped(rel, found))
            continue
        path = Path(full)
        seen = known.get(rel)
        if seen is not None and seen[0] == found.st_size and seen[1] == found.st_mtime_ns:
            files.append(CorpusFile(rel, path, seen[2], found.st_size, found.st_mtime_ns))
            continue
        try:
            digest = _hash_file(path)
        except OSError as exc:
            skipped.append(Skipped(rel, f"nicht lesbar: {exc.strerror or exc}"))
            continue
        files.append(CorpusFile(rel, path, digest, found.st_size, found.st_mtime_ns))
    return files, skipped


def corpus_fingerprint(corpus_dir: Path, max_file_bytes: int | None = None) -> dict[str, list[int]]:
    """``{doc id: [size, mtime_ns]}`` of the files :func:`scan_corpus` accepts (with the same
    ``max_file_bytes``), without reading them: a cheap way to tell whether the corpus changed
    since the index was built. Without ``max_file_bytes`` the size limit is not applied."""
    result: dict[str, list[int]] = {}
    for rel, _path, found in _walk_corpus(corpus_dir.resolve(), max_file_bytes):
        if not isinstance(found, str):
            result[rel] = [found.st_size, found.st_mtime_ns]
    return result


def _walk_corpus(root: Path, max_file_bytes: int | None, fingerprint: dict[str, list[int]] | None = None,
                 ) -> Iterator[tuple[str, str, os.stat_result | str]]:
    """``(doc id, path, stat)`` for each acceptable corpus file and ``(doc id, path, reason)``
    for each one to skip, folder by folder in name order. Hidden files and folders are left
    out. ``os.scandir`` and plain strings, one ``stat`` per file: this runs over every file at
    every start (staleness check) and update. ``fingerprint`` receives size and time of every
    supported regular file, also of too large ones."""
    yield from _walk_folder(root, str(root), "", max_file_bytes, fingerprint)


def _walk_folder(root: Path, folder: str, prefix: str, max_file_bytes: int | None,
                 fingerprint: dict[str, list[int]] | None) -> Iterator[tuple[str, str, os.stat_result | str]]:
    try:
        with os.scandir(folder) as found:
            entries = sorted((e for e in found if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError:
        return  # as os.walk: a folder that cannot be listed is left out
    folders = []
    folder_names = set()
    for entry in entries:
        try:
            is_folder = entry.is_dir()  # follows links, as os.walk does
        except OSError:
            is_folder = False
        if not is_folder:
            continue
        folder_names.add(entry.name)
        if entry.is_symlink():
            yield _shown(prefix + entry.name), entry.path, "symbolischer Link auf einen Ordner wird nicht verfolgt"
        else:
            folders.append(entry)
    for entry in entries:
        if entry.name in folder_names:
            continue
        name, full = entry.name, entry.path
        rel = prefix + name
        if not rel.isascii() and _shown(rel) != rel:
            # Bytes that are no UTF-8 come back as lone surrogates, which the index files
            # (UTF-8 JSON) cannot hold: one such name would fail the whole build.
            yield _shown(rel), full, "Dateiname ist kein gültiges UTF-8 (bitte umbenennen)"
            continue
        if entry.is_symlink():
            target = Path(full).resolve()
            if not target.is_relative_to(root):
                yield rel, full, "symbolischer Link zeigt aus dem Korpus-Ordner heraus"
                continue
            if not target.is_file():
                yield rel, full, "symbolischer Link zeigt auf keine Datei"
                continue
        suffix = name[name.rfind("."):].lower() if name.rfind(".") > 0 else ""  # as os.path.splitext
        if suffix not in SUPPORTED_SUFFIXES:
            yield rel, full, f"Format {suffix or '(ohne Endung)'} wird nicht unterstützt"
            continue
        try:
            info = entry.stat()
        except OSError as exc:
            yield rel, full, f"nicht lesbar: {exc.strerror or exc}"
            continue
        if not stat.S_ISREG(info.st_mode):
            # Opening a named pipe would block the whole scan.
            yield rel, full, "keine gewöhnliche Datei (z. B. Pipe oder Gerät)"
            continue
        if fingerprint is not None:
            fingerprint[rel] = [info.st_size, info.st_mtime_ns]
        if max_file_bytes is not None and info.st_size > max_file_bytes:
            yield rel, full, (f"Datei zu groß ({info.st_size / 1e6:.1f} MB, "
                              f"Grenze {max_file_bytes / 1e6:.1f} MB)")
            continue
        yield rel, full, info
    for entry in folders:
        yield from _walk_folder(root, entry.path, prefix + entry.name + "/", max_file_bytes, fingerprint)


def _shown(rel: str) -> str:
    """``rel`` as valid Unicode: undecodable bytes of a file name become U+FFFD."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _hash_file(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def load_document(file: CorpusFile) -> Document:
    """Parse one corpus file; raises :class:`DocumentError` with the reason when it cannot."""
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
    text, title, pages = parser(raw, file.doc_id)
    text = _normalize(text)
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
        if len(line) < 8 or _BOILERPLATE_LINES.match(line) or _is_bare_date(line):
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


# --- text decoding -----------------------------------------------------------------------------

def decode_text(raw: bytes, doc_id: str) -> str:
    """Bytes -> str for text formats: UTF-8 (with or without BOM), UTF-16 with BOM, and the
    cp1252 / latin-1 family that older German files use. Binary content is rejected."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return _check_text(raw[3:].decode("utf-8", errors="replace"), doc_id)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return _check_text(raw.decode("utf-16"), doc_id)
        except UnicodeDecodeError:
            raise DocumentError(doc_id, "UTF-16-Text ist nicht dekodierbar") from None
    if b"\x00" in raw[:4096]:
        guessed = _utf16_without_bom(raw)
        if guessed is not None:
            return _check_text(guessed, doc_id)
        raise DocumentError(doc_id, "Binärdatei, kein Text (Nullbytes)")
    try:
        return _check_text(raw.decode("utf-8"), doc_id)
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(raw, cp_isolation=["cp1252", "iso8859_15", "latin_1", "cp850", "mac_roman"]).best()
    if best is None:
        raise DocumentError(doc_id, "Zeichenkodierung nicht erkennbar")
    return _check_text(str(best), doc_id)


def _utf16_without_bom(raw: bytes) -> str | None:
    sample = raw[:4096]
    even_zeros = sample[0::2].count(0)
    odd_zeros = sample[1::2].count(0)
    half = len(sample) / 2
    encoding = "utf-16-le" if odd_zeros > 0.3 * half and even_zeros < 0.05 * half else (
        "utf-16-be" if even_zeros > 0.3 * half and odd_zeros < 0.05 * half else None)
    if encoding is None:
        return None
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        return None


# Unicode category Cc except tab, line feed, form feed and carriage return.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def _check_text(text: str, doc_id: str) -> str:
    sample = text[:20000]
    if not sample:
        return text
    controls = len(_CONTROL.findall(sample))
    replacement = sample.count("\ufffd")
    if (controls + replacement) / len(sample) > 0.01:
        raise DocumentError(doc_id, "Binärdatei oder defekte Kodierung, kein lesbarer Text")
    return text


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
    from lxml import etree, html as lxml_html

    markup = decode_text(raw, doc_id)
    parser = lxml_html.HTMLParser(encoding="utf-8", huge_tree=False)
    try:
        tree = lxml_html.fromstring(markup.encode("utf-8"), parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise DocumentError(doc_id, f"HTML nicht lesbar: {exc}") from None
    # Past libxml2's limits (256 levels of nesting, 10 MB in one text node) parsing stops
    # without an exception and the rest of the page would be lost without a word.
    if any(e.type_name == "ERR_RESOURCE_LIMIT" for e in parser.error_log):
        raise DocumentError(doc_id, "HTML zu tief verschachtelt oder zu großer Textblock "
                                    "(Grenze des HTML-Parsers), der Text wäre unvollständig")
    title_el = tree.find(".//title")
    title = title_el.text_content().strip() if title_el is not None else None
    h1 = tree.find(".//h1")
    if h1 is not None and h1.text_content().strip():
        title = h1.text_content().strip()
    # Page chrome goes before extraction: with favor_recall trafilatura keeps the menu of a
    # short page. Headers and footers inside the article or main part stay.
    for bad in tree.xpath("//script|//style|//noscript|//template|//nav"
                          "|//header[not(ancestor::article or ancestor::main)]"
                          "|//footer[not(ancestor::article or ancestor::main)]"
                          "|//aside[not(ancestor::article or ancestor::main)]"):
        bad.drop_tree()
    cleaned = lxml_html.tostring(tree, encoding="unicode")
    try:
        text = trafilatura.extract(cleaned, include_comments=False, include_tables=True, favor_recall=True)
    except Exception:  # trafilatura raises assorted errors on hostile markup; fall back below
        text = None
    if not text:
        body = tree.find(".//body")
        text = "\n".join(line.strip() for line in (body if body is not None else tree).text_content().splitlines()
                         if line.strip())
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


def _parse_docx(raw: bytes, doc_id: str) -> tuple[str, str | None, Pages]:
    import docx

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise DocumentError(doc_id, "beschädigte DOCX-Datei (kein gültiges ZIP)") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise DocumentError(
            doc_id, f"DOCX entpackt zu groß ({unpacked / 1e6:.0f} MB), möglicherweise eine ZIP-Bombe")
    try:
        document = docx.Document(io.BytesIO(raw))
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


_PARSERS: dict[str, Callable[[bytes, str], tuple[str, str | None, Pages]]] = {
    ".txt": _parse_text,
    ".md": _parse_markdown,
    ".html": _parse_html,
    ".htm": _parse_html,
    ".pdf": _parse_pdf,
    ".docx": _parse_docx,
}
