"""German sentence boundaries with character offsets.

pysbd's German rules keep "z. B.", "Dr.", "Nr.", "ca.", "bzw.", ordinal dates ("20. Oktober",
"9. Mai") and numbered list items together, where syntok and simple regexes break them.
Offsets are found by locating each sentence in the text, so ``text[start:end]`` is exact.
"""

from __future__ import annotations

import threading
from functools import lru_cache

_local = threading.local()


def _segmenter():  # one per thread: pysbd segmenters keep state while segmenting
    segmenter = getattr(_local, "segmenter", None)
    if segmenter is None:
        import pysbd

        segmenter = _local.segmenter = pysbd.Segmenter(language="de", clean=False)
    return segmenter


@lru_cache(maxsize=4096)
def sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    """``(start, end)`` of each sentence; blank lines and line breaks also end sentences."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for block in text.split("\n"):
        block_start = text.find(block, cursor) if block else cursor
        cursor = block_start + len(block)
        if not block.strip():
            continue
        inner = 0
        for sentence in _segmenter().segment(block):
            piece = sentence.strip()
            if not piece:
                continue
            found = block.find(piece, inner)
            if found < 0:
                continue
            spans.append((block_start + found, block_start + found + len(piece)))
            inner = found + len(piece)
    return tuple(spans)


def split_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]
