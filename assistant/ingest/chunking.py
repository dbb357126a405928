"""Document texts -> chunk spans with exact character offsets (``chunk.text == text[start:end]``).

The splitting is langchain's ``RecursiveCharacterTextSplitter`` with German-aware separators.
Its pieces are substrings of the text, but a piece of repeated text ("17.05.2017 17.05.2017")
could be found at the wrong copy. So the splitter runs on a masked copy of the text in which
every character that is neither whitespace nor part of a separator is replaced by a code point
unique to its position: the splitter decides exactly as on the original (it only looks at
separators and lengths) and each piece can be found at exactly one place.

A text longer than ``SEGMENT_CHARS`` is split in segments of at most that length, each cut at
the strongest separator in its second half (a paragraph break where there is one), and each
segment is chunked on its own: the masked copy and the splitter's pieces then cost memory for
one segment, not for the whole text (issue 14: a 49 MB text took 1.6 GB). A chunk never
spans two segments; shorter texts are chunked exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import numpy as np

# Paragraphs first, then lines, then sentence ends, then clause breaks, then words.
GERMAN_SEPARATORS = ["\n\n", "\n", ". ", "! ", "? ", "; ", ": ", ", ", " – ", " ", ""]

Span = tuple[int, int]
_PRIVATE = 0xF0000  # Supplementary Private Use Area-A: 65,534 code points
_PRIVATE_SIZE = 65534
# Characters per segment of a long text (see the module docstring): a 1,000-page book, far more
# than any ordinary document.
SEGMENT_CHARS = 1_000_000


def segments(text: str, size: int = SEGMENT_CHARS) -> Iterator[Span]:
    """``(start, end)`` of consecutive pieces of ``text`` of at most ``size`` characters that
    cover it, each cut after the strongest separator (:data:`GERMAN_SEPARATORS`) in the second
    half of its window, or at ``size`` where the window holds none."""
    start, length = 0, len(text)
    while length - start > size:
        window_end = start + size
        end = window_end
        for separator in GERMAN_SEPARATORS[:-1]:
            at = text.rfind(separator, start + size // 2, window_end)
            if at >= 0:
                end = at + len(separator)
                break
        yield start, end
        start = end
    if start < length or not length:
        yield start, length


@lru_cache(maxsize=1)
def _whitespace() -> np.ndarray:
    """The code points ``str.isspace`` accepts (all below U+3001)."""
    return np.asarray([c for c in range(0x3001) if chr(c).isspace()], dtype=np.uint32)


def _masked(text: str) -> str:
    """``text`` with every character replaced by a code point unique to its position, except
    whitespace and the characters of separator occurrences (what the splitter looks at)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).copy()
    if codes.size == 0:
        return text
    keep = np.isin(codes, _whitespace())
    for separator in GERMAN_SEPARATORS:
        if not separator.strip():
            continue
        at = text.find(separator)
        while at >= 0:
            keep[at : at + len(separator)] = True
            at = text.find(separator, at + 1)
    positions = np.flatnonzero(~keep)
    codes[positions] = _PRIVATE + (positions % _PRIVATE_SIZE).astype(np.uint32)
    return codes.tobytes().decode("utf-32-le")


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

    def spans(self, text: str) -> list[Span]:
        """``(start, end)`` of each chunk of ``text``, in order (segment by segment)."""
        if len(text) <= SEGMENT_CHARS:
            return self._spans(text)
        spans: list[Span] = []
        for start, end in segments(text):
            spans.extend((start + a, start + b) for a, b in self._spans(text[start:end]))
        return spans

    def _spans(self, text: str) -> list[Span]:
        spans: list[Span] = []
        masked = _masked(text)
        for piece in self._splitter.split_text(masked):
            if not piece.strip():
                continue
            # Pieces come in order; one may start where the previous one did and reach further.
            floor = spans[-1][0] if spans else 0
            # Every new piece reaches past the previous one (it holds at least one new split).
            start = masked.find(piece, floor)
            while spans and start >= 0 and start + len(piece) <= spans[-1][1]:
                start = masked.find(piece, start + 1)
            if start < 0:
                continue
            end = start + len(piece)
            spans.append((start, end))
        return spans
