"""Real corpus files built on the spot: a plain DOCX (the one builder the tests share) and,
written streaming so that a large one costs little memory to make, a DOCX whose zip headers lie
about a member's size and a large German text file.

Used by tests/test_ingest_hardening.py and benchmarks/ingest_memory.py (no pytest needed)."""

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
