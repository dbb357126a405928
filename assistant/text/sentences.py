"""German sentence boundaries with character offsets.

pysbd's German rules keep "z. B.", "Dr.", "Nr.", "ca.", "bzw.", ordinal dates ("20. Oktober",
"9. Mai") and numbered list items together, where syntok and simple regexes break them.
Offsets are found by locating each sentence in the text, so ``text[start:end]`` is exact.

pysbd still breaks in a few places no German sentence ends: two ordinal dates in a row are
taken for a numbered list ("Er kam am 3. Januar. Sie am 4. Februar." -> "Er kam am" | "3.
Januar."), and some abbreviations before a number or a lower-case word ("Bd. 3", "im 19. Jh.
war") end a sentence. Such pieces are joined again (see :func:`_joins`).
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from ..ingest.dates import MONTHS

_local = threading.local()

# A sentence ends in . ! ? … (or : ;), possibly followed by closing quotes or brackets.
_TERMINAL = re.compile(r"[.!?…:;][\"'“”«»‹›’)\]]*$")
_LOWER_START = re.compile(r"^[\"'„“‚‘«»(\[]*[a-zäöüß]+(?![\w-])")  # "war", not "iPhones"
_DIGIT_START = re.compile(r"^[\"'„“‚‘«»(\[]*\d")
_ORDINAL_END = re.compile(r"(?:^|\s)\d{1,2}\.$")
_ORDINAL_START = re.compile(r"^\d{1,2}\.(?:\s|$)|^\d{4}\b")
# Abbreviations that stand before a number: "Abs. 2", "Bd. 3", "S. 5", "Hauptstr. 5", "Mo. 3. Juli".
_ABBREVIATION_END = re.compile(
    r"(?:^|[\s(])(?:Abs|Art|Bd|Bde|Kap|Ziff|Nr|Nrn|S|Sp|Abb|Tab|Anm|Hrsg|Vol|Jh|Jhd|Tel|Fax|Pkt|Rn|Rz|"
    r"Mo|Di|Mi|Do|Fr|Sa|So|Jan|Feb|Apr|Aug|Sep|Sept|Okt|Nov|Dez|ca|vgl|gem|lt|Mio|Mrd|Tsd|"
    r"[A-ZÄÖÜ][\wäöüß-]*str)\.$"
)
_MONTH_START = re.compile(r"^(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\b\.?", re.I)


# pysbd builds its regular expressions as strings on each call (one per abbreviation of its
# German list) and relies on the re module's cache, whose 512 entries its patterns overflow:
# every call then compiled ~200 patterns again (0.1 s for a long passage, the p95 of an answer).
_RE_CACHE = 4096


def _segmenter():  # one per thread: pysbd segmenters keep state while segmenting
    segmenter = getattr(_local, "segmenter", None)
    if segmenter is None:
        import pysbd

        if getattr(re, "_MAXCACHE", _RE_CACHE) < _RE_CACHE:
            re._MAXCACHE = _RE_CACHE  # type: ignore[attr-defined]

        segmenter = _local.segmenter = pysbd.Segmenter(language="de", clean=False)
    return segmenter


def _joins(previous: str, following: str) -> bool:
    """Whether pysbd's break between two pieces of one line is no sentence end."""
    if not _TERMINAL.search(previous):
        return True  # "Er kam am" | "3. Januar."
    if _LOWER_START.match(following):
        return True  # "Im 19. Jh." | "war das anders."
    if _DIGIT_START.match(following) and _ABBREVIATION_END.search(previous):
        return True  # "Nachzulesen in Bd." | "3 der Reihe."
    if _ORDINAL_END.search(previous) and (_ORDINAL_START.match(following) or _MONTH_START.match(following)):
        return True  # "am 1." | "2. 2023 passiert." / "am 3." | "Januar."
    return False


@lru_cache(maxsize=4096)
def sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    """``(start, end)`` of each sentence; blank lines and line breaks also end sentences."""
    spans: list[tuple[int, int]] = []
    block_start = 0
    for block in text.split("\n"):
        if block.strip():
            spans.extend(_block_spans(block, block_start))
        block_start += len(block) + 1
    return tuple(spans)


def _block_spans(block: str, offset: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    inner = 0
    # pysbd's own segment() then locates every sentence with a regex compiled from its text,
    # which is most of its run time; the sentences are located here with str.find instead.
    for sentence in _segmenter().processor(block).process():
        piece = sentence.strip()
        if not piece:
            continue
        found = block.find(piece, inner)
        if found < 0:
            continue
        end = found + len(piece)
        if spans and _joins(block[spans[-1][0] : spans[-1][1]], piece):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((found, end))
        inner = end
    return [(offset + start, offset + end) for start, end in spans]


def split_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]
