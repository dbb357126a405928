"""Two corrections to the word analysis: interrogatives do not count in a query, and an "s" after
a vowel ("Liberias", "Autos") is dropped when the corpus has the word without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.index.build import build_index
from assistant.pipeline import Assistant
from assistant.text.german import QUESTION_WORDS, GermanAnalyzer


def _search(tmp_path: Path, docs: dict[str, str], query: str) -> list[str]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in docs.items():
        (corpus / name).write_text(text, encoding="utf-8")
    config = Settings(
        corpus_dir=corpus, index_dir=tmp_path / "index", model="none", reader="none", progress=False, ngram_weight=0.0
    )  # the word channel alone
    build_index(config)
    return [hit.chunk.doc_id for hit in Assistant.open(config).search(query, k=10)]


def test_interrogatives_are_no_query_terms():
    analyzer = GermanAnalyzer()
    known = lambda term: False  # noqa: E731
    assert analyzer.query_terms("Wann wurde das Förderprogramm beschlossen?", known) == analyzer.query_terms(
        "wurde das Förderprogramm beschlossen", known
    )
    assert "wann" not in analyzer.query_terms("Seit wann? Wodurch? Weshalb?", known)
    # Documents keep them: "wodurch" in a passage is a word like any other.
    assert analyzer.analyze("Wodurch") == [analyzer.stem("wodurch")]
    assert {"wann", "wer", "warum", "wodurch"} <= QUESTION_WORDS


def test_a_passage_is_not_preferred_for_holding_the_question_word(tmp_path):
    docs = {
        "wann.txt": "Wann die Messe stattfindet, steht noch nicht fest. Die Region plant.",
        "treffer.txt": "Das Förderprogramm der Region wurde im März 2021 beschlossen.",
    }
    assert _search(tmp_path, docs, "Wann wurde das Förderprogramm der Region beschlossen?")[0] == "treffer.txt"


@pytest.mark.parametrize(
    ("word", "base"),
    [
        ("Liberias", "Liberia"),
        ("Victorias", "Victoria"),
        ("Kanadas", "Kanada"),
        ("Autos", "Auto"),
    ],
)
def test_s_after_a_vowel_goes_when_the_corpus_has_the_word_without_it(word, base):
    analyzer = GermanAnalyzer([base.lower()])
    assert analyzer.analyze(word) == analyzer.analyze(base)
    # Without the base word in the corpus the stem stays Snowball's.
    assert GermanAnalyzer().analyze(word) == [word.lower()]


def test_s_after_a_consonant_or_without_the_base_is_kept():
    analyzer = GermanAnalyzer(["preise", "status", "kurse", "fbi"])
    assert analyzer.analyze("Preis") == ["preis"]  # "prei" is no word of the corpus
    assert analyzer.analyze("Status") == ["status"]
    assert analyzer.analyze("Kurs") == GermanAnalyzer().analyze("Kurs")  # Snowball's own rule
    assert analyzer.analyze("FBIs") == ["fbis"]  # bases under 4 letters are no vocabulary words


def test_genitive_of_a_name_finds_the_name(tmp_path):
    docs = {
        "liberia.txt": "Liberia ist ein Staat in Westafrika; die Hauptstadt ist Monrovia.",
        "kanada.txt": "Kanada ist flächenmäßig der zweitgrößte Staat der Erde.",
    }
    assert _search(tmp_path, docs, "Was ist Liberias Hauptstadt?")[0] == "liberia.txt"
