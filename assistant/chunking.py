"""Documents -> Chunks with exact character offsets (``chunk.text == doc.text[start:end]``)."""

from __future__ import annotations

from typing import Iterable

from .types import Chunk, Document

# Paragraphs first, then lines, then sentence ends, then clause breaks, then words.
GERMAN_SEPARATORS = ["\n\n", "\n", ". ", "! ", "? ", "; ", ": ", ", ", " – ", " ", ""]


class Chunker:
    def __init__(self, chunk_size: int, chunk_overlap: int) -> None:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self._splitter = RecursiveCharacterTextSplitter(
            separators=GERMAN_SEPARATORS,
            keep_separator="end",
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            strip_whitespace=True,
        )

    def split(self, document: Document, first_vid: int) -> list[Chunk]:
        """Chunks of ``document``, numbered with vector ids from ``first_vid`` on."""
        chunks: list[Chunk] = []
        for number, (start, end) in enumerate(self._spans(document.text)):
            chunks.append(Chunk(
                id=f"{document.id}#{number}",
                vid=first_vid + number,
                doc_id=document.id,
                text=document.text[start:end],
                start=start,
                end=end,
            ))
        return chunks

    def _spans(self, text: str) -> Iterable[tuple[int, int]]:
        cursor = 0
        for piece in self._splitter.split_text(text):
            start = text.find(piece, cursor)
            if start < 0:  # not expected: the splitter returns substrings; search from the top
                start = text.find(piece)
            if start < 0:
                continue
            end = start + len(piece)
            yield start, end
            # The next chunk may overlap this one but never starts before it.
            cursor = start + 1
