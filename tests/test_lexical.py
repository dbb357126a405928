"""German BM25: compounds are found by their parts and the other way round, stop words are
ignored, plural and singular meet in one stem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.indexing import build_index
from assistant.lexical import GermanAnalyzer, LexicalIndex, TokenTable
from assistant.pipeline import Assistant

# Distractors share no word (and no part of a word) with the compounds under test.
DISTRACTORS = {
    "vorstand.txt": "Die Mitgliederversammlung wählte im Herbst einen neuen Vorstand für das Netzwerk.",
    "sommer.txt": "Im Sommer trafen sich Unternehmen aus der Region zum Austausch über Digitalisierung.",
    "messe.txt": "Auf der Messe zeigten Start-ups ihre Lösungen für Logistik und Mobilität.",
}


def search_docs(tmp_path: Path, docs: dict[str, str], query: str, **settings) -> list[str]:
    """Index ``docs`` (lexical only) and return the document ids of the hits for ``query``."""
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    for name, text in docs.items():
        (corpus / name).write_text(text, encoding="utf-8")
    config = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", model="none", progress=False,
                      **settings)
    build_index(config)
    assistant = Assistant.open(config)
    return [hit.chunk.doc_id for hit in assistant.search(query, k=10)]


@pytest.mark.parametrize(
    ("compound_text", "query"),
    [
        ("Der Nachhaltigkeitsbericht des Vereins erscheint jährlich im Frühjahr.", "Bericht zur Nachhaltigkeit"),
        ("Der Nachhaltigkeitsbericht des Vereins erscheint jährlich im Frühjahr.", "Berichte zur Nachhaltigkeit"),
        ("Das Förderprogramm läuft noch bis Dezember.", "Programm zur Förderung"),
        ("Das neue Förderprogramm läuft noch bis Dezember.", "Welche Programme zur Förderung gibt es?"),
    ],
)
def test_compound_in_document_found_by_its_parts(tmp_path, compound_text, query):
    hits = search_docs(tmp_path, {"treffer.txt": compound_text, **DISTRACTORS}, query)
    assert hits, f"{query!r} findet nichts"
    assert hits[0] == "treffer.txt"
    assert set(hits) == {"treffer.txt"}  # the distractors share no term


@pytest.mark.parametrize(
    ("parts_text", "query"),
    [
        ("Der Bericht zur Nachhaltigkeit erscheint jährlich im Frühjahr.", "Nachhaltigkeitsbericht"),
        ("Der Bericht zur Nachhaltigkeit erscheint jährlich im Frühjahr.", "Wo steht der Nachhaltigkeitsbericht?"),
        ("Das Programm zur Förderung läuft noch bis Dezember.", "Förderprogramm"),
        ("Das Programm zur Förderung läuft noch bis Dezember.", "Förderprogramme"),
    ],
)
def test_parts_in_document_found_by_the_compound(tmp_path, parts_text, query):
    hits = search_docs(tmp_path, {"treffer.txt": parts_text, **DISTRACTORS}, query)
    assert hits and hits[0] == "treffer.txt"
    assert set(hits) == {"treffer.txt"}


def test_compound_beats_document_with_only_one_part(tmp_path):
    docs = {
        "treffer.txt": "Der Nachhaltigkeitsbericht des Vereins erscheint jährlich im Frühjahr.",
        "halb.txt": "Der Bericht des Vorstands wurde auf der Versammlung vorgelesen.",
        **DISTRACTORS,
    }
    hits = search_docs(tmp_path, docs, "Bericht zur Nachhaltigkeit")
    assert hits[:2] == ["treffer.txt", "halb.txt"]


def test_compound_found_by_parts_when_parts_also_occur_alone(tmp_path):
    docs = {
        "treffer.txt": "Das Förderprogramm läuft noch bis Dezember.",
        "teile.txt": "Die Förderung der Region ist ein wichtiges Programm der Landesregierung.",
        **DISTRACTORS,
    }
    hits = search_docs(tmp_path, docs, "Programm zur Förderung")
    assert set(hits[:2]) == {"treffer.txt", "teile.txt"}
    assert "vorstand.txt" not in hits


def test_without_decompounding_the_compound_is_not_split(tmp_path):
    analyzer = GermanAnalyzer(["nachhaltigkeit", "bericht"], decompound=False)
    assert analyzer.analyze("Nachhaltigkeitsbericht") == ["nachhaltigkeitsbericht"]
    known = {"nachhaltigkeitsbericht"}.__contains__
    assert analyzer.query_terms("Bericht zur Nachhaltigkeit", known) == ["bericht", "nachhalt"]


def test_analyzer_splits_against_its_vocabulary():
    analyzer = GermanAnalyzer(["nachhaltigkeit", "bericht", "förderung", "programm", "wasserstoff"])
    assert analyzer.analyze("Nachhaltigkeitsbericht") == ["nachhaltigkeitsbericht", "nachhalt", "bericht"]
    assert set(analyzer.analyze("Förderprogramme")) >= {"forderprogramm", "forder", "programm"}
    assert set(analyzer.analyze("Wasserstoffförderprogramm")) >= {"wasserstoff", "forder", "programm"}
    # Words whose parts are unknown stay whole.
    assert GermanAnalyzer().analyze("Nachhaltigkeitsbericht") == ["nachhaltigkeitsbericht"]


def test_stop_words_are_dropped():
    analyzer = GermanAnalyzer()
    assert analyzer.analyze("der die das und zur für über nicht mit einem") == []
    assert analyzer.analyze("Der Bericht und die Förderung") == ["bericht", "forder"]


def test_stop_word_only_query_finds_nothing(tmp_path):
    assert search_docs(tmp_path, dict(DISTRACTORS), "und der die das für") == []


def test_plural_and_singular_share_a_stem(tmp_path):
    analyzer = GermanAnalyzer()
    assert analyzer.analyze("Berichte") == analyzer.analyze("Bericht") == ["bericht"]
    assert analyzer.analyze("Unternehmen") == analyzer.analyze("Unternehmens")
    assert analyzer.analyze("Veranstaltungen") == analyzer.analyze("Veranstaltung")
    docs = {"treffer.txt": "Alle Veranstaltungen des Netzwerks finden online statt.", **DISTRACTORS}
    assert search_docs(tmp_path, docs, "Veranstaltung")[0] == "treffer.txt"


def test_umlauts_in_decomposed_form_match(tmp_path):
    docs = {"treffer.txt": "Das Förderprogramm läuft noch bis Dezember.", **DISTRACTORS}
    decomposed = "Fo\u0308rderprogramm"  # "o" + combining diaeresis, as some keyboards type it
    assert search_docs(tmp_path, docs, decomposed) == ["treffer.txt"]


def test_scores_are_zero_without_match_and_positive_with_match():
    analyzer = GermanAnalyzer(["förderung", "programm"])
    texts = ["Das Förderprogramm läuft.", "Der Vorstand tagt.", "Ein Programm für alle."]
    tokens = TokenTable.assemble(None, [analyzer.analyze(t) for t in texts])
    index = LexicalIndex.build(analyzer, tokens, np.array([0, 1, 2]))
    scores = index.scores("Programm")
    assert scores.shape == (3,)
    assert scores[0] > 0 and scores[2] > 0 and scores[1] == 0
    assert not index.scores("Mitgliederversammlung").any()


def test_save_and_load_keep_scores(tmp_path):
    analyzer = GermanAnalyzer(["nachhaltigkeit", "bericht", "vorstand"])
    texts = ["Der Nachhaltigkeitsbericht erscheint.", "Der Vorstand tagt.", "", "Bericht des Vorstands."]
    tokens = TokenTable.assemble(None, [analyzer.analyze(t) for t in texts])
    index = LexicalIndex.build(analyzer, tokens, np.array([0, 1, 1, 2]), doc_weight=0.5)
    index.save(tmp_path / "lex")
    loaded = LexicalIndex.load(tmp_path / "lex")
    assert loaded.size == 4  # the empty chunk keeps its row
    assert loaded.doc_weight == 0.5
    assert loaded.analyzer.words == analyzer.words
    for query in ("Bericht", "Nachhaltigkeitsbericht", "Vorstand Bericht", "nichts davon"):
        np.testing.assert_allclose(loaded.scores(query), index.scores(query), rtol=1e-6)


def test_bm25_matrix_equals_what_bm25s_builds():
    """The score matrix is computed with NumPy; it must equal bm25s' own index."""
    import random

    import bm25s

    from assistant.lexical import _bm25_from_ids

    rng = random.Random(3)
    rows = [[rng.choice("abcdefghij") for _ in range(rng.randint(1, 12))] for _ in range(200)]
    table = TokenTable.assemble(None, rows)
    vocab = {term: i for i, term in enumerate(table.terms)}
    row_of_token = np.repeat(np.arange(len(table)), np.diff(table.offsets))
    ours = _bm25_from_ids(table.ids, row_of_token, len(table), vocab)
    reference = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
    reference.index(rows, show_progress=False)
    for query in (["a"], ["b", "c"], ["e", "j", "a"], ["d", "a", "a"]):
        assert np.allclose(ours.get_scores(query), reference.get_scores(query), atol=1e-6)
