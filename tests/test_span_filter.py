"""Which short answers may be chosen: not a repeat of the question, not one that breaks a quote or
bracket pair, not one of the wrong type when one of the expected type is at hand; only the best
spans are looked at, with the same result as checking all of them. And what a chosen span shows."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from assistant.answer.question import Question
from assistant.answer.span_filter import MBR_CANDIDATES, best_allowed, off_type, repeats_question, unbalanced
from assistant.answer.spans import Span, span_text


def question(text: str) -> Question:
    words = frozenset(re.findall(r"\w+", text.lower()))
    return Question(text, "other", "other", (), words, frozenset(), frozenset(), frozenset())


HOW_MUCH = question("Wie hoch ist die Förderung beim Digitalbonus?")
UNTIL = question("Bis wann können Anträge eingereicht werden?")
WHAT = question("Was ist der Digitalbonus?")
HOW_MANY_2022 = question("Wie viele Teilnehmende hatte das Jahrestreffen von go-cluster 2022?")


@pytest.mark.parametrize(
    "q, text, off",
    [
        (HOW_MUCH, "bis zu 10.000 Euro", False),
        (HOW_MUCH, "zwei Millionen", False),
        (HOW_MUCH, "einen Zuschuss", False),  # "ein" counts: "einen Tag", "eine Stunde"
        (HOW_MUCH, "für kleine und mittlere Unternehmen", True),
        (HOW_MANY_2022, "2022 gewählt", True),  # the question's own year counts nothing
        (HOW_MANY_2022, "rund 60 Mitarbeiter", False),
        (UNTIL, "31. Januar 2027", False),
        (UNTIL, "Ende Januar", False),
        (UNTIL, "über das Förderportal", True),
        (WHAT, "ein Förderprogramm des Landes", False),  # no expected type: nothing is off
    ],
)
def test_off_type(q, text, off):
    assert off_type(q, text) is off


def test_a_repeat_of_the_question_is_no_answer():
    assert repeats_question(WHAT, "Digitalbonus")
    assert not repeats_question(WHAT, "ein Förderprogramm")


def test_the_best_typed_span_wins_and_repeats_never():
    texts = ["Digitalbonus", "für kleine Unternehmen", "10.000 Euro", "5.000 Euro"]
    scores = np.array([9.0, 8.0, 3.0, 1.0])
    kept = best_allowed(HOW_MUCH, scores, texts.__getitem__)
    assert int(np.argmax(kept)) == 2
    assert np.isneginf(kept[0]) and np.isneginf(kept[1]) and kept[3] == 1.0


def test_without_a_typed_span_the_others_stay():
    texts = ["für kleine Unternehmen", "über das Portal", "Förderung"]
    kept = best_allowed(HOW_MUCH, np.array([2.0, 1.0, 5.0]), texts.__getitem__)
    assert kept.tolist() == [2.0, 1.0, -np.inf]  # "Förderung" only repeats the question


@pytest.mark.parametrize(
    "text, broken",
    [
        ("Beitrag „Nachhaltigkeit", True),
        ("Beitrag „Nachhaltigkeit ins Netzwerk bringen“", False),
        ("“Reflecting Absence”", False),
        ("Nachhaltigkeit ins Netzwerk bringen“", True),
        ("Bonyād) dar", True),
        ("die Bonyād (Stiftungen)", False),
        ("Marke «Stadt Bern", True),
        ('der "Dust Bowl', True),
        ("NIRO", False),
    ],
)
def test_unbalanced(text, broken):
    assert unbalanced(text) is broken


def test_a_span_that_breaks_a_quote_is_never_chosen():
    texts = ["Beitrag „Nachhaltigkeit", "NIRO"]
    kept = best_allowed(WHAT, np.array([5.0, 1.0]), texts.__getitem__)
    assert np.isneginf(kept[0]) and kept[1] == 1.0


@pytest.mark.parametrize(
    "sentence, piece, shown",
    [
        ("Ein Budget von 2,3 Mrd. € bis 2020.", "2,3 Mrd", "2,3 Mrd."),  # the abbreviation keeps its period
        ("Es kamen 60 Gäste. Danach", "60 Gäste", "60 Gäste"),  # a sentence's period stays out
        ("Der Titel (kurz NaLiMa) steht fest.", "(kurz NaLiMa", "(kurz NaLiMa)"),  # the bracket it needs
    ],
)
def test_span_text_completes_what_the_span_cuts_off(sentence, piece, shown):
    start = sentence.index(piece)
    span = Span(0, 0, start, start + len(piece), 0)
    assert span_text(sentence, span) == shown


def brute_force(q: Question, scores: np.ndarray, texts: list[str]) -> np.ndarray:
    """Every span checked, then the best MBR_CANDIDATES allowed ones kept: what best_allowed saves."""
    repeats = np.array([repeats_question(q, t) or unbalanced(t) for t in texts])
    off = np.array([off_type(q, t) for t in texts])
    mask = repeats | off if (~off & ~repeats).any() else repeats
    allowed = np.where(mask, -np.inf, scores)
    top = np.argsort(-allowed, kind="stable")[:MBR_CANDIDATES]
    out = np.full_like(scores, -np.inf)
    out[top] = allowed[top]
    return out


@pytest.mark.parametrize("seed", range(20))
def test_looking_at_the_best_spans_only_changes_nothing(seed):
    rng = random.Random(seed)
    pool = [
        "10.000 Euro",
        "drei Partner",
        "Förderung",
        "Digitalbonus",
        "kleine Unternehmen",
        "das Land",
        "im Mai",
        "(ab Mai",
    ]
    texts = [rng.choice(pool) for _ in range(rng.randint(1, 60))]
    scores = np.array([round(rng.uniform(-3, 3), 1) for _ in texts])  # ties included
    for q in (HOW_MUCH, UNTIL, WHAT):
        assert best_allowed(q, scores, texts.__getitem__).tolist() == brute_force(q, scores, texts).tolist()
