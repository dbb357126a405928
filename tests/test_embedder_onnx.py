"""The ONNX Runtime embedding backend: same vectors as torch, exported once, torch when it cannot run."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.bench.e5_arch import build_e5_small_architecture, passages
from assistant.config import Settings
from assistant.errors import ConfigError
from assistant.index.embedder import load_embedder
from assistant.index.onnx_encoder import FP32_FILE, INT8_FILE

pytest.importorskip("onnxruntime")

TEXTS = [
    "Das Förderprogramm unterstützt kleine und mittlere Unternehmen.",
    "Die Frist für den Verwendungsnachweis endet am 30. September.",
    "Zur Cluster-Veranstaltung über Wasserstoff laden wir alle Mitglieder herzlich ein.",
    "Ansprechpartnerin ist Frau Müller.",
    "unbekannte wörter ergeben [UNK]",
]


@pytest.fixture
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny model, so that its onnx/ cache starts empty."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


def load(path: Path, backend: str):
    return load_embedder(str(path), "query: ", "passage: ", batch_size=2, backend=backend)


def test_onnx_vectors_agree_with_torch_on_the_tiny_model(model_copy: Path) -> None:
    torch_embedder, onnx_embedder = load(model_copy, "torch"), load(model_copy, "onnx")
    assert (torch_embedder.backend, onnx_embedder.backend) == ("torch", "onnx")
    assert (model_copy / "onnx" / FP32_FILE).is_file()
    for encode in ("encode_passages", "encode_queries"):
        expected = getattr(torch_embedder, encode)(TEXTS)
        got = getattr(onnx_embedder, encode)(TEXTS)
        assert got.shape == expected.shape and got.dtype == np.float32
        assert cosines(expected, got).min() >= 0.99
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert onnx_embedder.encode_passages([]).shape == (0, onnx_embedder.dimension)


def test_export_is_cached_and_redone_when_the_weights_change(model_copy: Path) -> None:
    load(model_copy, "onnx")
    exported = model_copy / "onnx" / FP32_FILE
    first = exported.stat().st_mtime_ns
    load(model_copy, "onnx")
    assert exported.stat().st_mtime_ns == first  # read from the cache, not exported again
    stamp = model_copy / "onnx" / "export.json"
    stamp.write_text(json.dumps({"checksum": -1.0}), encoding="utf-8")  # as if from other weights
    load(model_copy, "onnx")
    assert exported.stat().st_mtime_ns != first


def test_int8_backend_quantizes_once_and_stays_close(model_copy: Path) -> None:
    expected = load(model_copy, "torch").encode_passages(TEXTS)
    embedder = load(model_copy, "onnx-int8")
    assert embedder.backend == "onnx-int8"
    assert (model_copy / "onnx" / INT8_FILE).is_file()
    assert cosines(expected, embedder.encode_passages(TEXTS)).min() >= 0.95


def test_unsupported_model_falls_back_to_torch_with_one_german_warning(
    model_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pooling = model_copy / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text(encoding="utf-8"))
    pooling.write_text(json.dumps({**config, "pooling_mode": "max"}), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="assistant.index.embedder"):
        embedder = load(model_copy, "onnx")
    assert embedder.backend == "torch"
    warnings = [r.getMessage() for r in caplog.records if r.name == "assistant.index.embedder"]
    assert len(warnings) == 1 and "läuft mit torch" in warnings[0] and "Pooling 'max'" in warnings[0]
    assert embedder.encode_queries(["Förderprogramm"]).shape == (1, embedder.dimension)


def test_e5_small_architecture_agrees_in_fp32_and_int8(tmp_path: Path) -> None:
    model = build_e5_small_architecture(tmp_path / "e5", vocab_size=3000)
    texts = passages(6, 64, vocab_size=3000)
    expected = load(model, "torch").encode_passages(texts)
    fp32 = cosines(expected, load(model, "onnx").encode_passages(texts))
    int8 = cosines(expected, load(model, "onnx-int8").encode_passages(texts))
    print(f"e5-small architecture: cosine fp32 {fp32.min():.6f}, int8 {int8.min():.6f}")
    assert fp32.min() >= 0.99
    assert int8.min() >= 0.95


def test_embed_backend_setting() -> None:
    assert Settings().embed_backend == "torch"
    assert Settings.load(env={"ASSISTANT_EMBED_BACKEND": "onnx-int8"}).embed_backend == "onnx-int8"
    allowed = "torch, onnx, onnx-int8, openvino, openvino-int8"
    with pytest.raises(ConfigError, match=f"embed_backend='tensorrt' ist ungültig; erlaubt: {allowed}"):
        Settings.load(env={"ASSISTANT_EMBED_BACKEND": "tensorrt"})
