"""Hybrid retrieval over a real index with vectors from the tiny model: both retrievers take
part, and document and date filters hold for each of them."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from conftest import copy_corpus

from assistant.config import Settings
from assistant.index.build import build_index
from assistant.index.reader import load_index
from assistant.pipeline import Assistant
from assistant.search.retrieval import Retriever
from assistant.types import SearchFilters

BALTIC = "2017-05-balticnet-plasmatec-cluster-excellence-training.txt"
CAMP = "2020-cross-cluster-camp-ifii.txt"
ECCP = "2022-05-go-cluster-eccp-infoveranstaltung.txt"
NIRO = "2022-10-niro-clustererfolg.txt"
SOMMER = "in-die-region-westfalen-sommerempfang.txt"
MODES = ("hybrid", "lexical", "dense")


@pytest.fixture(scope="module")
def dense_settings(tmp_path_factory, tiny_model_dir) -> Settings:
    root = tmp_path_factory.mktemp("dense")
    settings = Settings(
        corpus_dir=copy_corpus(root / "corpus"),
        index_dir=root / "index",
        model=str(tiny_model_dir),
        reader="none",
        progress=False,
    )
    report = build_index(settings)
    assert report.dense and not report.warnings
    return settings


@pytest.fixture(scope="module")
def app(dense_settings) -> Assistant:
    return Assistant.open(dense_settings)


def retriever(app: Assistant, mode: str) -> Retriever:
    return Retriever(app.index, app.retriever.embedder, mode, app.settings.candidates, app.settings.rrf_k)


def test_index_has_vectors_for_every_chunk(app):
    index = app.index
    assert index.has_dense
    assert index.dense.ntotal == len(index.chunks) == index.lexical.size
    assert index.dense.d == 32
    assert app.retriever.effective_mode == "hybrid"
    assert app.warnings == []
    assert [c.row for c in index.chunks] == list(range(len(index.chunks)))


def test_hybrid_hits_carry_ranks_from_both_retrievers(app):
    hits = app.search("Cluster Excellence Management Training in Berlin", k=5)
    assert len(hits) == 5
    assert hits[0].chunk.doc_id == BALTIC
    assert any(set(h.ranks) == {"lexical", "dense"} for h in hits)
    for hit in hits:
        assert set(hit.ranks) <= {"lexical", "dense"} and hit.ranks
        assert all(rank >= 1 for rank in hit.ranks.values())
        assert hit.chunk.text == app.index.documents[hit.chunk.doc_id].text[hit.chunk.start : hit.chunk.end]
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    # Reciprocal rank fusion: the score is the sum of 1 / (rrf_k + rank) over the retrievers.
    for hit in hits:
        expected = sum(1.0 / (app.settings.rrf_k + r) for r in hit.ranks.values())
        assert hit.score == pytest.approx(expected)


def test_dense_mode_finds_a_chunk_by_its_own_text(app):
    dense = retriever(app, "dense")
    for chunk in app.index.chunks[::5]:
        hits = dense.search(chunk.text, k=3)
        assert set(hits[0].ranks) == {"dense"}
        assert hits[0].chunk.id == chunk.id
        assert -1.0 - 1e-5 <= hits[0].score <= 1.0 + 1e-5


def test_lexical_mode_uses_bm25_only(app):
    hits = retriever(app, "lexical").search("ClusterERFOLG NIRO", k=3)
    assert hits[0].chunk.doc_id == NIRO
    assert all(set(h.ranks) == {"lexical"} for h in hits)


@pytest.mark.parametrize("mode", MODES)
def test_document_filter(app, mode):
    search = retriever(app, mode)
    only = SearchFilters(doc_ids=frozenset({CAMP}))
    hits = search.search("Cluster Netzwerk Austausch", k=50, filters=only)
    assert hits
    assert {h.chunk.doc_id for h in hits} == {CAMP}
    two = SearchFilters(doc_ids=frozenset({SOMMER, ECCP}))
    assert {h.chunk.doc_id for h in search.search("Cluster Netzwerk", k=50, filters=two)} <= {SOMMER, ECCP}
    assert search.search("Cluster", k=5, filters=SearchFilters(doc_ids=frozenset({"gibt-es-nicht.txt"}))) == []


@pytest.mark.parametrize("mode", MODES)
def test_date_filter(app, mode):
    search = retriever(app, mode)
    year_2022 = SearchFilters(date_from=date(2022, 1, 1), date_to=date(2022, 12, 31))
    hits = search.search("Cluster Veranstaltung", k=50, filters=year_2022)
    assert {h.chunk.doc_id for h in hits} == {ECCP, NIRO}
    # A document matches when any date it mentions overlaps the range (BALTIC also names 2020).
    year_2020 = SearchFilters(date_from=date(2020, 3, 1), date_to=date(2020, 3, 31))
    assert {h.chunk.doc_id for h in search.search("Cluster", k=50, filters=year_2020)} == {BALTIC, CAMP}
    # Open-ended ranges.
    early = SearchFilters(date_to=date(2017, 12, 31))
    assert {h.chunk.doc_id for h in search.search("Cluster", k=50, filters=early)} == {BALTIC}
    # Nothing dated in 1990: no hits at all, in any mode.
    assert (
        search.search("Cluster", k=5, filters=SearchFilters(date_from=date(1990, 1, 1), date_to=date(1990, 12, 31)))
        == []
    )
    # Date and document filters combine.
    both = SearchFilters(doc_ids=frozenset({NIRO, BALTIC}), date_from=date(2022, 1, 1))
    assert {h.chunk.doc_id for h in search.search("Cluster", k=50, filters=both)} == {NIRO}


def test_assistant_search_with_filters(app):
    filters = SearchFilters(doc_ids=frozenset({NIRO}))
    hits = app.search("Nachhaltigkeit ins Netzwerk bringen", k=4, filters=filters)
    assert hits and all(h.chunk.doc_id == NIRO for h in hits)
    assert any("dense" in h.ranks for h in hits) and any("lexical" in h.ranks for h in hits)


def test_k_limits_the_hits(app):
    assert len(app.search("Cluster", k=1)) == 1
    assert len(app.search("Cluster", k=7)) == 7
    dense = retriever(app, "dense")
    assert len(dense.search("Cluster", k=len(app.index.chunks) + 10)) == len(app.index.chunks)


def test_retriever_without_vectors_is_lexical(dense_settings):
    index = load_index(dense_settings.index_dir)
    plain = Retriever(index, None, "hybrid")
    assert plain.effective_mode == "lexical"
    hits = plain.search("ClusterERFOLG", k=3)
    assert hits and all(set(h.ranks) == {"lexical"} for h in hits)
    lexical_app = Assistant.open(dense_settings.replace(retrieval="lexical"))
    assert lexical_app.retriever.effective_mode == "lexical"


def test_lexical_only_index_searches_by_keywords(tmp_path, corpus_copy):
    settings = Settings(
        corpus_dir=corpus_copy, index_dir=tmp_path / "index", model="none", reader="none", progress=False
    )
    build_index(settings)
    app = Assistant.open(settings)
    assert not app.index.has_dense
    assert app.retriever.effective_mode == "lexical"
    hits = app.search("Sommerempfang in der Zeche Zollern", k=3)
    assert hits[0].chunk.doc_id == SOMMER
    scores = np.array([h.score for h in hits])
    assert (scores > 0).all() and (np.diff(scores) <= 0).all()
    assert app.search("Quokka Zebrafink Xylophon") == []
