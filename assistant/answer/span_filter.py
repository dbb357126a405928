"""Which candidate short answers may be chosen at all: not one that only repeats the question,
not one of the wrong type ("für kleine und mittlere Unternehmen" to "Wie hoch ist die Förderung?")
when one of the expected type is at hand. Used at answer time and in the training's decoding."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from .question import Question, strict_type
from .words import NUMBER_WORDS

_WORD = re.compile(r"\w+")
MBR_CANDIDATES = 15  # decoding by expected F1 looks at this many of the best spans


def repeats_question(question: Question, text: str) -> bool:
    """Every word of ``text`` is a word of the question: no answer ("2022" to "Wann war das
    Treffen 2022?"). Such spans are never chosen (here and in the training's decoding)."""
    words = _WORD.findall(text.lower())
    return bool(words) and all(w in question.words for w in words)


# Quote and bracket pairs a short answer must not break: "Beitrag „Nachhaltigkeit" is no answer.
_PAIRS = (("(", ")"), ("[", "]"), ("«", "»"))


def unbalanced(text: str) -> bool:
    """An opening quote or bracket without its closing one in ``text``, or the reverse (German
    „…“, English “…”, brackets, guillemets, straight double quotes)."""
    if any(text.count(a) != text.count(b) for a, b in _PAIRS) or text.count('"') % 2:
        return True
    low = text.count("„")
    if low:
        return low != text.count("“") + text.count("”")
    return text.count("“") != text.count("”")


_NUMBERED = re.compile(r"\d")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_MONTHS = frozenset(
    "januar februar märz april mai juni juli august september oktober november dezember jahrhundert".split()
)
_INDEFINITE = frozenset("ein eine einen einem einer eines kein keine keinen keiner".split())


def off_type(question: Question, text: str, expected: str | None = None) -> bool:
    """A span without a number (other than one the question names) to "Wie viele …?"/"Wie hoch
    …?", or without a date to "Bis wann …?"/"In welchem Jahr …?" (:func:`.question.strict_type`)."""
    expected = expected if expected is not None else strict_type(question.text)
    if expected is None:
        return False
    words = _WORD.findall(text.lower())
    if expected == "number":
        # a number the question names itself counts nothing ("2022 gewählt" to "Wie viele
        # Teilnehmende hatte das Jahrestreffen 2022?")
        if any(n not in _NUMBER.findall(question.text) for n in _NUMBER.findall(text)):
            return False
        return not any(w in NUMBER_WORDS or w in _INDEFINITE for w in words)
    if _NUMBERED.search(text):
        return False
    return not any(w in _MONTHS for w in words)


def best_allowed(question: Question, scores: np.ndarray, text_of: Callable[[int], str]) -> np.ndarray:
    """``scores`` with -inf for all but the best :data:`MBR_CANDIDATES` spans that may be chosen:
    not one that repeats the question or breaks a quote or bracket pair (:func:`unbalanced`)
    and, when one of the expected type exists, not one that :func:`off_type` rejects. Only the
    best spans' texts are looked at (checking all of them was a quarter of the answer time).
    Both rules are neutral on GermanQuAD (in-sample, `make eval-germanquad`): the type rule
    exact match 0.3711 without, 0.3707 with; the pair rule EM 0.387 -> 0.385, F1 0.591 both,
    containment 0.722 -> 0.723; what they are for is what a user reads. The type rule keeps
    "für kleine und mittlere Unternehmen" from answering "Wie hoch ist die Förderung?" when
    "bis zu 10.000 Euro" is at hand. Used at answer time and in the training's decoding."""
    order = np.argsort(-scores, kind="stable")
    expected = strict_type(question.text)
    typed: list[int] = []
    untyped: list[int] = []  # kept only when no span of the expected type exists
    for i in order:
        text = text_of(int(i))
        if repeats_question(question, text) or unbalanced(text):
            continue
        if expected is not None and off_type(question, text, expected):
            if len(untyped) < MBR_CANDIDATES:
                untyped.append(int(i))
            continue
        typed.append(int(i))
        if len(typed) >= MBR_CANDIDATES:
            break
    keep = typed if typed else untyped
    out = np.full_like(scores, -np.inf)
    out[keep] = scores[keep]
    return out
