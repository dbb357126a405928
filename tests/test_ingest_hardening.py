"""Hostile or unlucky corpus input found in the second hardening round (issue 14): symlink loops,
short files in old German encodings, DOCX files whose zip headers lie, very large text files.

Real files and real index builds throughout."""

from __future__ import annotations

from pathlib import Path

from conftest import lexical_index, write_corpus

from assistant.cli import main
from assistant.index.build import build_index
from assistant.index.freshness import needs_rebuild
from assistant.ingest.corpus import file_stats, scan_corpus
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
