"""Chunker: exact offsets, full coverage, size limit; chunk ids."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_text_splitters import RecursiveCharacterTextSplitter

from assistant.ingest.chunking import GERMAN_SEPARATORS, Chunker
from assistant.ingest.corpus import scan_corpus
from assistant.ingest.parsers import load_document
from assistant.types import Document, chunk_id

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def make_doc(text: str, doc_id: str = "sub/datei.txt") -> Document:
    return Document(id=doc_id, text=text, title="T", content_hash="h", source_path=doc_id)


class Piece:
    """A chunk span with its text, as the index stores it."""

    def __init__(self, text: str, start: int, end: int) -> None:
        self.text, self.start, self.end = text[start:end], start, end


def split(chunker: Chunker, doc: Document) -> list[Piece]:
    return [Piece(doc.text, a, b) for a, b in chunker.spans(doc.text)]


def check_chunks(doc: Document, chunks: list[Piece], chunk_size: int) -> None:
    text = doc.text
    for chunk in chunks:
        assert chunk.text == text[chunk.start : chunk.end]
        assert chunk.text and chunk.text == chunk.text.strip()
        assert len(chunk.text) <= chunk_size
    # Every non-whitespace character lies in some chunk: no gaps, nothing lost at either end.
    covered_to = 0
    for chunk in chunks:
        assert not text[covered_to : chunk.start].strip(), (covered_to, chunk.start)
        covered_to = max(covered_to, chunk.end)
    assert not text[covered_to:].strip()
    # Chunks move forward: each starts no earlier and ends later than the one before.
    for before, after in itertools.pairwise(chunks):
        assert after.start >= before.start and after.end > before.end
    if text.strip():
        assert chunks
    else:
        assert chunks == []


@pytest.fixture(scope="module")
def corpus_docs() -> list[Document]:
    files, _ = scan_corpus(CORPUS, 50_000_000)
    docs = [load_document(f) for f in files]
    assert len(docs) == 5
    return docs


@pytest.mark.parametrize("chunk_size, overlap", [(1000, 150), (300, 60), (120, 0), (80, 79)])
def test_corpus_chunks_are_exact_slices(corpus_docs, chunk_size, overlap):
    chunker = Chunker(chunk_size, overlap)
    for doc in corpus_docs:
        chunks = split(chunker, doc)
        check_chunks(doc, chunks, chunk_size)
        if len(doc.text) > chunk_size:
            assert len(chunks) >= 2


def test_corpus_chunks_with_default_settings_overlap(corpus_docs):
    doc = max(corpus_docs, key=lambda d: len(d.text))
    chunks = split(Chunker(1000, 150), doc)
    assert len(chunks) >= 4
    overlaps = [before.end - after.start for before, after in itertools.pairwise(chunks)]
    assert all(o <= 150 for o in overlaps)
    assert any(o > 0 for o in overlaps)


def test_paragraphs_are_preferred_split_points():
    paragraphs = [f"Absatz {i}: " + "Die Förderung der Cluster wächst. " * 4 for i in range(6)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    chunks = split(Chunker(200, 0), make_doc(text))
    assert [c.text for c in chunks] == [p.strip() for p in paragraphs]


def test_sentence_split_inside_long_paragraph():
    text = "Erster Satz über Förderung. Zweiter Satz über Größe! Dritter Satz über Straßen? Vierter Satz."
    chunks = split(Chunker(60, 0), make_doc(text))
    check_chunks(make_doc(text), chunks, 60)
    # Split at ". " first; the "! " / "? " sentences stay together while they fit.
    assert [c.text for c in chunks] == [
        "Erster Satz über Förderung.",
        "Zweiter Satz über Größe!",
        "Dritter Satz über Straßen? Vierter Satz.",
    ]


def test_repeated_text_keeps_true_positions():
    # Repeated phrases made the former text.find() lookup place a chunk at an earlier copy.
    text = ("Cluster x: – Größe. " * 3 + "\n\n x: – \n\n " + "Förderung a, Straße; " * 12).strip()
    doc = make_doc(text)
    for size, overlap in [(40, 20), (60, 9), (25, 24), (90, 45)]:
        check_chunks(doc, split(Chunker(size, overlap), doc), size)


def test_empty_and_whitespace_text():
    assert split(Chunker(100, 10), make_doc("")) == []
    assert split(Chunker(100, 10), make_doc(" \n\n \t ")) == []


def test_one_long_word_is_cut_to_size():
    text = "Donaudampfschifffahrtsgesellschaftskapitänsmützenabzeichen" * 3
    chunks = split(Chunker(50, 10), make_doc(text))
    check_chunks(make_doc(text), chunks, 50)


def test_chunk_ids_name_document_and_number():
    text = "\n\n".join(f"Abschnitt Nummer {i} mit etwas Text über Netzwerke." for i in range(10))
    assert len(split(Chunker(60, 0), make_doc(text, "ordner/bericht.pdf"))) == 10
    assert [chunk_id("ordner/bericht.pdf", i) for i in (0, 9)] == ["ordner/bericht.pdf#0", "ordner/bericht.pdf#9"]


def test_invalid_settings():
    with pytest.raises(ValueError):
        Chunker(100, 101)
    with pytest.raises(ValueError):
        Chunker(0, 0)


# --- property tests ----------------------------------------------------------------------------

WORDS = [
    "Förderung",
    "Cluster",
    "und",
    "der",
    "die",
    "Netzwerk",
    "Größe.",
    "Ja!",
    "Wirklich?",
    "a",
    "a,",
    "–",
    "Straße;",
    "Ziel:",
    "Übermaß",
    "KMU",
    "2,3",
    "17.05.2017",
    "x",
]
SEPARATORS = [" ", " ", " ", " ", "\n", "\n\n", "  ", "\t", " \n ", ""]

german_text = st.lists(
    st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)),
    min_size=0,
    max_size=160,
).map(lambda parts: "".join(w + s for w, s in parts))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=german_text, chunk_size=st.integers(20, 250), overlap_ratio=st.floats(0, 0.95))
def test_property_chunks_are_exact_and_cover(text, chunk_size, overlap_ratio):
    overlap = int(chunk_size * overlap_ratio)
    doc = make_doc(text)
    check_chunks(doc, split(Chunker(chunk_size, overlap), doc), chunk_size)


@settings(max_examples=60, deadline=None)
@given(text=german_text, chunk_size=st.integers(20, 250), overlap_ratio=st.floats(0, 0.95))
def test_property_same_pieces_as_recursive_splitter(text, chunk_size, overlap_ratio):
    """The chunks are the pieces langchain's RecursiveCharacterTextSplitter makes with the same
    settings, except pieces that lie wholly inside the chunk before."""
    overlap = int(chunk_size * overlap_ratio)
    reference = RecursiveCharacterTextSplitter(
        separators=GERMAN_SEPARATORS,
        keep_separator="end",
        chunk_size=chunk_size,
        chunk_overlap=overlap,
        strip_whitespace=True,
    ).split_text(text)
    chunks = split(Chunker(chunk_size, overlap), make_doc(text))
    kept = iter(reference)
    for chunk in chunks:
        for piece in kept:
            if piece == chunk.text:
                break
        else:
            pytest.fail(f"chunk {chunk.text!r} is not among the splitter's pieces in order")
    assert set(reference) >= {c.text for c in chunks}
    assert all(any(piece in c.text for c in chunks) for piece in reference)


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("aäö ß.\n,!?;:–x")), max_size=400),
    chunk_size=st.integers(1, 60),
    overlap_ratio=st.floats(0, 1),
)
def test_property_arbitrary_characters(text, chunk_size, overlap_ratio):
    overlap = min(chunk_size - 1, int(chunk_size * overlap_ratio)) if chunk_size > 1 else 0
    doc = make_doc(text)
    check_chunks(doc, split(Chunker(chunk_size, overlap), doc), chunk_size)
