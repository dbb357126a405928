"""Span features from word classes (:mod:`assistant.text.word_classes`): the class of the span's
first and last word and of the two words on either side, the share of nouns, names and verbs in
it, whether it is a noun or prepositional phrase or cuts one, and a few of these crossed with the
question's answer type. Part of :data:`assistant.answer.span_features.SPAN_FEATURES`.

Measured before they were shipped with ``git show e188b17:evals/ranker/pos_experiment.py`` (the
columns are the same; 5-fold cross-validation by article on GermanQuAD, lexical top 5, see
evals/ranker/SPAN_ANALYSIS.md): EM 0.209 → 0.222, F1 0.418 → 0.442; the best candidate of the
right sentence came first for 26.2 % of questions instead of 23.0 %. The retrained shipped models
(models/TRAINING.md): EM 0.206 → 0.222, F1 0.412 → 0.442.
"""

from __future__ import annotations

import numpy as np

from ..text.word_classes import CLASS, COARSE

_POSITIONS = ("first", "last", "prev", "next", "prev2", "next2")
_SHAPES = (
    ("noun_phrase", "only articles, adjectives, numbers, adverbs, pronouns and nouns, ending on a noun or number"),
    ("has_vfin", "it holds a finite verb: a clause"),
    ("noun_share", "share of nouns and names"),
    ("ne_share", "share of names"),
    ("has_ne", "it holds a name"),
    ("ends_noun", "it ends on a noun, name or number"),
    ("verb_share", "share of verbs"),
    ("np", "a noun phrase that starts like one (article, adjective, number, noun, pronoun)"),
    ("pp", "a preposition and a noun phrase"),
    ("cuts_np_right", "a noun follows and its last word belongs to a noun phrase: it cuts the phrase"),
    ("cuts_np_left", "an article, adjective, preposition or number stands before its first noun-phrase word"),
    ("clean", "it cuts no noun phrase"),
)
_GROUPS = ("date", "number", "person", "place", "open")
_CROSSED = ("last_noun", "last_ne", "first_appr", "np", "pp", "clean")

CLASS_FEATURES: tuple[tuple[str, str], ...] = (
    *(
        (f"pos_{p}_{c}", f"the {p.replace('2', ' but one')} word's class is {c}")
        for p in _POSITIONS[:4]
        for c in (*COARSE, "NONE")
    ),
    *((f"pos_{name}", why) for name, why in _SHAPES[:7]),
    *((f"pos_{p}_{c}", f"the {p[:4]} word but one's class is {c}") for p in _POSITIONS[4:] for c in (*COARSE, "NONE")),
    *((f"pos_{name}", why) for name, why in _SHAPES[7:]),
    *(
        (f"pos_{g}_x_{c}", f"{c} when the expected type is {g}: the forms differ per type")
        for g in _GROUPS
        for c in _CROSSED
    ),
)

_NONE = len(COARSE)
_NOUNISH = [CLASS[c] for c in ("NN", "NE", "CARD")]
_NP_INNER = [CLASS[c] for c in ("ART", "ADJA", "CARD", "ADV", "NN", "NE", "PRON")]
_NP_FIRST = [CLASS[c] for c in ("ART", "ADJA", "CARD", "NN", "NE", "PRON")]
_NP_OPEN = [CLASS[c] for c in ("ART", "ADJA", "APPR", "CARD")]
_NP_START = [CLASS[c] for c in ("ADJA", "NN", "NE", "CARD")]
_NOUNS = [CLASS["NN"], CLASS["NE"]]


def class_features(classes: np.ndarray, a: np.ndarray, b: np.ndarray, answer_type: str) -> np.ndarray:
    """One row of :data:`CLASS_FEATURES` per span (first word ``a``, last word ``b``, inclusive)
    of a sentence whose words have ``classes``."""
    n, m = len(classes), len(a)
    cls = classes.astype(np.int64)
    out = np.zeros((m, len(CLASS_FEATURES)), dtype=np.float32)
    rows = np.arange(m)
    width = _NONE + 1

    def at(index: np.ndarray) -> np.ndarray:
        ok = (index >= 0) & (index < n)
        return np.where(ok, cls[np.clip(index, 0, max(n - 1, 0))] if n else 0, _NONE)

    first_c, last_c, prev_c, next_c = at(a), at(b), at(a - 1), at(b + 1)
    for k, column in enumerate((first_c, last_c, prev_c, next_c)):
        out[rows, k * width + column] = 1.0
    onehot = np.eye(_NONE, dtype=np.float64)[cls] if n else np.zeros((0, _NONE))
    cum = np.vstack([np.zeros((1, _NONE)), np.cumsum(onehot, axis=0)])
    counts = cum[b + 1] - cum[a]
    length = (b - a + 1).astype(np.float64)

    def count(*names: str) -> np.ndarray:
        return sum((counts[:, CLASS[c]] for c in names), np.zeros(m))

    ends_noun = np.isin(last_c, _NOUNISH)
    col = 4 * width
    out[:, col + 0] = (count("NN", "NE", "ADJA", "CARD", "ART", "APPR") == length) & ends_noun
    out[:, col + 1] = count("VFIN") > 0
    out[:, col + 2] = count("NN", "NE") / length
    out[:, col + 3] = count("NE") / length
    out[:, col + 4] = count("NE") > 0
    out[:, col + 5] = ends_noun
    out[:, col + 6] = count("VFIN", "VINF", "VPP") / length
    col += 7
    for k, column in enumerate((at(a - 2), at(b + 2))):
        out[rows, col + k * width + column] = 1.0
    col += 2 * width
    inner = np.concatenate([[0], np.cumsum(np.isin(cls, _NP_INNER))])
    all_inner = (inner[b + 1] - inner[a]) == (b - a + 1)
    rest_inner = (inner[b + 1] - inner[np.minimum(a + 1, b + 1)]) == (b - a)
    np_shape = all_inner & ends_noun & np.isin(first_c, _NP_FIRST)
    pp_shape = (first_c == CLASS["APPR"]) & rest_inner & ends_noun & (b > a)
    cuts_right = np.isin(next_c, _NOUNS) & np.isin(last_c, _NP_INNER)
    cuts_left = np.isin(prev_c, _NP_OPEN) & np.isin(first_c, _NP_START)
    clean = ~cuts_right & ~cuts_left
    for k, column in enumerate((np_shape, pp_shape, cuts_right, cuts_left, clean)):
        out[:, col + k] = column
    col += 5
    group = _GROUPS.index(answer_type if answer_type in _GROUPS else "open")
    crossed = (ends_noun, last_c == CLASS["NE"], first_c == CLASS["APPR"], np_shape, pp_shape, clean)
    for k, column in enumerate(crossed):
        out[:, col + group * len(_CROSSED) + k] = column
    return out
