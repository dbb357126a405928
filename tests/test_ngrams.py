"""The character 4-gram channel: what it finds that words miss, that it finds nothing for nonsense,
that its scores are BM25 over n-grams, and that updates give what a full build gives."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest
from conftest import lexical_index, write_corpus

import assistant.index.ngram_build as ngram_build
import assistant.index.ngrams as ngrams
from assistant.config import Settings
from assistant.index.bm25 import LexicalIndex, Postings
from assistant.index.build import build_index
from assistant.index.format import NGRAMS
from assistant.index.ngram_build import NgramBuilder, build_ngrams, merge, update_ngrams
from assistant.index.ngrams import NgramAnalyzer, NgramIndex
from assistant.index.reader import load_index
from assistant.pipeline import Assistant
from assistant.text.german import GermanAnalyzer

DOCS = {
    "paris.txt": "Die Hauptstadt von Frankreich ist Paris, die größte Stadt des Landes an der Seine.",
    "wein.txt": "Frankreich exportiert Wein.",
    "koeln.txt": "Der Kölner Dom ist das Wahrzeichen von Köln und steht am Rhein.",
    "speyer.txt": "Der Dom zu Speyer ist alt.",
    "vorstand.txt": "Die Mitgliederversammlung wählte im Herbst einen neuen Vorstand für das Netzwerk.",
    "tagung.txt": "Der Vorstand tagte.",
    "messe.txt": "Auf der Messe zeigten Start-ups ihre Lösungen für Logistik und Mobilität.",
    "besuch.txt": "Die Messe war gut besucht.",
}


def _open(folder: Path, docs: dict[str, str], **settings) -> Assistant:
    corpus = folder / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (corpus / name).write_text(text, encoding="utf-8")
    config = Settings(
        corpus_dir=corpus, index_dir=folder / "index", model="none", reader="none", progress=False, **settings
    )
    build_index(config)
    return Assistant.open(config)


def _hits(assistant: Assistant, query: str) -> list[str]:
    return [hit.chunk.doc_id for hit in assistant.search(query, k=10)]


def test_grams_have_boundary_markers_and_written_out_umlauts():
    analyzer = NgramAnalyzer(GermanAnalyzer())
    assert analyzer.grams("haus") == ("<hau", "haus", "aus>")
    assert analyzer.grams("köln") == analyzer.grams("koeln") == ("<koe", "koel", "oeln", "eln>")
    assert analyzer.grams("ab") == ("<ab>",)
    assert analyzer.analyze("Das Haus") == ["<hau", "haus", "aus>"]  # stop words have none
    assert analyzer.grams("kolleg*innen") == analyzer.grams("kolleginnen")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Hauptsatd Frankreichs", "paris.txt"),  # a typo
        ("Mitgliederversamlung Vorstand", "vorstand.txt"),
        ("Der rheinische Dom", "koeln.txt"),  # a derivation the stemmer keeps apart
        ("Mobilitätswende Messe", "messe.txt"),  # a compound whose other part the corpus lacks
    ],
)
def test_ngrams_rank_up_what_words_score_too_low(tmp_path, query, expected):
    """Both documents match a word of the query; the shorter one wins on words alone."""
    words_only = _open(tmp_path / "b", DOCS, ngram_weight=0.0)
    assert expected in _hits(words_only, query) and _hits(words_only, query)[0] != expected
    assert _hits(_open(tmp_path / "a", DOCS), query)[0] == expected


@pytest.mark.parametrize(
    "query", ["Quokka Xylophon", "Zyxwv Flurbl", "und der die das", "Hauptsatd"]
)  # no word matches: the n-grams add no chunks
def test_without_a_matching_word_nothing_is_found(tmp_path, query):
    assert _hits(_open(tmp_path, DOCS), query) == []


def test_words_still_rank_first_when_they_match(tmp_path):
    docs = {**DOCS, "hauptstaedte.txt": "Hauptstädte: ein Wort, das hier steht; die Seite nennt keine."}
    hits = _open(tmp_path, docs).search("Hauptstadt von Frankreich", k=3)
    assert hits[0].chunk.doc_id == "paris.txt"


def test_scores_are_bm25_over_ngrams(monkeypatch):
    """Without stopped grams and without the share floor the scores equal LexicalIndex's over the
    same n-grams (which tests/test_lexical.py checks against bm25s)."""
    monkeypatch.setattr(ngrams, "MIN_STOP_DF", 10**9)
    words = GermanAnalyzer()
    texts = [DOCS[name] for name in sorted(DOCS)] * 3
    row_doc = np.repeat(np.arange(len(DOCS)), 3)
    index = build_ngrams(words, texts, row_doc)
    reference = LexicalIndex.build(index.analyzer, [index.analyzer.analyze(t) for t in texts], row_doc, 2.0)  # type: ignore[arg-type]
    for query in ("Hauptstadt Paris", "Kölner Dom am Rhein", "Messe Messe Logistik", "Hauptsatd"):
        np.testing.assert_allclose(index.scores(query), reference.scores(query), rtol=1e-5, atol=1e-6)


def _random_texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    words = [
        "Hauptstadt",
        "London",
        "Köln",
        "Dom",
        "Rhein",
        "Messe",
        "Logistik",
        "Vorstand",
        "Netzwerk",
        "Förderprogramm",
        "Nachhaltigkeit",
        "Bericht",
        "Mobilität",
        "Region",
    ]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(1, 15))) for _ in range(count)]


@pytest.mark.parametrize("merge_share", [0.2, 10.0])  # merged into the base / kept as a delta
def test_updates_score_like_a_fresh_build(tmp_path, merge_share):
    words = GermanAnalyzer()
    texts = _random_texts(1, 120)
    row_doc = np.arange(120) // 4
    live = np.ones(120, dtype=bool)
    live[8:12] = False  # a document changed after the first build
    live[100:104] = False  # and one of the first update
    index = build_ngrams(words, texts[:90], row_doc[:90], live[:90])
    index = update_ngrams(index, texts[90:110], row_doc[:110], live[:110], merge_share, tmp_path)
    index = update_ngrams(index, texts[110:], row_doc, live, merge_share, tmp_path)
    # 0.2: the first update (20 rows on 90) merges, the second (10 on 110) makes a new delta.
    assert (index.base_rows, len(index.segments)) == ((110, 2) if merge_share < 1 else (90, 2))
    fresh = build_ngrams(words, texts, row_doc, live)
    for query in ("Hauptstadt London", "Dom Rhein Köln", "Förderprogramme Bericht", "Netzwerk"):
        got = index.scores(query)
        assert not got[~live].any()
        np.testing.assert_allclose(got, fresh.scores(query), rtol=1e-5, atol=1e-6)
    assert not list(tmp_path.iterdir())  # the temporary id files are gone


def test_merge_equals_one_build():
    rng = np.random.default_rng(3)
    n_terms, rows = 30, 200
    ids = rng.integers(0, n_terms, 3000).astype(np.int32)
    offsets = np.concatenate(([0], np.sort(rng.integers(0, 3000, rows - 1)), [3000]))
    live = rng.random(rows) > 0.2
    none = np.zeros(n_terms, dtype=bool)
    parts = [
        ngram_build._build(ids[offsets[a] :], offsets[a : b + 1] - offsets[a], a, n_terms, none, None)
        for a, b in ((0, 70), (70, 150), (150, 200))
    ]
    merged = merge(parts, n_terms, live)
    whole = ngram_build._build(ids, offsets, 0, n_terms, none, live)
    for name in ("indptr", "rows", "tf"):
        assert np.array_equal(getattr(merged, name), getattr(whole, name)), name
    reference = Postings.build(ids, offsets, 0, rows, n_terms, live)
    assert np.array_equal(whole.rows, reference.rows) and np.array_equal(whole.tf, reference.tf)


def test_frequent_grams_are_stopped(monkeypatch):
    monkeypatch.setattr(ngrams, "MIN_STOP_DF", 0)  # the query side
    monkeypatch.setattr(ngram_build, "MIN_STOP_DF", 0)  # the build
    rare = ("Dom", "Rhein", "Köln", "London", "Bericht", "Hafen", "Schiff", "Vorstand", "Netzwerk", "Herbst")
    texts = ["Messe Region"] * 10 + [f"Logistik {w}" for w in rare] + list(rare)
    index = build_ngrams(GermanAnalyzer(), texts, np.arange(len(texts)))  # 30 rows: df > 3
    stopped = {index.terms[t] for t in np.flatnonzero(index.stopped)}
    assert {"<log", "logi", "stik", "tik>", "<mes", "egio"} <= stopped  # in more than 10 % of the rows
    assert "<dom" not in stopped and "dom>" not in stopped
    assert all(index._lists(index.vocab[g])[0].size == 0 for g in stopped)
    assert index.scores("Logistik").max() == 0  # only stopped grams: nothing to score


def test_index_keeps_ngrams_across_updates(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", DOCS)
    settings = lexical_index(corpus, tmp_path / "index")
    first = load_index(settings.index_dir)
    assert first.manifest.ngrams == ngrams.NGRAM_VERSION and first.ngrams is not None
    base_file = first.path / NGRAMS / "base" / "rows.npy"
    # One new document among many: a delta; the base lists are hard-linked, not rewritten.
    for i in range(10):
        (corpus / f"fueller-{i}.txt").write_text(f"Bericht Nummer {i} über das Netzwerk.", encoding="utf-8")
    build_index(settings, full=True)
    first = load_index(settings.index_dir)
    base_file = first.path / NGRAMS / "base" / "rows.npy"
    (corpus / "neu.txt").write_text("Im Kölner Hafen legen Schiffe aus Rotterdam an.", encoding="utf-8")
    report = build_index(settings)
    assert report.full_rebuild_reason is None and report.added == ["neu.txt"]
    second = load_index(settings.index_dir)
    assert second.ngrams is not None and len(second.ngrams.segments) == 2
    assert os.stat(second.path / NGRAMS / "base" / "rows.npy").st_ino == os.stat(base_file).st_ino
    # Same scores as a full build of the same rows.
    full = tmp_path / "full"
    build_index(settings.replace(index_dir=full), full=True)
    fresh = load_index(full)
    assert fresh.ngrams is not None
    by_key = {(c.doc_id, c.start): i for i, c in enumerate(fresh.chunks[r] for r in range(fresh.lexical.size))}
    for query in ("Kölner Hafen", "Hauptsatd", "Koeln Dom"):
        got, want = second.ngrams.scores(query), fresh.ngrams.scores(query)
        for row in np.flatnonzero(second.live):
            chunk = second.chunks[int(row)]
            assert got[row] == pytest.approx(float(want[by_key[(chunk.doc_id, chunk.start)]]), rel=1e-5, abs=1e-6)


def test_index_without_ngrams(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    words_only = Settings(
        corpus_dir=corpus, index_dir=tmp_path / "index", model="none", reader="none", progress=False, ngram_weight=0.0
    )
    build_index(words_only)
    index = load_index(words_only.index_dir)
    assert index.ngrams is None and index.manifest.ngrams is None and not (index.path / NGRAMS).exists()
    assert Assistant.open(words_only).warnings == []
    # Opened with the channel wanted: a warning, word search only.
    wanted = words_only.replace(ngram_weight=2.0)
    assistant = Assistant.open(wanted)
    assert any("N-Gramm" in w for w in assistant.warnings)
    assert _hits(assistant, "Hauptsatd Frankreichs")[0] == "wein.txt"
    # The next build adds the lists (a full build: every text is needed).
    report = build_index(wanted)
    assert report.full_rebuild_reason and "N-Gramm" in report.full_rebuild_reason
    assert _hits(Assistant.open(wanted), "Hauptsatd Frankreichs")[0] == "paris.txt"
    # And dropping the channel again needs no rebuild.
    (corpus / "neu.txt").write_text("Ein neues Dokument über Häfen.", encoding="utf-8")
    report = build_index(words_only)
    assert report.full_rebuild_reason is None and load_index(words_only.index_dir).ngrams is None


def test_saved_index_loads_with_the_same_scores(tmp_path):
    words = GermanAnalyzer()
    texts = _random_texts(2, 40)
    index = build_ngrams(words, texts, np.arange(40) // 2)
    index.save(tmp_path / "n")
    loaded = NgramIndex.load(tmp_path / "n", words, np.arange(40) // 2, np.ones(40, dtype=bool))
    for query in ("Hauptstadt", "Dom Rhein"):
        np.testing.assert_array_equal(index.scores(query), loaded.scores(query))
    info = json.loads((tmp_path / "n" / "info.json").read_text())
    info["version"] = 0
    (tmp_path / "n" / "info.json").write_text(json.dumps(info))
    with pytest.raises(ValueError):
        NgramIndex.load(tmp_path / "n", words, np.arange(40) // 2, np.ones(40, dtype=bool))


def test_builder_checks_the_row_count(tmp_path):
    builder = NgramBuilder(GermanAnalyzer(), folder=tmp_path)
    builder.add("Hauptstadt London")
    with pytest.raises(ValueError):
        builder.finish(np.zeros(2, dtype=np.int64), np.ones(2, dtype=bool))
    assert not list(tmp_path.iterdir())
