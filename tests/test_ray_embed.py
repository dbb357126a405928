"""``assistant embed --engine ray`` on a real local Ray (2 CPUs, started once for the module) and
``assistant index --vectors-from``: the imported index equals a local build."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.cli import main
from assistant.config import Settings
from assistant.errors import IndexMismatchError
from assistant.index.build import build_index
from assistant.index.format import VECTORS, current_generation
from assistant.index.ray_embed import PACKAGE_ROOT, embed_with_ray, runtime_env
from assistant.index.reader import load_index
from assistant.pipeline import Assistant

QUESTIONS = ["Wann fand das Sommerfest statt?", "Cluster Exzellenz Training", "Wer organisiert das Camp?"]


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="the scale extra (ray[data]) is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=runtime_env(remote=False))
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def embedded(local_ray, tiny_model_dir, tmp_path_factory):
    """The project's corpus embedded once on the local Ray; (settings, vectors folder, seconds)."""
    from conftest import copy_corpus

    root = tmp_path_factory.mktemp("ray")
    corpus = copy_corpus(root / "corpus")
    settings = Settings(
        corpus_dir=corpus, index_dir=root / "index", model=str(tiny_model_dir), reader="none", progress=False
    )
    started = time.perf_counter()
    report = embed_with_ray(settings, root / "vectors")
    seconds = time.perf_counter() - started
    assert report.files >= 1 and report.chunks > 0
    return settings, root / "vectors", seconds, report


def _vectors(index_dir: Path) -> np.ndarray:
    generation = current_generation(index_dir)
    assert generation is not None
    return np.fromfile(generation / VECTORS, dtype=np.float32)


def _chunks(index_dir: Path) -> list[tuple[str, int, int, str]]:
    data = load_index(index_dir)
    try:
        return [(c.id, c.start, c.end, c.text) for c in data.chunks]
    finally:
        data.close()


def _results(settings: Settings) -> list[list[str]]:
    assistant = Assistant.open(settings)
    return [[h.chunk.id for h in assistant.search(q, 5)] for q in QUESTIONS]


def test_workers_import_this_worktree(local_ray):
    @local_ray.remote
    def where() -> str:
        import assistant

        return assistant.__file__

    assert Path(local_ray.get(where.remote())).resolve().is_relative_to(PACKAGE_ROOT)


def test_imported_index_equals_a_local_build(embedded, tmp_path):
    settings, vectors, seconds, report = embedded
    local = dataclasses.replace(settings, index_dir=tmp_path / "local")
    built = build_index(local)
    imported = build_index(settings, vectors_from=vectors)
    assert imported.imported_chunks == built.chunks == report.chunks
    assert imported.embedded_chunks == 0
    assert _chunks(settings.index_dir) == _chunks(local.index_dir)
    a, b = _vectors(settings.index_dir), _vectors(local.index_dir)
    assert a.shape == b.shape and a.size > 0
    assert np.abs(a - b).max() < 1e-5
    assert _results(settings) == _results(local)
    print(f"Ray round trip (embed, local Ray with 2 CPUs): {seconds:.1f} s for {report.chunks} chunks")


def test_a_document_added_after_the_embedding_is_embedded_locally(embedded, tmp_path):
    settings, vectors, _, report = embedded
    corpus = tmp_path / "corpus"
    import shutil

    shutil.copytree(settings.corpus_dir, corpus)
    (corpus / "neu.txt").write_text(
        "Neues Dokument\n\nDer Verbund lädt am 3. März 2026 zum Frühjahrstreffen nach Münster ein. " * 3,
        encoding="utf-8",
    )
    changed = dataclasses.replace(settings, corpus_dir=corpus, index_dir=tmp_path / "index")
    result = build_index(changed, vectors_from=vectors)
    assert result.imported_chunks == report.chunks
    assert result.embedded_chunks >= 1
    local = dataclasses.replace(changed, index_dir=tmp_path / "local")
    build_index(local)
    assert _chunks(changed.index_dir) == _chunks(local.index_dir)
    assert np.abs(_vectors(changed.index_dir) - _vectors(local.index_dir)).max() < 1e-5


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"chunk_size": 300}, "Abschnittsgröße"),
        ({"chunk_overlap": 7}, "Überlappung"),
        ({"passage_prefix": "doc: "}, "Passagen-Präfix"),
    ],
)
def test_vectors_of_other_settings_are_refused(embedded, tmp_path, change, named):
    settings, vectors, _, _ = embedded
    other = dataclasses.replace(settings, index_dir=tmp_path / "index", **change)
    with pytest.raises(IndexMismatchError, match=f"passen nicht zu diesem Index: {named}"):
        build_index(other, vectors_from=vectors)
    assert current_generation(other.index_dir) is None


def test_vectors_of_another_model_are_refused_on_the_command_line(embedded, tmp_path, tiny_model_dir, capsys):
    settings, vectors, _, _ = embedded
    twin = tmp_path / "other-model"
    import shutil

    shutil.copytree(tiny_model_dir, twin)
    code = main(
        ["index", "--corpus", str(settings.corpus_dir), "--index", str(tmp_path / "i"), "--model", str(twin)]
        + ["--vectors-from", str(vectors), "--quiet"]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "passen nicht zu diesem Index: Modell" in err and str(twin) in err
    assert "Traceback" not in err


def test_embed_and_import_on_the_command_line(local_ray, embedded, tmp_path, capsys):
    settings, _, _, report = embedded
    out, index = tmp_path / "vectors", tmp_path / "index"
    started = time.perf_counter()
    common = ["--corpus", str(settings.corpus_dir), "--model", settings.model]
    assert main(["embed", "--engine", "ray", *common, "--out", str(out)]) == 0
    assert main(["index", *common, "--index", str(index), "--vectors-from", str(out), "--quiet"]) == 0
    seconds = time.perf_counter() - started
    printed = capsys.readouterr().out
    assert f"Abschnitte: {report.chunks}" in printed
    assert f"davon 0 neu eingebettet, {report.chunks} aus {out} übernommen" in printed
    print(f"Ray round trip on the command line (embed + index --vectors-from): {seconds:.1f} s")


def test_without_ray_embed_says_how_to_install_it(tmp_path, corpus_copy, tiny_model_dir):
    """Ray made unimportable in a fresh interpreter (``sys.modules["ray"] = None``), as when the
    scale extra is not installed."""
    code = (
        "import sys; sys.modules['ray'] = None; from assistant.cli import main; "
        f"sys.exit(main(['embed', '--corpus', {str(corpus_copy)!r}, '--model', {str(tiny_model_dir)!r}, "
        f"'--out', {str(tmp_path / 'out')!r}]))"
    )
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 1
    assert "braucht Ray" in done.stderr and "pip install '.[scale]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_folder_without_vector_files_or_a_build_without_model_is_refused(embedded, tmp_path):
    settings, vectors, _, _ = embedded
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexMismatchError, match="keine Vektordateien"):
        build_index(dataclasses.replace(settings, index_dir=tmp_path / "a"), vectors_from=tmp_path / "empty")
    lexical = dataclasses.replace(settings, index_dir=tmp_path / "b", model="none")
    with pytest.raises(IndexMismatchError, match="ohne Modell können die Vektoren nicht verwendet werden"):
        build_index(lexical, vectors_from=vectors)
