"""Word classes (parts of speech) of German sentences, for the span ranker's features.

The Hanover Tagger (HanTa, LGPL-3.0; its German model ships in its wheel, so it works offline)
tags the words of a sentence in context with STTS tags; they are folded into :data:`COARSE`.
Measured before it was shipped (evals/ranker/pos_experiment.py, 5-fold cross-validation by article
on GermanQuAD): the span stage with these classes at the span's edges chose the best candidate of
the right sentence first for 25.1 % of questions instead of 23.0 %, F1 0.418 → 0.427.

HanTa analyses a word it has not precomputed letter by letter (~0.1-0.5 ms); those analyses are
kept in a bounded cache, so the sentences of a chat tag in about 0.1 ms a word once warm.
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
