"""Gender-inclusive forms (Mitarbeiter*innen, Mitarbeiter:innen, MitarbeiterInnen, ...) meet their
base word and the feminine forms, in both directions.

Two nouns: "Mitarbeiter" (Snowball already gives Mitarbeiter, Mitarbeiterin and Mitarbeiterinnen
one stem, so only the splitting of the form matters) and "Kolleg" (Kollege / Kollegin /
Kolleginnen: three stems for Snowball, so the form must bring base and feminine stem itself)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.index.build import build_index
from assistant.pipeline import Assistant
from assistant.text.german import GermanAnalyzer

MARKS = ["*", ":", "_", "/", "/-", "\u00b7"]  # plus the Binnen-I and the parenthesis below


def plural_forms(base: str) -> list[str]:
    return [f"{base}{m}innen" for m in MARKS] + [f"{base}Innen", f"{base}(innen)"]


def singular_forms(base: str) -> list[str]:
    return [f"{base}{m}in" for m in MARKS] + [f"{base}In", f"{base}(in)"]


ALL_FORMS = {
    "Mitarbeiter": plural_forms("Mitarbeiter") + singular_forms("Mitarbeiter"),
    "Kolleg": plural_forms("Kolleg") + singular_forms("Kolleg"),
}
# The plain words each form must find and be found by.
PLAIN = {
    "Mitarbeiter": ["Mitarbeiter", "Mitarbeiterin", "Mitarbeiterinnen"],
    "Kolleg": ["Kollegen", "Kollegin", "Kolleginnen"],
}

# Share no word (nor part of one) with the texts under test.
DISTRACTORS = {
    "vorstand.txt": "Die Mitgliederversammlung wählte im Herbst einen neuen Vorstand für das Netzwerk.",
    "sommer.txt": "Im Sommer trafen sich Unternehmen aus der Region zum Austausch über Digitalisierung.",
    "messe.txt": "Auf der Messe zeigten Start-ups ihre Lösungen für Logistik und Mobilität.",
}


def _open(folder: Path, docs: dict[str, str]) -> Assistant:
    corpus = folder / "corpus"
    corpus.mkdir()
    for name, text in docs.items():
        (corpus / name).write_text(text, encoding="utf-8")
    # The word channel alone: the 4-gram channel would find most of these forms by itself.
    config = Settings(
        corpus_dir=corpus, index_dir=folder / "index", model="none", reader="none", progress=False, ngram_weight=0.0
    )
    build_index(config)
    return Assistant.open(config)


def _hits(assistant: Assistant, query: str) -> set[str]:
    return {hit.chunk.doc_id for hit in assistant.search(query, k=50)}


def _name(form: str) -> str:
    return "".join(c if c.isalnum() else f"_{ord(c):x}_" for c in form) + ".txt"


@pytest.fixture(scope="module")
def written_in_gender_forms(tmp_path_factory) -> Assistant:
    """One document per gender form."""
    docs = {
        _name(form): f"Alle {form} treffen sich im Frühjahr zur Klausur."
        for forms in ALL_FORMS.values()
        for form in forms
    }
    return _open(tmp_path_factory.mktemp("gender"), {**docs, **DISTRACTORS})


@pytest.fixture(scope="module")
def written_plainly(tmp_path_factory) -> Assistant:
    """One document per plain word."""
    docs = {
        f"{word.lower()}.txt": f"Die {word} treffen sich im Frühjahr zur Klausur."
        for words in PLAIN.values()
        for word in words
    }
    return _open(tmp_path_factory.mktemp("plain"), {**docs, **DISTRACTORS})


@pytest.mark.parametrize("base", sorted(PLAIN))
@pytest.mark.parametrize("position", range(3))
def test_plain_word_finds_every_gender_form(written_in_gender_forms, base, position):
    query = PLAIN[base][position]
    hits = _hits(written_in_gender_forms, f"Wann treffen sich die {query}?")
    assert {_name(f) for f in ALL_FORMS[base]} <= hits
    assert not hits & set(DISTRACTORS)


@pytest.mark.parametrize("form", [f for forms in ALL_FORMS.values() for f in forms])
def test_gender_form_finds_base_and_feminine_words(written_plainly, form):
    base = "Mitarbeiter" if form.startswith("Mitarbeiter") else "Kolleg"
    hits = _hits(written_plainly, form)
    assert {f"{w.lower()}.txt" for w in PLAIN[base]} <= hits, form
    assert not hits & set(DISTRACTORS)


@pytest.mark.parametrize("form", plural_forms("Kolleg") + plural_forms("Mitarbeiter"))
def test_gender_form_is_one_word_with_base_and_feminine_terms(form):
    analyzer = GermanAnalyzer()
    base = form[: len("Kolleg")] if form.startswith("Kolleg") else form[: len("Mitarbeiter")]
    assert analyzer.words_of(f"Die {form} kommen.") == [base.lower() + "*innen", "kommen"]
    terms = analyzer.analyze(form)
    assert analyzer.analyze(base)[0] in terms  # "kolleg" / "mitarbeit"
    assert analyzer.analyze(base + "in")[0] in terms  # "kollegin" / "mitarbeit"
    assert "inn" not in terms and "innen" not in terms  # no stray "innen" term any more
    assert len(terms) == len(set(terms))


def test_feminine_plural_shares_the_singular_stem_when_the_base_is_known():
    analyzer = GermanAnalyzer(["kollegen", "kollegin", "kolleginnen", "studenten"])
    assert analyzer.analyze("Kolleginnen") == analyzer.analyze("Kollegin") == ["kollegin"]
    assert analyzer.analyze("Studentinnen") == analyzer.analyze("Studentin") == ["studentin"]
    # Without the base in the corpus the stem stays Snowball's.
    assert GermanAnalyzer().analyze("Kolleginnen") == ["kolleginn"]
    # "-innen" words that are no feminine plurals keep their stem (and so meet their other forms).
    words = GermanAnalyzer(["gewinn", "gewinnen", "abgewinnen", "springspinnen", "spinne"])
    assert words.analyze("gewinnen") == words.analyze("Gewinn") == ["gewinn"]
    assert words.analyze("Springspinnen") == ["springspinn"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        # underscores joining a name, an upper-case "In" after a colon or a slash in a longer word
        ("Todesstrafe_in_den_USA", ["todesstrafe", "usa"]),
        ("Geschichte_Indiens", ["geschichte", "indiens"]),
        ("Siliziumsubstrat:In", ["siliziumsubstrat"]),
        ("Berlin/Innenstadt", ["berlin", "innenstadt"]),
        ("Wettlauf_ins All", ["wettlauf", "all"]),
        # an upper-case "I" after an upper-case letter or followed by more letters
        ("MITARBEITERINNEN", ["mitarbeiterinnen"]),
        ("TheIntercept", ["theintercept"]),
        ("imInternet", ["iminternet"]),
        ("Mitarbeiterinnen", ["mitarbeiterinnen"]),
    ],
)
def test_look_alikes_are_not_gender_forms(text, words):
    assert GermanAnalyzer().words_of(text) == words


def test_gender_form_inside_a_compound_stands_for_the_base():
    analyzer = GermanAnalyzer(["bürger", "beteiligung"])
    for form in ("Bürger*innenbeteiligung", "Bürger:innenbeteiligung", "BürgerInnenbeteiligung"):
        assert analyzer.words_of(form) == ["bürgerbeteiligung"]
        assert analyzer.analyze(form) == analyzer.analyze("Bürgerbeteiligung")


def test_gender_form_in_a_question_is_one_content_word():
    """The answerer weighs each question word once: the form counts as its base, with the
    feminine stem as an alternative a sentence may contain instead."""
    analyzer = GermanAnalyzer(["kollegen"])
    [(word, stem, parts, alternatives)] = analyzer.word_terms("Kolleg*innen")
    assert (word, stem, parts, alternatives) == ("kolleg", "kolleg", (), ("kollegin",))
    [(word, stem, parts, alternatives)] = analyzer.word_terms("Mitarbeiter:innen")
    assert (stem, alternatives) == ("mitarbeit", ())


def test_gender_form_ranks_its_document_first(tmp_path):
    docs = {
        "treffer.txt": "Unsere Kolleg*innen aus der Entwicklung stellen das neue Werkzeug vor.",
        "halb.txt": "Die Entwicklung des Werkzeugs dauerte zwei Jahre.",
        **DISTRACTORS,
    }
    assistant = _open(tmp_path, docs)
    for query in (
        "Welche Kollegen stellen das Werkzeug vor?",
        "Welche Kollegin stellt das Werkzeug vor?",
        "Welche Kolleginnen stellen das Werkzeug vor?",
    ):
        hits = [hit.chunk.doc_id for hit in assistant.search(query, k=5)]
        assert hits[:2] == ["treffer.txt", "halb.txt"], query
