"""Do part-of-speech tags help span choice? HanTa (the Hanover Tagger, German model shipped in
its wheel) tags each candidate sentence; the span rows gain the coarse word class of the span's
first, last, previous and next word and a few phrase-shape columns. Measured with
span_analysis.py's cross-validation against the shipped features.

    .venv/bin/python evals/ranker/pos_experiment.py [--variants pos] [--folds 5]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import span_analysis
from span_analysis import VARIANTS, Variant

from assistant.answer.spans import tokenize
from assistant.answer.words import TOKEN, WORD_CHAR

COARSE = (
    "NN",
    "NE",
    "ADJA",
    "ADJD",
    "ADV",
    "VFIN",
    "VINF",
    "VPP",
    "CARD",
    "ART",
    "APPR",
    "PRON",
    "KON",
    "KOUS",
    "PTK",
    "OTHER",
)
_INDEX = {c: i for i, c in enumerate(COARSE)}


def coarse(tag: str) -> str:
    if tag in ("NN", "NE", "CARD", "ART", "ADV", "KON", "KOUS"):
        return tag
    if tag == "ADJ(A)":
        return "ADJA"
    if tag == "ADJ(D)":
        return "ADJD"
    if tag.startswith("V"):
        if tag.endswith("(FIN)") or tag.endswith("(IMP)"):
            return "VFIN"
        if tag.endswith("(PP)"):
            return "VPP"
        return "VINF"
    if tag in ("APPR", "APPRART", "APPO", "APZR"):
        return "APPR"
    if tag.startswith("P") and not tag.startswith("PTK"):
        return "PRON"
    if tag in ("KOUI", "KOKOM"):
        return "KOUS" if tag == "KOUI" else "KON"
    if tag.startswith("PTK"):
        return "PTK"
    return "OTHER"


_TAGGER = None


def tagger():
    global _TAGGER
    if _TAGGER is None:
        from HanTa import HanoverTagger

        _TAGGER = HanoverTagger.HanoverTagger("morphmodel_ger.pgz")
    return _TAGGER


def word_classes(text: str) -> np.ndarray:
    """Coarse class index per word of spans.tokenize(text) (punctuation tagged in context, dropped)."""
    pieces = [m.group(0) for m in TOKEN.finditer(text)]
    if not pieces:
        return np.zeros(0, dtype=np.int64)
    tags = tagger().tag_sent(pieces, taglevel=0)
    out = [_INDEX[coarse(t)] for p, t in zip(pieces, tags, strict=True) if WORD_CHAR.match(p)]
    n = len(tokenize(text))
    assert len(out) == n, (text, len(out), n)
    return np.array(out, dtype=np.int64)


POSITIONS = ("first", "last", "prev", "next")
SHAPES = ("noun_phrase", "has_vfin", "noun_share", "ne_share", "has_ne", "ends_noun", "verb_share")


class Pos(Variant):
    extra_names = tuple(f"pos_{p}_{c}" for p in POSITIONS for c in COARSE + ("NONE",)) + tuple(
        f"pos_{s}" for s in SHAPES
    )

    def extra(self, item, kind, index, cached):
        text = getattr(item, kind).sentences[index].text
        cls = word_classes(text)
        n = len(cls)
        a, b = cached.first.astype(np.int64), cached.last.astype(np.int64)
        m = len(a)
        width = len(COARSE) + 1
        out = np.zeros((m, len(Pos.extra_names)), dtype=np.float32)
        rows = np.arange(m)
        for k, idx in enumerate((a, b, a - 1, b + 1)):
            ok = (idx >= 0) & (idx < n)
            col = np.where(ok, cls[np.clip(idx, 0, max(n - 1, 0))] if n else 0, len(COARSE))
            out[rows, k * width + col] = 1.0
        base = 4 * width
        onehot = np.eye(len(COARSE), dtype=np.float64)[cls] if n else np.zeros((0, len(COARSE)))
        cum = np.vstack([np.zeros((1, len(COARSE))), np.cumsum(onehot, axis=0)])
        counts = cum[b + 1] - cum[a]
        length = (b - a + 1).astype(np.float64)
        nouns = counts[:, _INDEX["NN"]] + counts[:, _INDEX["NE"]]
        verbs = counts[:, _INDEX["VFIN"]] + counts[:, _INDEX["VINF"]] + counts[:, _INDEX["VPP"]]
        phrase_ok = (
            counts[:, _INDEX["NN"]]
            + counts[:, _INDEX["NE"]]
            + counts[:, _INDEX["ADJA"]]
            + counts[:, _INDEX["CARD"]]
            + counts[:, _INDEX["ART"]]
            + counts[:, _INDEX["APPR"]]
        )
        last_cls = cls[b] if n else np.zeros(m, dtype=np.int64)
        ends_noun = np.isin(last_cls, [_INDEX["NN"], _INDEX["NE"], _INDEX["CARD"]])
        out[:, base + 0] = (phrase_ok == length) & ends_noun
        out[:, base + 1] = counts[:, _INDEX["VFIN"]] > 0
        out[:, base + 2] = nouns / length
        out[:, base + 3] = counts[:, _INDEX["NE"]] / length
        out[:, base + 4] = counts[:, _INDEX["NE"]] > 0
        out[:, base + 5] = ends_noun
        out[:, base + 6] = verbs / length
        return out


VARIANTS["pos"] = Pos("pos")


NOUNISH = [_INDEX[c] for c in ("NN", "NE", "CARD")]
NP_INNER = [_INDEX[c] for c in ("ART", "ADJA", "CARD", "ADV", "NN", "NE", "PRON")]
NP_FIRST = [_INDEX[c] for c in ("ART", "ADJA", "CARD", "NN", "NE", "PRON")]
NP_OPEN = [_INDEX[c] for c in ("ART", "ADJA", "APPR", "CARD")]
GROUPS = ("date", "number", "person", "place", "open")
CROSS = ("last_noun", "last_ne", "first_appr", "np", "pp", "clean")


class Pos2(Pos):
    """Pos, plus the second word on either side, noun and prepositional phrase shapes, whether
    the span cuts a noun phrase, and a few crosses with the answer type."""

    extra_names = (
        Pos.extra_names
        + tuple(f"pos_{p}_{c}" for p in ("prev2", "next2") for c in COARSE + ("NONE",))
        + ("pos_np", "pos_pp", "pos_cuts_np_right", "pos_cuts_np_left", "pos_clean")
        + tuple(f"pos_{g}_x_{c}" for g in GROUPS for c in CROSS)
    )

    def extra(self, item, kind, index, cached):
        first = super().extra(item, kind, index, cached)
        text = getattr(item, kind).sentences[index].text
        cls = word_classes(text)
        n = len(cls)
        a, b = cached.first.astype(np.int64), cached.last.astype(np.int64)
        m = len(a)
        width = len(COARSE) + 1
        more = np.zeros((m, len(self.extra_names) - len(Pos.extra_names)), dtype=np.float32)
        rows = np.arange(m)

        def at(idx):
            ok = (idx >= 0) & (idx < n)
            return np.where(ok, cls[np.clip(idx, 0, max(n - 1, 0))] if n else 0, len(COARSE))

        for k, idx in enumerate((a - 2, b + 2)):
            more[rows, k * width + at(idx)] = 1.0
        base = 2 * width
        inner = np.isin(cls, NP_INNER).astype(np.int64)
        cum = np.concatenate([[0], np.cumsum(inner)])
        all_inner = (cum[b + 1] - cum[a]) == (b - a + 1)
        first_c, last_c, prev_c, next_c = at(a), at(b), at(a - 1), at(b + 1)
        noun_end = np.isin(last_c, NOUNISH)
        np_shape = all_inner & noun_end & np.isin(first_c, NP_FIRST)
        rest = (cum[b + 1] - cum[np.minimum(a + 1, b + 1)]) == (b - a)
        pp_shape = (first_c == _INDEX["APPR"]) & rest & noun_end & (b > a)
        cuts_right = np.isin(next_c, [_INDEX["NN"], _INDEX["NE"]]) & np.isin(last_c, NP_INNER)
        starts = [_INDEX["ADJA"], _INDEX["NN"], _INDEX["NE"], _INDEX["CARD"]]
        cuts_left = np.isin(prev_c, NP_OPEN) & np.isin(first_c, starts)
        clean = ~cuts_right & ~cuts_left
        for k, col in enumerate((np_shape, pp_shape, cuts_right, cuts_left, clean)):
            more[:, base + k] = col
        base += 5
        group = item.question.answer_type if item.question.answer_type in GROUPS else "open"
        g = GROUPS.index(group)
        crosses = {
            "last_noun": noun_end,
            "last_ne": last_c == _INDEX["NE"],
            "first_appr": first_c == _INDEX["APPR"],
            "np": np_shape,
            "pp": pp_shape,
            "clean": clean,
        }
        for k, c in enumerate(CROSS):
            more[:, base + g * len(CROSS) + k] = crosses[c]
        return np.hstack([first, more])


VARIANTS["pos2"] = Pos2("pos2")


if __name__ == "__main__":
    if "--variants" not in sys.argv:
        sys.argv += ["--variants", "pos"]
    sys.exit(span_analysis.main())
