"""Word classes (parts of speech) of German sentences, for the span ranker's features.

The Hanover Tagger (HanTa, LGPL-3.0; its German model ships in its wheel, so it works offline)
tags the words of a sentence in context with STTS tags; they are folded into :data:`COARSE`. What
the classes bring to the span ranker is measured in :mod:`assistant.answer.span_classes`.

Cost: HanTa analyses a word outside its precomputed table letter by letter (long compounds cost
the most), in pure Python. :func:`_analyze_forward` is that analysis with ``lp_m_t`` inlined and
the morphemes that cannot carry a tag skipped; it returns the same lists, float for float (same
order of operations and of dict insertions; `tests/test_word_classes.py` compares both on the
shipped corpus's words and on every short letter string). The analyses are kept in an LRU cache
of :data:`WORD_CACHE` lower-cased words. `benchmarks/word_classes_cost.py [--hanta-own]` prints
what a sentence costs and times both analyses on the words outside the table (2 cores: 1.6-1.7x
faster); the answer tags its 3 best sentences. The version is pinned in pyproject.toml: the
shipped span model was fitted on this tagger's classes, and the fast analysis replaces the
tagger's ``analyze_forward`` (which ``_tag_word`` calls for every word outside its table).
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
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
WORD_CACHE = 50_000  # analyses of words outside HanTa's table: ~1 KB each with the cache's own, ≤ ~60 MB

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
            # the analysis of a word is a pure function of the (lower-cased) word; HanTa
            # recomputes it at every call for words outside its precomputed table
            fast = functools.partial(_analyze_forward, _Model.of(tagger))
            tagger.analyze_forward = functools.lru_cache(maxsize=WORD_CACHE)(fast)
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


_LOWER_BOUND = -1e6  # HanTa's: paths at or below it are dropped

# A tag that follows a state: (tag, log p(transition), its known morphemes, and its terms for a
# morpheme it has not seen, or None when it never stands for an unseen one).
_Follower = tuple[int, float, dict[str, float], "tuple[dict[str, float], float, list[float]] | None"]


@dataclass(frozen=True)
class _Model:
    """What HanTa's word analysis reads, looked up once when the tagger is loaded."""

    nonfinal: dict[tuple[int, int], list[_Follower]]
    final: dict[tuple[int, int], list[tuple[int, float]]]
    int_t: float
    empty: int
    start: int
    unknown: int

    @classmethod
    def of(cls, tagger: Any) -> _Model:
        from HanTa.HanoverTagger import EMPTY, START, UNKNOWN

        guess = {}
        if not tagger.strict:  # the morphology model is not strict: unseen morphemes are guessed
            guess = {
                t: (tagger.LP_s_t[t], tagger.LP_hapax_t[t], tagger.LP_len_t[t])
                for t in tagger.LP_hapax_t
                if t in tagger.LP_s_t
            }
        nonfinal = {
            state: [(t, lp, tagger.LP_m_t[t], guess.get(t)) for t, lp in followers]
            for state, followers in tagger.LP_trans_nonfinal.items()
        }
        return cls(nonfinal, tagger.LP_trans_final, tagger.Int_t, EMPTY, START, UNKNOWN)


def _analyze_forward(model: _Model, word: str) -> list[tuple[int, float]]:
    """HanTa 1.2.1's ``HanoverTagger.analyze_forward`` (Viterbi over the morphemes of one word,
    the states within 1 of the 4th best go on at each position): the same loops in the same
    order, with ``lp_m_t`` inlined and a morpheme that cannot carry a tag skipped instead of scored
    -inf and then dropped."""
    wlen = len(word)
    table: list[dict[tuple[int, int], float]] = [{(model.empty, model.start): 0.0}] + [{} for _ in range(wlen + 1)]
    short = wlen < 4
    for i in range(wlen + 1):
        row = table[i]
        rowbound = sorted(row.values(), reverse=True)[3] - 1 if len(row) > 3 else _LOWER_BOUND
        for state, lp in row.items():
            if lp < rowbound:
                continue
            followup = model.nonfinal.get(state)
            if not followup:
                continue
            s1 = state[1]
            for j in range(i + 1, wlen + 1):
                segment = word[i:j]
                target = table[j]
                for tag1, lpt, known, terms in followup:
                    if segment in known:
                        m = known[segment]
                    else:  # an unknown morpheme, guessed from its length and suffix
                        mlen = j - i
                        if terms is None or not (short or mlen > 2):
                            continue
                        suffixes, hapax, lengths = terms
                        if mlen > 4 and segment[-4:] in suffixes:
                            lp_suf = suffixes[segment[-4:]]
                        elif mlen > 3 and segment[-3:] in suffixes:
                            lp_suf = suffixes[segment[-3:]]
                        elif mlen > 2 and segment[-2:] in suffixes:
                            lp_suf = suffixes[segment[-2:]]
                        elif mlen > 1 and segment[-1:] in suffixes:
                            lp_suf = suffixes[segment[-1:]]
                        else:
                            lp_suf = suffixes[""]
                        m = model.int_t + hapax + lengths[min(mlen, 24)] + lp_suf
                        if wlen == mlen:  # HanTa's penalty for the whole word as one unknown morpheme
                            m -= 4.6
                    lp1 = lp + lpt + m
                    if lp1 > _LOWER_BOUND:
                        newstate = (s1, tag1)
                        old = target.get(newstate)
                        if old is None or lp1 > old:
                            target[newstate] = lp1
    last = table[-1]
    for state, lp in table[-2].items():
        for tag1, lpt in model.final.get(state, ()):
            lp1 = lp + lpt
            if lp1 > _LOWER_BOUND:
                newstate = (state[1], tag1)
                if newstate not in last or lp1 > last[newstate]:
                    last[newstate] = lp1
    results: dict[int, float] = {}
    for state, lp in last.items():
        if lp == -math.inf:
            continue
        pos = -state[1]
        results[pos] = float(np.logaddexp(results[pos], lp)) if pos in results else lp
    ranked = sorted(results.items(), key=itemgetter(1), reverse=True)
    return ranked or [(model.unknown, 0)]
