"""Building and updating the index: incremental updates, failed builds, manifest, generations."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

import assistant
from assistant.config import Settings
from assistant.errors import CorpusError, IndexMismatchError, IndexNotFoundError
from assistant.index.build import build_index
from assistant.index.format import CURRENT, current_generation, read_corpus_record, read_manifest
from assistant.index.freshness import staleness
from assistant.index.reader import load_index
from assistant.pipeline import Assistant

CAMP = "2020-cross-cluster-camp-ifii.txt"
NIRO = "2022-10-niro-clustererfolg.txt"
BALTIC = "2017-05-balticnet-plasmatec-cluster-excellence-training.txt"
SOMMER = "in-die-region-westfalen-sommerempfang.txt"
ECCP = "2022-05-go-cluster-eccp-infoveranstaltung.txt"
BINARY = bytes(range(256)) * 8  # null bytes and control characters: not a text file


def lexical_settings(corpus: Path, index: Path, **changes) -> Settings:
    return Settings(corpus_dir=corpus, index_dir=index, model="none", reader="none", progress=False, **changes)


def generations(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.is_dir())


def doc_ids(hits) -> list[str]:
    return [h.chunk.doc_id for h in hits]


def test_incremental_update_with_vectors(tmp_path, corpus_copy, tiny_model_dir):
    settings = Settings(
        corpus_dir=corpus_copy, index_dir=tmp_path / "index", model=str(tiny_model_dir), reader="none", progress=False
    )
    first = build_index(settings)
    assert first.dense is True
    assert sorted(first.added) == sorted(p.name for p in corpus_copy.iterdir())
    assert first.embedded_chunks == first.chunks == 22
    before = load_index(settings.index_dir)
    rows_before = len(before.chunks)
    assert [c.row for c in before.chunks] == list(range(rows_before))

    (corpus_copy / "2024-neu-wasserstoff.txt").write_text(
        "Wasserstoffkongress 2024\n\nDas Netzwerk lädt zum Wasserstoffkongress nach Bochum ein. "
        "Themen sind Elektrolyseure und Pipelines.\n",
        encoding="utf-8",
    )
    with open(corpus_copy / CAMP, "a", encoding="utf-8") as handle:
        handle.write("\n\nNachtrag: Der Zebrafink war das inoffizielle Maskottchen des Camps.\n")
    (corpus_copy / SOMMER).unlink()

    second = build_index(settings)
    assert second.added == ["2024-neu-wasserstoff.txt"]
    assert second.changed == [CAMP]
    assert second.removed == [SOMMER]
    assert second.unchanged == 3
    assert second.full_rebuild_reason is None
    assert not second.up_to_date

    after = load_index(settings.index_dir)
    per_doc = after.corpus_record().documents
    assert second.embedded_chunks == per_doc["2024-neu-wasserstoff.txt"]["chunks"] + per_doc[CAMP]["chunks"]
    assert second.embedded_chunks < second.chunks  # unchanged documents were not embedded again
    assert after.dense.ntotal == len(after.chunks) == after.lexical.size
    assert after.live_chunks == second.chunks
    assert SOMMER not in after.documents and SOMMER not in per_doc
    live = [after.chunks[int(r)] for r in np.flatnonzero(after.live)]
    assert {c.doc_id for c in live} == set(per_doc)

    # Unchanged documents keep their rows (vector ids); new chunks are appended, the old
    # versions' rows are dead until a full build.
    old = {c.id: c for c in before.chunks}
    for chunk in live:
        if chunk.doc_id in (BALTIC, NIRO, ECCP):
            assert (chunk.row, chunk.start, chunk.end) == (old[chunk.id].row, old[chunk.id].start, old[chunk.id].end)
        else:
            assert chunk.row >= rows_before
    assert not after.live[[c.row for c in before.chunks if c.doc_id in (SOMMER, CAMP)]].any()
    # Chunk ids count within the document: the changed document's new version starts at #0 again.
    for doc_id in (CAMP, "2024-neu-wasserstoff.txt"):
        ids = [c.id for c in live if c.doc_id == doc_id]
        assert ids == [f"{doc_id}#{i}" for i in range(len(ids))] and ids
    # Every chunk has its own vector under its row, equal to the embedding of its text.
    embedder = Assistant.open(settings).retriever.embedder
    for chunk in live:
        vector = after.dense.reconstruct(int(chunk.row))
        expected = embedder.encode_passages([chunk.text])[0]
        assert abs(float(vector @ expected) - 1.0) < 1e-4, chunk.id

    app = Assistant.open(settings)
    assert app.warnings == []
    title = before.documents[SOMMER].title
    for query in (title, "Sommerempfang Zeche Zollern Dortmund"):
        assert SOMMER not in doc_ids(app.search(query, k=len(after.chunks)))
    assert doc_ids(app.search("Zebrafink Maskottchen"))[0] == CAMP
    assert doc_ids(app.search("Wasserstoffkongress in Bochum"))[0] == "2024-neu-wasserstoff.txt"


def test_rebuild_without_changes_embeds_nothing(tmp_path, corpus_copy, tiny_model_dir):
    settings = Settings(
        corpus_dir=corpus_copy, index_dir=tmp_path / "index", model=str(tiny_model_dir), reader="none", progress=False
    )
    build_index(settings)
    again = build_index(settings)
    assert again.up_to_date
    assert again.unchanged == 5
    assert again.embedded_chunks == 0
    assert again.dense is True


def test_incremental_update_finds_what_a_full_build_finds(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "bericht.txt").write_text(
        "Der Nachhaltigkeitsbericht des Vereins erscheint im Frühjahr.\n", encoding="utf-8"
    )
    (corpus / "vorstand.txt").write_text("Die Mitgliederversammlung wählte einen neuen Vorstand.\n", encoding="utf-8")
    incremental = lexical_settings(corpus, tmp_path / "inc")
    build_index(incremental)
    # The new document brings "Bericht" and "Nachhaltigkeit" into the vocabulary. The old chunk
    # keeps its tokens (only new text is analysed); the query side still joins the words into
    # the compound, so both documents are found, as after a full build.
    (corpus / "teile.txt").write_text("Ein Bericht über Nachhaltigkeit im Handwerk.\n", encoding="utf-8")
    report = build_index(incremental)
    assert report.added == ["teile.txt"] and report.unchanged == 2
    full = lexical_settings(corpus, tmp_path / "full")
    build_index(full)

    inc, ref = load_index(incremental.index_dir), load_index(full.index_dir)
    assert sorted(c.id for c in inc.chunks) == sorted(c.id for c in ref.chunks)
    assert inc.lexical.analyzer.words == ref.lexical.analyzer.words
    for query in ("Nachhaltigkeitsbericht", "Bericht zur Nachhaltigkeit"):
        found_inc = set(doc_ids(Assistant.open(incremental).search(query, k=5)))
        found_full = set(doc_ids(Assistant.open(full).search(query, k=5)))
        assert found_inc == found_full == {"bericht.txt", "teile.txt"}, query

    # --full analyses every chunk again with the current vocabulary: then the tokens agree too.
    report = build_index(incremental, full=True)
    assert report.full_rebuild_reason and "--full" in report.full_rebuild_reason

    def rows(index):
        ids = index.token_file()[0 : int(index.tables.row_tok[-1])]
        return sorted(
            (c.id, [index.lexical.terms[t] for t in ids[index.tables.row_tok[c.row] : index.tables.row_tok[c.row + 1]]])
            for c in index.chunks
        )

    assert rows(load_index(incremental.index_dir)) == rows(load_index(full.index_dir))


def test_failed_build_keeps_previous_index(tmp_path, corpus_copy):
    settings = lexical_settings(corpus_copy, tmp_path / "index")
    build_index(settings)
    pointer = (settings.index_dir / CURRENT).read_text()
    folders = generations(settings.index_dir)
    expected = [(h.chunk.id, h.score) for h in Assistant.open(settings).search("ClusterERFOLG NIRO")]
    assert expected

    for path in corpus_copy.iterdir():
        path.unlink()
    with pytest.raises(CorpusError) as info:
        build_index(settings)
    assert "bisherige Index bleibt unverändert" in str(info.value)
    assert (settings.index_dir / CURRENT).read_text() == pointer
    assert generations(settings.index_dir) == folders
    index = load_index(settings.index_dir)
    assert len(index.documents) == 5
    assert [(h.chunk.id, h.score) for h in Assistant.open(settings).search("ClusterERFOLG NIRO")] == expected

    shutil.rmtree(corpus_copy)
    with pytest.raises(CorpusError, match="existiert nicht"):
        build_index(settings)
    assert (settings.index_dir / CURRENT).read_text() == pointer


def test_nothing_indexable_creates_no_index(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "leer.txt").write_bytes(b"")
    (corpus / "binär.txt").write_bytes(BINARY)
    (corpus / "bild.png").write_bytes(b"\x89PNG\r\n")
    settings = lexical_settings(corpus, tmp_path / "index")
    with pytest.raises(CorpusError) as info:
        build_index(settings)
    assert "3 übersprungen" in str(info.value)
    assert current_generation(settings.index_dir) is None
    with pytest.raises(IndexNotFoundError):
        load_index(settings.index_dir)


def test_corrupt_new_version_keeps_the_old_one(tmp_path, corpus_copy):
    settings = lexical_settings(corpus_copy, tmp_path / "index")
    build_index(settings)
    old = load_index(settings.index_dir)
    old_text = old.documents[NIRO].text
    old_chunks = [c for c in old.chunks if c.doc_id == NIRO]

    (corpus_copy / NIRO).write_bytes(BINARY)
    report = build_index(settings)
    skipped = {s.path: s.reason for s in report.skipped}
    assert NIRO in skipped
    assert "bisherige Fassung bleibt im Index" in skipped[NIRO]
    assert NIRO not in report.changed and NIRO not in report.removed
    assert report.documents == 5

    index = load_index(settings.index_dir)
    assert index.documents[NIRO].text == old_text
    assert [c for c in index.chunks if c.doc_id == NIRO] == old_chunks
    assert list(index.manifest.skipped) == [{"path": NIRO, "reason": skipped[NIRO]}]
    assert doc_ids(Assistant.open(settings).search("ClusterERFOLG Buddy-Bär"))[0] == NIRO

    # A corrupt file that was never indexed is simply skipped.
    (corpus_copy / "kaputt.txt").write_bytes(BINARY)
    report = build_index(settings)
    reasons = {s.path: s.reason for s in report.skipped}
    assert "kaputt.txt" in reasons and "bisherige Fassung" not in reasons["kaputt.txt"]
    assert "kaputt.txt" not in load_index(settings.index_dir).documents


def test_manifest_contents(tmp_path, corpus_copy, tiny_model_dir):
    settings = Settings(
        corpus_dir=corpus_copy,
        index_dir=tmp_path / "index",
        model=str(tiny_model_dir),
        chunk_size=600,
        chunk_overlap=60,
        progress=False,
    )
    report = build_index(settings)
    manifest = read_manifest(settings.index_dir)
    on_disk = json.loads((settings.index_dir / report.generation / "manifest.json").read_text("utf-8"))
    record = read_corpus_record(settings.index_dir / report.generation)
    assert manifest.to_json() == on_disk
    assert "documents" not in on_disk and on_disk["document_count"] == len(record.documents)
    assert manifest.format_version == 5
    assert manifest.package_version == assistant.__version__
    assert manifest.model == str(tiny_model_dir)
    assert manifest.dimension == 32
    assert manifest.dense is True and on_disk["dense"] is True
    assert manifest.faiss is not None and manifest.faiss.describe == "exakt (IndexFlatIP)"
    assert manifest.faiss.kind == "flat" and manifest.dense_base_rows == report.chunks
    assert (manifest.chunk_size, manifest.chunk_overlap) == (600, 60)
    assert manifest.decompound is True
    assert manifest.passage_prefix == "passage: " and manifest.query_prefix == "query: "
    assert manifest.chunks == report.chunks
    files = sorted(corpus_copy.iterdir())
    assert sorted(record.documents) == [p.name for p in files]
    for path in files:
        entry = record.documents[path.name]
        assert entry["content_hash"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["title"]
        assert entry["chunks"] >= 1
    assert sum(d["chunks"] for d in record.documents.values()) == report.chunks
    index = load_index(settings.index_dir)
    assert manifest.rows == len(index.chunks) and manifest.lexical_base_rows == manifest.rows
    assert set(record.file_stats) == {p.name for p in files}
    assert record.file_stats[NIRO] == [(corpus_copy / NIRO).stat().st_size, (corpus_copy / NIRO).stat().st_mtime_ns]
    assert manifest.corpus_path == str(corpus_copy.resolve())

    build_index(lexical_settings(corpus_copy, tmp_path / "lex"))
    lexical = read_manifest(tmp_path / "lex")
    assert lexical.dense is False and lexical.model is None and lexical.dimension is None


def test_opening_with_another_model_is_a_clear_mismatch(tmp_path, corpus_copy, tiny_model_dir):
    settings = Settings(
        corpus_dir=corpus_copy, index_dir=tmp_path / "index", model=str(tiny_model_dir), reader="none", progress=False
    )
    build_index(settings)
    other = shutil.copytree(tiny_model_dir, tmp_path / "anderes-modell")
    with pytest.raises(IndexMismatchError) as info:
        Assistant.open(settings.replace(model=str(other)))
    message = str(info.value)
    assert str(tiny_model_dir) in message and str(other) in message
    assert "assistant index" in message
    # Lexical search does not need the model; it still works.
    assert Assistant.open(settings.replace(model=str(other), retrieval="lexical")).search("NIRO")

    # Building with the other model embeds everything again under the new name.
    report = build_index(settings.replace(model=str(other)))
    assert report.embedded_chunks == report.chunks
    assert read_manifest(settings.index_dir).model == str(other)
    assert Assistant.open(settings.replace(model=str(other))).retriever.effective_mode == "hybrid"


def test_changed_passage_prefix_embeds_again(tmp_path, corpus_copy, tiny_model_dir):
    settings = Settings(
        corpus_dir=corpus_copy, index_dir=tmp_path / "index", model=str(tiny_model_dir), reader="none", progress=False
    )
    build_index(settings)
    report = build_index(settings.replace(passage_prefix="Abschnitt: "))
    assert report.embedded_chunks == report.chunks


def test_chunk_size_change_rebuilds_everything(tmp_path, corpus_copy):
    settings = lexical_settings(corpus_copy, tmp_path / "index")
    first = build_index(settings)
    smaller = settings.replace(chunk_size=400, chunk_overlap=40)
    report = build_index(smaller)
    assert report.full_rebuild_reason is not None
    assert "Chunk-Einstellungen geändert" in report.full_rebuild_reason
    assert "1000/150" in report.full_rebuild_reason and "400/40" in report.full_rebuild_reason
    assert report.chunks > first.chunks
    assert report.unchanged == 0
    index = load_index(settings.index_dir)
    assert index.manifest.chunk_size == 400
    assert max(c.end - c.start for c in index.chunks) <= 400
    # Same settings again: incremental, nothing to do.
    again = build_index(smaller)
    assert again.full_rebuild_reason is None and again.up_to_date


def test_staleness_after_corpus_changes(tmp_path, corpus_copy):
    (corpus_copy / "riesig.txt").write_text("x" * 5000, encoding="utf-8")
    settings = lexical_settings(corpus_copy, tmp_path / "index", max_file_bytes=4500)
    report = build_index(settings)
    assert [s.path for s in report.skipped] == ["riesig.txt"]
    index = load_index(settings.index_dir)
    # A file the build skips (too large) does not make the index look stale forever.
    assert staleness(settings, index.manifest, index.corpus_record) is None
    assert Assistant.open(settings).warnings == []

    path = corpus_copy / NIRO
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    note = staleness(settings, index.manifest, index.corpus_record)
    assert note is not None and "veraltet" in note and "1 geändert" in note
    assert any("veraltet" in w for w in Assistant.open(settings).warnings)

    (corpus_copy / "neu.md").write_text("# Neu\n\nEin neues Dokument.\n", encoding="utf-8")
    (corpus_copy / SOMMER).unlink()
    note = staleness(settings, index.manifest, index.corpus_record)
    assert note is not None and "1 neu" in note and "1 geändert" in note and "1 gelöscht" in note

    build_index(settings)
    fresh = load_index(settings.index_dir)
    assert staleness(settings, fresh.manifest, fresh.corpus_record) is None


def test_a_large_corpus_start_checks_its_folders_first(tmp_path, corpus_copy, monkeypatch):
    """From QUICK_CHECK_DOCUMENTS documents a start compares the folders' times and walks the
    files only when one changed: added, removed and renamed files are seen at once; a file
    rewritten in place is left to `assistant index` (documented limit)."""
    from assistant.index import freshness

    old = time.time_ns() - 60_000_000_000
    os.utime(corpus_copy, ns=(old, old))  # a corpus not touched for a minute
    settings = lexical_settings(corpus_copy, tmp_path / "index")
    build_index(settings)
    index = load_index(settings.index_dir)
    assert index.folder_times() == {"": old}
    monkeypatch.setattr(freshness, "QUICK_CHECK_DOCUMENTS", 1)
    walked: list[Path] = []
    real_walk = freshness.file_stats
    monkeypatch.setattr(freshness, "file_stats", lambda folder: walked.append(folder) or real_walk(folder))
    assert staleness(settings, index.manifest, index.corpus_record, index.folder_times) is None and walked == []
    assert Assistant.open(settings).warnings == [] and walked == []

    path = corpus_copy / NIRO
    path.write_text(path.read_text(encoding="utf-8") + "\nNachtrag.", encoding="utf-8")  # in place
    assert staleness(settings, index.manifest, index.corpus_record, index.folder_times) is None
    note = staleness(settings, index.manifest, index.corpus_record)  # the full check sees it
    assert note is not None and "1 geändert" in note

    (corpus_copy / "neu.md").write_text("# Neu\n\nEin neues Dokument.\n", encoding="utf-8")
    note = staleness(settings, index.manifest, index.corpus_record, index.folder_times)
    assert note is not None and "1 neu" in note and "1 geändert" in note and walked  # then the walk says all


def test_a_folder_changed_around_the_build_is_not_trusted(tmp_path, corpus_copy, monkeypatch):
    from assistant.index import freshness

    (corpus_copy / "neu.md").write_text("# Neu\n\nEin neues Dokument.\n", encoding="utf-8")
    settings = lexical_settings(corpus_copy, tmp_path / "index")
    build_index(settings)  # the corpus folder was written just now: within a second of the scan
    index = load_index(settings.index_dir)
    monkeypatch.setattr(freshness, "QUICK_CHECK_DOCUMENTS", 1)
    walked: list[Path] = []
    real_walk = freshness.file_stats
    monkeypatch.setattr(freshness, "file_stats", lambda folder: walked.append(folder) or real_walk(folder))
    assert staleness(settings, index.manifest, index.corpus_record, index.folder_times) is None and walked


def test_generations_pointer_and_cleanup(tmp_path, corpus_copy):
    settings = lexical_settings(corpus_copy, tmp_path / "index")
    index_dir = settings.index_dir
    assert build_index(settings).generation == "gen-000001"
    assert (index_dir / CURRENT).read_text().strip() == "gen-000001"

    # Leftovers of a crashed build: a staging folder and a finished but never activated generation.
    crashed = index_dir / ".tmp-gen-000002-99999"
    crashed.mkdir()
    (crashed / "manifest.json").write_text("{halb", encoding="utf-8")
    orphan = index_dir / "gen-000005"
    orphan.mkdir()
    (orphan / "manifest.json").write_text("{}", encoding="utf-8")
    assert load_index(index_dir).path.name == "gen-000001"  # leftovers are ignored
    assert Assistant.open(settings).search("NIRO")

    (corpus_copy / "a-neu.txt").write_text("Ein neues Dokument über Wasserstoff.", encoding="utf-8")
    second = build_index(settings)
    assert second.generation == "gen-000006"  # never reuses a number that exists on disk
    assert generations(index_dir) == ["gen-000001", "gen-000006"]  # current + previous only
    assert not crashed.exists() and not orphan.exists()

    (corpus_copy / "b-neu.txt").write_text("Noch ein Dokument über Netzwerke.", encoding="utf-8")
    third = build_index(settings)
    assert generations(index_dir) == ["gen-000006", third.generation]
    assert (index_dir / CURRENT).read_text().strip() == third.generation
    assert not list(index_dir.glob(".tmp-gen-*"))
    assert not (index_dir / ".CURRENT.tmp").exists()
    assert load_index(index_dir).path.name == third.generation


def test_unusable_previous_index_is_rebuilt(tmp_path, corpus_copy):
    settings = lexical_settings(corpus_copy, tmp_path / "index")
    first = build_index(settings)
    (settings.index_dir / first.generation / "tables.npz").unlink()
    report = build_index(settings)
    assert report.full_rebuild_reason and "nicht nutzbar" in report.full_rebuild_reason
    assert report.documents == 5
    assert len(load_index(settings.index_dir).chunks) == report.chunks


def test_missing_index(tmp_path):
    with pytest.raises(IndexNotFoundError) as info:
        load_index(tmp_path / "nirgends")
    assert str(tmp_path / "nirgends") in str(info.value)
    (tmp_path / "kaputt").mkdir()
    (tmp_path / "kaputt" / CURRENT).write_text("gen-000042\n")  # points to nothing
    with pytest.raises(IndexNotFoundError):
        load_index(tmp_path / "kaputt")


def test_same_size_edit_right_after_a_build_is_found(tmp_path, corpus_copy):
    """Unchanged size and time skip the hash (as in git), except for files modified around the
    last scan: an edit keeping the size within the same clock tick must still be indexed."""
    settings = lexical_settings(corpus_copy, tmp_path / "index")
    path = corpus_copy / NIRO
    path.write_bytes(path.read_bytes())  # modified just now
    stat = path.stat()
    build_index(settings)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("NIRO", "ORIN", 1), encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same time
    report = build_index(settings)
    assert report.changed == [NIRO]


def test_old_files_with_unchanged_stat_are_not_read_again(tmp_path, corpus_copy, monkeypatch):
    settings = lexical_settings(corpus_copy, tmp_path / "index")
    hour_ago = time.time_ns() - 3600 * 10**9
    for path in corpus_copy.iterdir():
        os.utime(path, ns=(hour_ago, hour_ago))
    build_index(settings)
    import assistant.ingest.corpus as corpus_module

    hashed: list[Path] = []
    original = corpus_module._hash_file
    monkeypatch.setattr(corpus_module, "_hash_file", lambda p: hashed.append(p) or original(p))
    (corpus_copy / "neu.txt").write_text("Ein neues Dokument über Wasserstoff.", encoding="utf-8")
    report = build_index(settings)
    assert report.added == ["neu.txt"] and report.unchanged == 5
    assert [p.name for p in hashed] == ["neu.txt"]


def test_an_index_of_an_older_format_is_refused_clearly_and_rebuilt(tmp_path, corpus_copy, capsys):
    """Format 3 (before the typed manifest): `ask` says what to do, `index` rebuilds in full."""
    from assistant.cli import EXIT_ERROR, main

    settings = lexical_settings(corpus_copy, tmp_path / "index")
    report = build_index(settings)
    manifest_path = settings.index_dir / report.generation / "manifest.json"
    data = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest_path.write_text(json.dumps({**data, "format_version": 3}), encoding="utf-8")
    args = ["--index", str(settings.index_dir), "--corpus", str(corpus_copy), "--model", "none"]
    assert main(["ask", "Wer wurde zum ClusterERFOLG 2022 gewählt?", *args]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "Format 3, erwartet 5" in err and "assistant index" in err and "Traceback" not in err
    again = build_index(settings)
    assert again.full_rebuild_reason is not None and "Format 3" in again.full_rebuild_reason
    assert again.added and not again.unchanged
    assert Assistant.open(settings).ask("Wer wurde zum ClusterERFOLG 2022 gewählt?").citations


def test_chat_serves_an_index_of_another_corpus_folder_with_a_warning(tmp_path, corpus_copy, capsys):
    """The chat's start-up does not rebuild an index built elsewhere, nor fail without the
    corpus folder; the evaluation (other_corpus=True) rebuilds it."""
    from assistant.cli import ensure_index
    from assistant.index.freshness import needs_rebuild

    built = lexical_settings(corpus_copy, tmp_path / "index")
    build_index(built)
    elsewhere = shutil.copytree(corpus_copy, tmp_path / "anderswo")
    moved = built.replace(corpus_dir=elsewhere)
    assert ensure_index(moved) is None and ensure_index(built.replace(corpus_dir=tmp_path / "fehlt")) is None
    assert needs_rebuild(moved) == f"Index gehört zu einem anderen Korpus ({corpus_copy.resolve()})"
    warnings = Assistant.open(moved).warnings
    assert any(str(corpus_copy.resolve()) in w and "anderswo" in w for w in warnings), warnings
    assert Assistant.open(built).warnings == []
