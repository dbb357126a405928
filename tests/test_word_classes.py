"""Word classes of German sentences (HanTa, offline) and the span features made from them."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.answer.span_classes import CLASS_FEATURES, class_features
from assistant.answer.spans import sentence_classes, tokenize
from assistant.text.word_classes import COARSE, coarse

SENTENCE = "Der goldene Buddy-Bär ging 2022 an das Netzwerk NIRO aus Niedersachsen, das rund 60 Mitarbeiter hat."
_NAMES = [name for name, _ in CLASS_FEATURES]


def classes_of(text: str) -> list[tuple[str, str]]:
    words = tokenize(text)
    return [(w.text, COARSE[c]) for w, c in zip(words, sentence_classes(text, len(words)), strict=True)]


def test_a_german_sentence_is_tagged_in_context() -> None:
    tagged = dict(classes_of(SENTENCE))
    assert tagged["Der"] == "ART" and tagged["goldene"] == "ADJA"
    assert tagged["Buddy-Bär"] == "NN" and tagged["Netzwerk"] == "NN" and tagged["Mitarbeiter"] == "NN"
    assert tagged["NIRO"] == "NE" and tagged["Niedersachsen"] == "NE"
    assert tagged["ging"] == "VFIN" and tagged["hat"] == "VFIN"
    assert tagged["2022"] == "CARD" and tagged["60"] == "CARD"
    assert tagged["an"] == "APPR" and tagged["aus"] == "APPR"
    # "das" after a comma is a relative pronoun, before a noun an article: the tagger uses context
    assert [c for w, c in classes_of(SENTENCE) if w == "das"] == ["ART", "PRON"]


def test_stts_tags_fold_into_the_coarse_classes() -> None:
    assert coarse("VV(FIN)") == coarse("VA(FIN)") == coarse("VM(FIN)") == "VFIN"
    assert coarse("VV(PP)") == "VPP" and coarse("VV(INF)") == coarse("VV(IZU)") == "VINF"
    assert coarse("APPRART") == "APPR" and coarse("PPOSAT") == coarse("PRELS") == "PRON"
    assert coarse("PTKZU") == "PTK" and coarse("KOUI") == "KOUS" and coarse("$,") == "OTHER"


def features(text: str, span: str) -> dict[str, float]:
    words = [w.text for w in tokenize(text)]
    parts = span.split()
    a = next(i for i in range(len(words)) if words[i : i + len(parts)] == parts)
    row = class_features(sentence_classes(text, len(words)), np.array([a]), np.array([a + len(parts) - 1]), "person")
    return dict(zip(_NAMES, row[0].tolist(), strict=True))


def test_noun_and_prepositional_phrases_and_cut_ones() -> None:
    whole = features(SENTENCE, "das Netzwerk NIRO")
    assert whole["pos_np"] == 1 and whole["pos_clean"] == 1 and whole["pos_last_NE"] == 1
    assert whole["pos_prev_APPR"] == 1 and whole["pos_next_APPR"] == 1
    assert whole["pos_person_x_last_ne"] == 1 and whole["pos_place_x_last_ne"] == 0  # crossed with the type
    assert features(SENTENCE, "an das Netzwerk NIRO")["pos_pp"] == 1
    cut = features(SENTENCE, "das Netzwerk")  # the name NIRO follows
    assert cut["pos_cuts_np_right"] == 1 and cut["pos_clean"] == 0
    assert features(SENTENCE, "Netzwerk NIRO")["pos_cuts_np_left"] == 1  # its article left out
    clause = features(SENTENCE, "das rund 60 Mitarbeiter hat")
    assert clause["pos_has_vfin"] == 1 and clause["pos_np"] == 0
    assert features(SENTENCE, "Der goldene")["pos_prev_NONE"] == 1  # at the sentence's start


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=120))
def test_every_word_gets_a_class_on_any_text(text: str) -> None:
    n = len(tokenize(text))
    classes = sentence_classes(text, n)
    assert len(classes) == n and ((classes >= 0) & (classes < len(COARSE))).all()


def test_the_fast_word_analysis_gives_hantas_own_results_float_for_float() -> None:
    """word_classes replaces HanTa's analyze_forward (letter-by-letter analysis of a word outside
    its table) with a faster copy; both must agree exactly on the words of the shipped corpus (and
    of GermanQuAD where it is there), split as the answerer splits them, and on every short
    letter string (the guess for unknown morphemes changes at 3 and 4 letters)."""
    import itertools
    from pathlib import Path

    from HanTa import HanoverTagger

    from assistant.answer.words import TOKEN
    from assistant.text import word_classes

    root = Path(__file__).resolve().parents[1]
    germanquad = root.parent / "shared" / "evaldata" / "germanquad" / "corpus"  # where it is there
    files = sorted((root / "corpus").rglob("*.txt")) + (
        sorted(germanquad.glob("*.txt"))[:40] if germanquad.is_dir() else []
    )
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in files if p.is_file()]
    texts.append(SENTENCE + " Donaudampfschifffahrtsgesellschaftskapitän Mitarbeiter*innen KI-Förderung z. B. 3,5")
    reference = HanoverTagger.HanoverTagger("morphmodel_ger.pgz")
    words = {m.group(0).lower() for text in texts for m in TOKEN.finditer(text)}
    words |= {"".join(letters) for n in range(1, 5) for letters in itertools.product("aeinrst", repeat=n)}
    words -= set(reference.cache)
    assert len(words) > 2500 and {"buddy-bär", "ki-förderung"} <= words
    word_classes._load()
    fast = word_classes._tagger.analyze_forward.__wrapped__
    for word in sorted(words):
        assert fast(word) == reference.analyze_forward(word), word
