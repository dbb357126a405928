"""The ONNX Runtime embedding backend: same vectors as torch, exported once, torch when it cannot run."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from embedder_backends import TEXTS, assert_agrees_with_torch, cosines, e5_cosines, load

from assistant.config import Settings
from assistant.errors import ConfigError
from assistant.index.onnx_encoder import FP32_FILE, INT8_FILE

pytest.importorskip("onnxruntime")


def test_onnx_vectors_agree_with_torch_on_the_tiny_model(model_copy: Path) -> None:
    assert_agrees_with_torch(model_copy, "onnx")
    assert (model_copy / "onnx" / FP32_FILE).is_file()


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
    fp32, int8 = e5_cosines(tmp_path, ("onnx", "onnx-int8"))
    assert fp32 >= 0.99
    assert int8 >= 0.95


def test_embed_backend_setting() -> None:
    assert Settings().embed_backend == "auto"
    assert Settings.load(env={"ASSISTANT_EMBED_BACKEND": "onnx-int8"}).embed_backend == "onnx-int8"
    allowed = "auto, torch, onnx, onnx-int8, openvino, openvino-int8"
    with pytest.raises(ConfigError, match=f"embed_backend='tensorrt' ist ungültig; erlaubt: {allowed}"):
        Settings.load(env={"ASSISTANT_EMBED_BACKEND": "tensorrt"})
