"""Documents -> Chunks with exact character offsets (``chunk.text == doc.text[start:end]``).

The splitting is langchain's ``RecursiveCharacterTextSplitter`` with German-aware separators.
Its pieces are substrings of the text; each is located no earlier than where the splitter's
overlap allows (the previous chunk's end minus ``chunk_overlap``) and so that it reaches past
the previous chunk, which places a repeated phrase at its true occurrence, not an earlier copy.
"""

from __future__ import annotations

from .types import Chunk, Document

# Paragraphs first, then lines, then sentence ends, then clause breaks, then words.
GERMAN_SEPARATORS = ["\n\n", "\n", ". ", "! ", "? ", "; ", ": ", ", ", " – ", " ", ""]

Span = tuple[int, int]


class Chunker:
    def __init__(self, chunk_size: int, chunk_overlap: int) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size={chunk_size} muss mindestens 1 sein")
        if not 0 <= chunk_overlap <= chunk_size:
            raise ValueError(f"chunk_overlap={chunk_overlap} muss zwischen 0 und chunk_size liegen")
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self._splitter = RecursiveCharacterTextSplitter(
            separators=GERMAN_SEPARATORS,
            keep_separator="end",
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            strip_whitespace=True,
        )

    def split(self, document: Document, first_vid: int) -> list[Chunk]:
        """Chunks of ``document``, numbered with vector ids from ``first_vid`` on."""
        return [
            Chunk(id=f"{document.id}#{number}", vid=first_vid + number, doc_id=document.id,
                  text=document.text[start:end], start=start, end=end)
            for number, (start, end) in enumerate(self.spans(document.text))
        ]

    def spans(self, text: str) -> list[Span]:
        spans: list[Span] = []
        for piece in self._splitter.split_text(text):
            if not piece.strip():
                continue
            if spans:
                prev_start, prev_end = spans[-1]
                floor = max(prev_start + 1, prev_end - self.chunk_overlap)
            else:
                floor = 0
            # Every new piece reaches past the previous one (it holds at least one new split).
            start = text.find(piece, floor)
            while spans and start >= 0 and start + len(piece) <= spans[-1][1]:
                start = text.find(piece, start + 1)
            if start < 0:
                continue
            end = start + len(piece)
            spans.append((start, end))
        return spans
