"""Word classes (parts of speech) of German sentences, for the span ranker's features.

The Hanover Tagger (HanTa, LGPL-3.0; its German model ships in its wheel, so it works offline)
tags the words of a sentence in context with STTS tags; they are folded into :data:`COARSE`. What
the classes bring to the span ranker is measured in :mod:`assistant.answer.span_classes`.

Cost: HanTa analyses a word outside its precomputed table letter by letter (long compounds cost
the most). `benchmarks/word_classes_cost.py`, 2 cores, quiet: a GermanQuAD sentence (~21 words
and marks) takes 2.4 ms on average (p95 6.8 ms) when its words are new, 0.25 ms when they were
seen before (the analyses are kept in an LRU cache of :data:`WORD_CACHE` words); the answer tags
its 3 best sentences. The version is pinned in pyproject.toml: the shipped span
model was fitted on this tagger's classes, and the cache wraps its private ``_tag_word``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

COARSE = (
    "NN",  # common noun
    "NE",  # proper noun
    "ADJA",  # attributive adjective (die *neue* Halle)
    "ADJD",  # adverbial or predicative adjective (ist *neu*)
    "ADV",
    "VFIN",  # finite verb
    "VINF",  # infinitive
    "VPP",  # participle
    "CARD",  # number
    "ART",
    "APPR",  # preposition (also with article: im, zum)
    "PRON",
    "KON",  # coordinating conjunction (und, oder, als, wie)
    "KOUS",  # subordinating conjunction (weil, dass, um zu)
    "PTK",  # particle
    "OTHER",  # foreign words, symbols, truncations
)
CLASS = {name: i for i, name in enumerate(COARSE)}
WORD_CACHE = 200_000  # HanTa's analyses of words it has not precomputed (a few hundred bytes each)

_EXACT = {"NN", "NE", "CARD", "ART", "ADV", "KON", "KOUS"}


def coarse(tag: str) -> str:
    """The class of :data:`COARSE` an STTS tag (as HanTa writes it: "ADJ(A)", "VV(FIN)") falls in."""
    if tag in _EXACT:
        return tag
    if tag.startswith("ADJ"):
        return "ADJD" if tag == "ADJ(D)" else "ADJA"
    if tag.startswith("V"):
        if tag.endswith("(FIN)") or tag.endswith("(IMP)"):
            return "VFIN"
        return "VPP" if tag.endswith("(PP)") else "VINF"
    if tag in ("APPR", "APPRART", "APPO", "APZR"):
        return "APPR"
    if tag.startswith("PTK"):
        return "PTK"
    if tag.startswith("P"):
        return "PRON"
    if tag == "KOUI":
        return "KOUS"
    if tag == "KOKOM":
        return "KON"
    return "OTHER"


_lock = threading.Lock()
_tagger: Any = None


def _load() -> Any:
    global _tagger
    if _tagger is not None:  # every sentence comes here: no lock once loaded
        return _tagger
    with _lock:
        if _tagger is None:
            from HanTa import HanoverTagger

            tagger = HanoverTagger.HanoverTagger("morphmodel_ger.pgz")
            # the analysis of a word is a pure function of its arguments; HanTa recomputes it
            # at every call for words outside its precomputed table
            tagger._tag_word = functools.lru_cache(maxsize=WORD_CACHE)(tagger._tag_word)
            _tagger = tagger
        return _tagger


@functools.lru_cache(maxsize=1024)
def _tag_classes(pieces: tuple[str, ...]) -> tuple[int, ...]:
    tags = _load().tag_sent(list(pieces), taglevel=0)
    return tuple(CLASS[coarse(t)] for t in tags)


def word_classes(pieces: Sequence[str]) -> np.ndarray:
    """The class index (into :data:`COARSE`) of each of ``pieces``, the words and punctuation of
    one sentence in order (punctuation gives the tagger its context)."""
    if not pieces:
        return np.zeros(0, dtype=np.int8)
    return np.array(_tag_classes(tuple(pieces)), dtype=np.int8)
