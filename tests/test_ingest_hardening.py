"""Hostile or unlucky corpus input found in the second hardening round (issue 14): symlink loops,
short files in old German encodings, DOCX files whose zip headers lie, very large text files.

Real files and real index builds throughout."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from conftest import lexical_index, write_corpus
from hostile_files import DOCUMENT_XML, docx_bytes, padded_docx, write_german_text
from test_chunking import Piece, check_chunks, make_doc

from assistant.cli import main
from assistant.config import Settings
from assistant.errors import DocumentError
from assistant.index.build import build_index
from assistant.index.freshness import needs_rebuild
from assistant.ingest.chunking import SEGMENT_CHARS, Chunker, segments
from assistant.ingest.corpus import CorpusFile, file_stats, scan_corpus
from assistant.ingest.decoding import decode_text
from assistant.ingest.parsers import load_document
from assistant.pipeline import Assistant

# --- symlink loops ------------------------------------------------------------------------------

LOOP_DOCS = {
    "gut.txt": "Das Netzwerk fördert die Quittenkelterei in Münster mit einem Zuschuss.",
    "zweites.txt": "Die Holunderpresse wird im Sommer im Cluster vorgestellt.",
}


def _make_loop(corpus: Path) -> None:
    """``a.txt -> b.txt -> a.txt``, and one link that points at itself."""
    (corpus / "a.txt").symlink_to("b.txt")
    (corpus / "b.txt").symlink_to("a.txt")
    (corpus / "selbst.md").symlink_to("selbst.md")


def test_symlink_loop_is_a_skipped_entry_in_the_scan(tmp_path):
    corpus = write_corpus(tmp_path / "korpus", LOOP_DOCS)
    _make_loop(corpus)
    files, skipped = scan_corpus(corpus, max_file_bytes=1_000_000)
    assert [f.doc_id for f in files] == ["gut.txt", "zweites.txt"]
    reasons = {s.path: s.reason for s in skipped}
    assert set(reasons) == {"a.txt", "b.txt", "selbst.md"}
    assert all("symbolischer Link" in r and "Schleife" in r for r in reasons.values()), reasons
    assert set(file_stats(corpus)) == {"gut.txt", "zweites.txt"}


def test_symlink_loop_neither_stops_the_build_nor_the_start(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "korpus", LOOP_DOCS)
    settings = lexical_index(corpus, tmp_path / "index")
    # The loop appears after the index was built: start-up (staleness walk) must still work.
    _make_loop(corpus)
    assert needs_rebuild(settings) is None  # the loop is no document: nothing to rebuild
    assistant = Assistant.open(settings)
    assert assistant.search("Quittenkelterei", 1)[0].chunk.doc_id == "gut.txt"

    report = build_index(settings)
    assert report.documents == 2
    assert {s.path for s in report.skipped} == {"a.txt", "b.txt", "selbst.md"}
    assert all("Schleife" in s.reason for s in report.skipped)

    code = main(["index", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "--model", "none", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "a.txt: symbolischer Link" in out and "Traceback" not in out + err
    code = main(
        ["search", "Holunderpresse", "--index", str(tmp_path / "index"), "--corpus", str(corpus), "--model", "none"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "zweites.txt" in out


def test_corpus_folder_that_is_a_symlink_loop(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "korpus", LOOP_DOCS)
    settings = lexical_index(corpus, tmp_path / "index")
    corpus.rename(tmp_path / "weg")
    corpus.symlink_to(tmp_path / "schleife")
    (tmp_path / "schleife").symlink_to(corpus)
    assert needs_rebuild(settings) is None  # serves the index it has
    assert Assistant.open(settings).search("Quittenkelterei", 1)[0].chunk.doc_id == "gut.txt"
    code = main(["index", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "--model", "none", "--quiet"])
    _out, err = capsys.readouterr()
    assert code != 0 and "existiert nicht" in err and str(corpus) in err and "Traceback" not in err


# --- short files in old German encodings --------------------------------------------------------

# Short German sentences as they come from old office PCs. Each has a word with a German letter
# that the search must find (the second value).
SHORT_SENTENCES: list[tuple[str, str]] = [
    ("Die Förderung für Quantenbäckereien in Münster läuft bis 2031.", "Münster"),
    ("Förderfähig sind kleine und mittlere Unternehmen.", "Förderfähig"),
    ("Die Überprüfung der Anträge dauert länger als üblich.", "Überprüfung"),
    ("Gefördert werden Vorhaben zur Verbesserung der Energieeffizienz in öffentlichen Gebäuden.", "Gebäuden"),
    ("Künftig übernimmt die Geschäftsstelle in Düsseldorf die Prüfung.", "Düsseldorf"),
    ("Die Mittel für Zuschüsse sind für dieses Jahr ausgeschöpft.", "Zuschüsse"),
    ("Öffentliche Fördermittel stehen auch für Gründungen zur Verfügung.", "Fördermittel"),
    ("Der Förderbescheid wird nach der Prüfung zugestellt.", "Förderbescheid"),
    ("Die Ausschreibung für Gründerinnen endet im Frühjahr.", "Gründerinnen"),
    ("Änderungen müssen schriftlich mitgeteilt werden.", "Änderungen"),
    ("Das Gebäude wird energetisch saniert und erhält eine neue Wärmepumpe.", "Wärmepumpe"),
    ("Überweisung an die Sparkasse Düsseldorf.", "Überweisung"),
    ("Für größere Vorhaben gilt ein höherer Eigenanteil.", "Eigenanteil"),
    ("Zur Begrüßung spricht der Oberbürgermeister.", "Oberbürgermeister"),
    ("Die Tagung in Lüneburg war gut besucht.", "Lüneburg"),
    ("Grüße aus Köln.", "Köln"),
    ("Straße gesperrt.", "Straße"),
    ("Öffnungszeiten: Mo–Fr 8–16 Uhr.", "Öffnungszeiten"),
    ("Äpfel und Birnen aus Tübingen.", "Tübingen"),
    ("Maßnahmen für Gründerinnen in Lübeck.", "Lübeck"),
    ("Zuschuss: 5.000 € für die Bäckerei.", "Bäckerei"),
    ("„Süßwaren“ heißt das Projekt.", "Süßwaren"),
    ("„Kooperation“ – das Leitwort des Clusters.", "Leitwort"),
    ("Größe: 7 m², Gewicht 3 kg.", "Größe"),
    ("Kontakt: Frau Müller, Zimmer 104.", "Müller"),
    ("Café Ökonom, Hauptstraße 5.", "Ökonom"),
    ("Öl", "Öl"),
    ("süß", "süß"),
]
# The encodings a German corpus holds; every sentence is written in each one that can hold it.
SHORT_ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16")


def short_encoded_files() -> dict[str, tuple[bytes, str, str]]:
    """file name -> (bytes, sentence, word) for each sentence in each encoding that holds it."""
    found = {}
    for i, (sentence, word) in enumerate(SHORT_SENTENCES):
        for encoding in SHORT_ENCODINGS:
            try:
                raw = sentence.encode(encoding)
            except UnicodeEncodeError:
                continue  # "€" and "„“" are not in latin-1
            found[f"satz-{i:02d}-{encoding}.txt"] = (raw, sentence, word)
    return found


def test_short_files_in_each_encoding_are_read_as_written(tmp_path):
    corpus = tmp_path / "korpus"
    corpus.mkdir()
    written = short_encoded_files()
    for name, (raw, _sentence, _word) in written.items():
        (corpus / name).write_bytes(raw)
    settings = lexical_index(corpus, tmp_path / "index")
    assistant = Assistant.open(settings)
    documents = assistant.index.documents
    garbled = {
        name: documents[name].text for name, (_, sentence, _) in written.items() if documents[name].text != sentence
    }
    assert not garbled, f"{len(garbled)} von {len(written)} Dateien falsch dekodiert: {garbled}"
    for i, (_sentence, word) in enumerate(SHORT_SENTENCES):
        expected = {name for name in written if name.startswith(f"satz-{i:02d}-")}
        found = {hit.chunk.doc_id for hit in assistant.search(word, 20)}
        assert expected <= found, (word, sorted(expected - found))


def test_decoding_prefers_german_letters_over_other_code_pages():
    sentence = "Die Förderung für Quantenbäckereien in Münster läuft bis 2031."
    for encoding in ("cp1252", "latin-1", "iso8859-15", "cp850", "mac-roman"):
        assert decode_text(sentence.encode(encoding), "x.txt") == sentence, encoding
    # "€" is where latin-9 and cp1252 differ
    assert decode_text("Preis: 20 € für Öl".encode("iso8859-15"), "x.txt") == "Preis: 20 € für Öl"
    assert decode_text("Preis: 20 € für Öl".encode("cp1252"), "x.txt") == "Preis: 20 € für Öl"
    # no German letter: the typographic quotes of cp1252 decide
    assert decode_text("„Kooperation“ – ein Leitwort.".encode("cp1252"), "x.txt") == "„Kooperation“ – ein Leitwort."
    # a long file: the decision rests on its non-ASCII parts, wherever they are
    long_text = "Ein Satz ohne Sonderzeichen im Netzwerk. " * 5000 + "Grüße aus Münster, Jörg."
    assert decode_text(long_text.encode("cp1252"), "x.txt") == long_text


# --- large text files ---------------------------------------------------------------------------


def test_chunking_a_long_text_takes_memory_for_one_segment(tmp_path):
    text = write_german_text(tmp_path / "lang.txt", 6_000_000).read_text(encoding="utf-8")
    assert len(text) > 5 * SEGMENT_CHARS
    chunker = Chunker(1000, 150)
    tracemalloc.start()
    try:
        spans = chunker.spans(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The masked copy of the whole text took ~22 bytes per character (130 MB here); one segment
    # at a time it is ~25 MB, whatever the length of the text.
    assert peak < 10 * len(text), f"{peak / 1e6:.0f} MB für {len(text) / 1e6:.1f} Mio. Zeichen"
    check_chunks(make_doc(text), [Piece(text, a, b) for a, b in spans], 1000)
    cuts = [end for _, end in segments(text)]
    assert len(cuts) >= 6 and all(text[end - 2 : end] == "\n\n" for end in cuts[:-1])
    assert not [(a, b) for a, b in spans for cut in cuts if a < cut < b]  # no chunk spans a cut


def test_segments_cover_the_text_and_cut_at_the_strongest_separator():
    assert list(segments("", 10)) == [(0, 0)]
    assert list(segments("kurz", 10)) == [(0, 4)]
    text = "Erster Satz. Zweiter Satz.\n\nDritter Satz, langer Teil. Ende"
    parts = list(segments(text, 30))
    assert "".join(text[a:b] for a, b in parts) == text
    assert parts[0] == (0, text.index("\n\n") + 2)  # the paragraph break, not the later ". "
    assert all(b - a <= 30 for a, b in parts)
    assert list(segments("x" * 25, 10)) == [(0, 10), (10, 20), (20, 25)]  # no separator: hard cuts


def test_index_of_a_text_longer_than_a_segment(tmp_path):
    corpus = tmp_path / "korpus"
    corpus.mkdir()
    text = write_german_text(corpus / "lang.txt", int(2.5 * SEGMENT_CHARS)).read_text(encoding="utf-8")
    cut = next(iter(segments(text)))[1]
    first_word = "Quittenkelterei"
    corpus.joinpath("lang.txt").write_text(
        text[:cut] + f"Am Schnitt steht {first_word}.\n\n" + text[cut:] + "\nGanz am Ende: Holunderpresse.\n",
        encoding="utf-8",
    )
    settings = lexical_index(corpus, tmp_path / "index")
    assistant = Assistant.open(settings)
    stored = assistant.index.documents["lang.txt"].text
    for word in (first_word, "Holunderpresse"):
        hit = assistant.search(word, 1)[0]
        assert word in hit.chunk.text and hit.chunk.text == stored[hit.chunk.start : hit.chunk.end]


# --- DOCX files whose zip headers lie ----------------------------------------------------------

DOCX_LIMIT = 1_000_000  # max_file_bytes: the document XML may unpack to 4 MB


def _docx_file(path: Path):
    raw = path.read_bytes()
    return CorpusFile(path.name, path, hashlib.sha256(raw).hexdigest(), len(raw))


def _reason(path: Path, max_unpacked: int) -> tuple[str, int]:
    """Why loading ``path`` fails, and the peak of memory the attempt took (traced)."""
    tracemalloc.start()
    try:
        with pytest.raises(DocumentError) as info:
            load_document(_docx_file(path), max_unpacked)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.path == path.name and path.name in str(info.value)
    return info.value.reason, peak


def test_docx_whose_headers_claim_less_than_it_unpacks_to(tmp_path):
    # 100 MB of XML on ~130 KB, the headers (local and central) claiming 2 KB
    path = padded_docx(tmp_path / "luege.docx", "Harmloser Text: Blindgängerwort.", 100_000_000, claimed=2048)
    assert path.stat().st_size < 1_000_000
    assert zipfile.ZipFile(path).getinfo(DOCUMENT_XML).file_size == 2048
    reason, peak = _reason(path, Settings(max_file_bytes=DOCX_LIMIT).max_unpacked_bytes)
    assert "falsche Größen" in reason and DOCUMENT_XML in reason and "ZIP-Bombe" in reason, reason
    # python-docx inflated the whole member in one piece (100 MB here, 2.16 GB for the 1.9 GB
    # one of issue 14) before its checksum failed
    assert peak < 5_000_000, f"{peak / 1e6:.0f} MB"


def test_docx_that_unpacks_beyond_the_limit_derived_from_max_file_bytes(tmp_path):
    path = padded_docx(tmp_path / "gross.docx", "Harmloser Text: Blindgängerwort.", 6_000_000)
    settings = Settings(max_file_bytes=DOCX_LIMIT)
    assert settings.max_unpacked_bytes == 4 * DOCX_LIMIT
    reason, _ = _reason(path, settings.max_unpacked_bytes)
    assert "entpackt zu groß" in reason and "Grenze 4 MB" in reason and "ZIP-Bombe" in reason, reason
    # with the default limit (200 MB) the same file is an ordinary DOCX
    assert load_document(_docx_file(path), Settings().max_unpacked_bytes).text == "Harmloser Text: Blindgängerwort."


def test_docx_whose_headers_claim_more_or_whose_content_was_altered(tmp_path):
    # claiming more than there is costs nothing (zipfile accepts it too)
    path = padded_docx(tmp_path / "mehr.docx", "Harmloser Text.", 10_000, claimed=20_000)
    assert load_document(_docx_file(path), 4 * DOCX_LIMIT).text == "Harmloser Text."
    raw = bytearray(padded_docx(tmp_path / "anders.docx", "Harmloser Text.", 0).read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as archive:
        info = archive.getinfo(DOCUMENT_XML)
    raw[info.header_offset + 30 + len(DOCUMENT_XML) + 40] ^= 0xFF  # one byte of the deflated XML
    (tmp_path / "anders.docx").write_bytes(bytes(raw))
    reason, _ = _reason(tmp_path / "anders.docx", 4 * DOCX_LIMIT)
    assert "beschädigte DOCX-Datei" in reason, reason


def test_lying_docx_beside_good_files_in_a_build(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "korpus", LOOP_DOCS)
    (corpus / "protokoll.docx").write_bytes(docx_bytes(["Die Wacholderdrossel brütet im Frühjahr."]))
    padded_docx(corpus / "luege.docx", "Harmloser Text: Blindgängerwort.", 20_000_000, claimed=2048)
    padded_docx(corpus / "gross.docx", "Harmloser Text: Blindgängerwort.", 6_000_000)
    settings = Settings(
        corpus_dir=corpus,
        index_dir=tmp_path / "index",
        model="none",
        reader="none",
        progress=False,
        max_file_bytes=DOCX_LIMIT,
    )
    report = build_index(settings)
    assert report.documents == 3
    reasons = {s.path: s.reason for s in report.skipped}
    assert set(reasons) == {"luege.docx", "gross.docx"} and all("ZIP-Bombe" in r for r in reasons.values())
    assistant = Assistant.open(settings)
    assert assistant.search("Wacholderdrossel", 1)[0].chunk.doc_id == "protokoll.docx"
    assert not any("Blindgängerwort" in h.chunk.text for h in assistant.search("Blindgängerwort", 5))
