"""Zip containers (DOCX, ODT, PPTX, XLSX) unpacked safely before a library reads them.

Each XML part is inflated here, 64 KB at a time, counting the bytes it really yields, so a zip
bomb or a zip whose headers lie about sizes is skipped with a German reason before python-docx,
python-pptx, openpyxl or lxml unpack anything. Parts that carry no text (images, fonts, embedded
objects, macros) are never unpacked. XML parts holding a document type declaration are refused:
no office program writes one, and it is what entity bombs ("billion laughs") and external
entities need.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib

from ..config import UNPACKED_PER_FILE_BYTE, Settings
from ..errors import DocumentError

# A container whose parts unpack to more than this is treated as a zip bomb, unless the caller
# passes its own limit (a build passes Settings.max_unpacked_bytes; this is its default value).
MAX_UNPACKED_BYTES = Settings.max_file_bytes * UNPACKED_PER_FILE_BYTE
# A part the libraries parse: XML and relationship files.
_XML_PART = re.compile(r"(\.xml|\.rels)$", re.IGNORECASE)
_INFLATE_STEP = 1 << 16
# "<!DOCTYPE" and "<!ENTITY" in UTF-8 and in UTF-16 (either byte order); no office file holds one.
_DTD_MARKS = tuple(
    mark.encode(encoding) for mark in ("<!DOCTYPE", "<!ENTITY") for encoding in ("utf-8", "utf-16-le", "utf-16-be")
)
# The start of an OLE compound file: what Office writes for a password-protected DOCX/XLSX/PPTX
# (the zip inside is encrypted) and for the old .doc/.xls/.ppt formats.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OLE_ENCRYPTED = "EncryptionInfo".encode("utf-16-le")


def checked_zip(raw: bytes, doc_id: str, max_unpacked: int, kind: str) -> io.BytesIO:
    """The container as an uncompressed zip of its XML parts (the others empty), for a library.

    ``kind`` ("DOCX", "ODT", ...) names the format in the reasons. A zip whose headers claim
    less than a part unpacks to (issue 14: 1.8 MB on disk, 2 KB claimed, 1.9 GB inflated) is
    skipped once one byte more than claimed came out, and all parts together may unpack to
    ``max_unpacked`` bytes. The libraries would inflate each part in one piece, up to 1 GB at
    a time, before noticing that its checksum fails."""
    if raw.startswith(_OLE_MAGIC):
        if _OLE_ENCRYPTED in raw:
            raise DocumentError(doc_id, f"verschlüsselte {kind}-Datei (Passwort nötig)")
        raise DocumentError(doc_id, f"keine {kind}-Datei (altes Office-Format, bitte als {kind} speichern)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except Exception:  # BadZipFile, and NotImplementedError for a mangled version field, among others
        raise DocumentError(doc_id, f"beschädigte {kind}-Datei (kein gültiges ZIP)") from None
    with archive:
        declared = sum(info.file_size for info in archive.infolist())
        if declared > max_unpacked:
            raise DocumentError(
                doc_id,
                f"{kind} entpackt zu groß ({declared / 1e6:.0f} MB, Grenze {max_unpacked / 1e6:.0f} MB), "
                "möglicherweise eine ZIP-Bombe",
            )
        parts: dict[str, bytes] = {}
        left = max_unpacked
        for name, info in archive.NameToInfo.items():
            if _XML_PART.search(name):
                data = _inflate_part(raw, info, doc_id, left, max_unpacked, kind)
                if any(mark in data for mark in _DTD_MARKS):
                    raise DocumentError(
                        doc_id,
                        f"{kind}-Datei mit XML-Dokumenttyp oder Entitäten ({name}), möglicherweise eine XML-Bombe",
                    )
                parts[name] = data
                left -= len(data)
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w", zipfile.ZIP_STORED) as out:
        for name in archive.NameToInfo:
            out.writestr(name, parts.pop(name, b""))
    package.seek(0)
    return package


def _inflate_part(raw: bytes, info: zipfile.ZipInfo, doc_id: str, left: int, cap: int, kind: str) -> bytes:
    """The unpacked bytes of one zip member, never more than its header claims or ``left`` (what
    is left of ``cap`` for the whole document)."""
    name = info.filename
    if info.flag_bits & 0x1:
        raise DocumentError(doc_id, f"verschlüsselte {kind}-Datei ({name})")
    header = raw[info.header_offset : info.header_offset + 30]
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise DocumentError(doc_id, f"beschädigte {kind}-Datei ({name} nicht lesbar)")
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
            raise DocumentError(doc_id, f"beschädigte {kind}-Datei ({name} nicht entpackbar)") from None
        data = b"".join(pieces)
        complete = inflater.eof
    else:
        raise DocumentError(doc_id, f"beschädigte {kind}-Datei ({name}: unbekannte Kompression)")
    if len(data) > info.file_size:
        raise DocumentError(
            doc_id,
            f"{kind}-Datei gibt falsche Größen an ({name} entpackt zu mehr als den angegebenen "
            f"{info.file_size} Bytes), möglicherweise eine ZIP-Bombe",
        )
    if len(data) > limit:
        raise DocumentError(
            doc_id, f"{kind} entpackt zu groß (Grenze {cap / 1e6:.0f} MB), möglicherweise eine ZIP-Bombe"
        )
    if not complete or zlib.crc32(data) != info.CRC:  # shorter than claimed is harmless, as for zipfile
        raise DocumentError(doc_id, f"beschädigte {kind}-Datei ({name}: unvollständig oder Prüfsumme falsch)")
    return data
