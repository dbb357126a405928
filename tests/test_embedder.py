"""Finding the embedding model without waiting on the hub, and the lexical-only fallback."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.errors import EmbedderUnavailableError
from assistant.index.build import build_index
from assistant.index.embedder import Embedder, load_embedder, resolve_model
from assistant.index.reader import load_index
from assistant.pipeline import Assistant

pytestmark = pytest.mark.usefixtures("fresh_hub")

HUB_MODEL = "intfloat/multilingual-e5-small"  # not cached in the tests' empty cache
# "How to provide the model": every fallback message must tell the user these ways out.
ADVICE = ("--model", "ASSISTANT_MODEL=/pfad/zum/modell", "ASSISTANT_MODEL=none")
GUARD_SECONDS = 2.0  # a guard against hanging on the hub, not a benchmark


def small_corpus(folder: Path) -> Path:
    folder.mkdir()
    (folder / "a.txt").write_text("Das Förderprogramm unterstützt kleine Unternehmen.", encoding="utf-8")
    (folder / "b.txt").write_text("Die Veranstaltung des Clusters findet in Stuttgart statt.", encoding="utf-8")
    return folder


def assert_advice(message: str) -> None:
    for hint in ADVICE:
        assert hint in message, f"{hint!r} fehlt in: {message}"


@pytest.mark.parametrize("endpoint", [None, "http://127.0.0.1:9"])
def test_uncached_hub_model_fails_fast(monkeypatch, endpoint):
    # The default hub (unreachable here) and a port that refuses: both must fail within the guard.
    if endpoint:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
    started = time.perf_counter()
    with pytest.raises(EmbedderUnavailableError) as info:
        resolve_model(HUB_MODEL, hub_timeout=1.0)
    assert time.perf_counter() - started < GUARD_SECONDS
    assert "nicht erreichbar" in str(info.value)
    assert_advice(str(info.value))


def test_hanging_connection_attempt_is_not_waited_for(monkeypatch):
    # Name resolution and connect can hang far longer than hub_timeout (black-holed network);
    # the probe must give up after hub_timeout all the same.
    import socket

    def hang(*args, **kwargs):
        time.sleep(5)
        raise OSError("zu spät")

    monkeypatch.setattr(socket, "create_connection", hang)
    started = time.perf_counter()
    with pytest.raises(EmbedderUnavailableError, match="nicht erreichbar"):
        resolve_model(HUB_MODEL, hub_timeout=0.5)
    assert time.perf_counter() - started < GUARD_SECONDS


def test_load_embedder_fails_fast_and_remembers_the_failure():
    started = time.perf_counter()
    with pytest.raises(EmbedderUnavailableError) as first:
        load_embedder(HUB_MODEL, "query: ", "passage: ", hub_timeout=1.0)
    assert time.perf_counter() - started < GUARD_SECONDS
    started = time.perf_counter()
    with pytest.raises(EmbedderUnavailableError) as second:
        load_embedder(HUB_MODEL, "query: ", "passage: ", hub_timeout=1.0)
    assert time.perf_counter() - started < 0.1  # remembered: no second probe of the hub
    assert str(second.value) == str(first.value)


def test_hf_hub_offline_is_honoured_without_probing(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    probes = []
    import socket

    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: probes.append(a) or time.sleep(3))
    started = time.perf_counter()
    with pytest.raises(EmbedderUnavailableError) as info:
        load_embedder(HUB_MODEL, "query: ", "passage: ", hub_timeout=5.0)
    assert time.perf_counter() - started < 1.0
    assert "HF_HUB_OFFLINE" in str(info.value)
    assert_advice(str(info.value))
    assert probes == []  # offline means offline: the hub is not even probed


def test_remembered_failure_does_not_hide_a_changed_hub_setting(monkeypatch):
    with pytest.raises(EmbedderUnavailableError) as probed:
        load_embedder(HUB_MODEL, "query: ", "passage: ", hub_timeout=1.0)
    assert "HF_HUB_OFFLINE" not in str(probed.value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EmbedderUnavailableError) as offline:
        load_embedder(HUB_MODEL, "query: ", "passage: ", hub_timeout=1.0)
    assert "HF_HUB_OFFLINE" in str(offline.value)


@pytest.mark.parametrize("name", ["/nonexistent/models/e5", "./kein-modell-hier", "~/kein-modell-hier-xyz"])
def test_missing_local_folder(name):
    started = time.perf_counter()
    with pytest.raises(EmbedderUnavailableError) as info:
        load_embedder(name, "query: ", "passage: ")
    assert time.perf_counter() - started < GUARD_SECONDS
    assert "existiert nicht" in str(info.value)
    assert_advice(str(info.value))


def test_local_folder_that_appears_later_is_used(tmp_path, tiny_model_dir):
    target = tmp_path / "models" / "tiny"
    with pytest.raises(EmbedderUnavailableError):
        load_embedder(str(target), "query: ", "passage: ")
    shutil.copytree(tiny_model_dir, target)
    embedder = load_embedder(str(target), "query: ", "passage: ")  # no stale remembered failure
    assert embedder.dimension == 32


def test_folder_that_is_not_a_model(tmp_path):
    folder = tmp_path / "leer"
    folder.mkdir()
    (folder / "readme.txt").write_text("kein Modell", encoding="utf-8")
    with pytest.raises(EmbedderUnavailableError) as info:
        load_embedder(str(folder), "query: ", "passage: ")
    assert "Laden fehlgeschlagen" in str(info.value)


@pytest.mark.parametrize("offline", [False, True])
def test_build_falls_back_to_lexical_with_one_warning(tmp_path, monkeypatch, offline):
    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = Settings(
        corpus_dir=small_corpus(tmp_path / "corpus"), index_dir=tmp_path / "index", model=HUB_MODEL, progress=False
    )
    started = time.perf_counter()
    report = build_index(settings)
    assert time.perf_counter() - started < 10  # without the fallback this waits on the hub's retries
    assert report.dense is False
    assert report.embedded_chunks == 0
    assert len(report.warnings) == 1
    assert_advice(report.warnings[0])
    assert HUB_MODEL in report.warnings[0]
    if offline:
        assert "HF_HUB_OFFLINE" in report.warnings[0]
    index = load_index(settings.index_dir)
    assert not index.has_dense
    assert index.manifest.model is None and index.manifest.dimension is None

    assistant = Assistant.open(settings)
    assert assistant.retriever.effective_mode == "lexical"
    assert any("keine Vektoren" in w for w in assistant.warnings)
    hits = assistant.search("Förderprogramm")
    assert hits and hits[0].chunk.doc_id == "a.txt"
    assert set(hits[0].ranks) == {"lexical"}


def test_build_with_missing_local_model_folder(tmp_path):
    settings = Settings(
        corpus_dir=small_corpus(tmp_path / "corpus"),
        index_dir=tmp_path / "index",
        model=str(tmp_path / "gibt-es-nicht"),
        progress=False,
    )
    report = build_index(settings)
    assert report.dense is False
    assert len(report.warnings) == 1
    assert "existiert nicht" in report.warnings[0]


def test_tiny_embedder_vectors(tiny_embedder, tiny_model_dir):
    assert tiny_embedder.dimension == 32
    assert tiny_embedder.name == str(tiny_model_dir)
    passages = tiny_embedder.encode_passages(["Das Förderprogramm läuft.", "Der Vorstand tagt.", "x"])
    assert passages.shape == (3, 32)
    assert passages.dtype == np.float32 and passages.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, rtol=1e-5)
    assert tiny_embedder.encode_queries([]).shape == (0, 32)
    # Deterministic: encoding twice gives the same vectors.
    np.testing.assert_array_equal(
        passages, tiny_embedder.encode_passages(["Das Förderprogramm läuft.", "Der Vorstand tagt.", "x"])
    )


def test_prefixes_are_applied(tiny_embedder):
    # The tiny model knows the words of its training sentences; use two of them as prefixes.
    embedder = Embedder(tiny_embedder._model, "tiny", query_prefix="Klima ", passage_prefix="Kosten ")
    text = "Das Förderprogramm läuft."
    query, passage = embedder.encode_queries([text])[0], embedder.encode_passages([text])[0]
    assert not np.allclose(query, passage)
    expected = tiny_embedder._model.encode(["Klima " + text, "Kosten " + text], normalize_embeddings=True)
    np.testing.assert_allclose(query, expected[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(passage, expected[1], rtol=1e-4, atol=1e-5)
