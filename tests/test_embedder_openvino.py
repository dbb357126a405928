"""The OpenVINO embedding backends (ASSISTANT_EMBED_BACKEND=openvino / openvino-int8) on the tiny
test model and the e5-small architecture with random weights: the vectors agree with torch's, the
int8 model is made once and again when the weights change, a missing runtime falls back to torch
with one German warning naming the extra."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
from embedder_backends import TEXTS, assert_agrees_with_torch, cosines, e5_cosines, load

from assistant.index.onnx_encoder import FP32_FILE
from assistant.index.openvino_encoder import COMPILED_DIR, INT8_DIR

pytest.importorskip("openvino")
pytest.importorskip("nncf")


def test_openvino_vectors_agree_with_torch(model_copy: Path) -> None:
    assert_agrees_with_torch(model_copy, "openvino")
    assert (model_copy / "onnx" / FP32_FILE).is_file()  # compiled from the ONNX export
    assert any((model_copy / "onnx" / COMPILED_DIR).iterdir())  # and kept compiled for the next start


def test_int8_is_made_once_and_again_for_other_weights(model_copy: Path) -> None:
    expected = load(model_copy, "torch").encode_passages(TEXTS)
    embedder = load(model_copy, "openvino-int8")
    assert embedder.backend == "openvino-int8"
    made = model_copy / "onnx" / INT8_DIR / "model.xml"
    first = made.stat().st_mtime_ns
    assert cosines(expected, embedder.encode_passages(TEXTS)).min() >= 0.95
    load(model_copy, "openvino-int8")
    assert made.stat().st_mtime_ns == first  # from the cache
    (model_copy / "onnx" / "export.json").write_text(json.dumps({"checksum": -1.0}), encoding="utf-8")
    load(model_copy, "openvino-int8")
    assert made.stat().st_mtime_ns != first  # other weights: exported and quantised again


def test_missing_openvino_falls_back_to_torch_with_one_german_warning(
    model_copy: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino raises ImportError
    with caplog.at_level(logging.WARNING, logger="assistant.index.embedder"):
        embedder = load(model_copy, "openvino")
    assert embedder.backend == "torch"
    warnings = [r.getMessage() for r in caplog.records if r.name == "assistant.index.embedder"]
    assert len(warnings) == 1 and "läuft mit torch" in warnings[0] and "Extra [openvino]" in warnings[0]
    assert not (model_copy / "onnx").exists()  # nothing exported for a runtime that is not there


def test_e5_small_architecture_agrees(tmp_path: Path) -> None:
    plain, int8 = e5_cosines(tmp_path, ("openvino", "openvino-int8"))
    assert plain >= 0.99
    assert int8 >= 0.95


def test_nncf_sends_no_usage_statistics() -> None:
    """In a fresh process (pytest itself turns NNCF's statistics off): the stub, not the sender."""
    import subprocess

    code = (
        "from assistant.index.openvino_encoder import import_nncf\n"
        "import_nncf()\n"
        "from nncf.telemetry.wrapper import telemetry\n"
        "print(type(telemetry).__name__)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("NNCF_CI", "NNCF_DEV")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "MagicMock"  # NNCFTelemetryStub; the sender is NNCFTelemetry


def test_auto_takes_the_fastest_installed_runtime_and_torch_quietly_without_one(
    model_copy: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = load(model_copy, "torch").encode_passages(TEXTS)
    with caplog.at_level(logging.WARNING, logger="assistant.index.embedder"):
        chosen = load(model_copy, "auto")
        assert chosen.backend == "openvino"  # installed here (dev extras): 3.5x torch on 2 cores
        assert cosines(expected, chosen.encode_passages(TEXTS)).min() >= 0.99
        monkeypatch.setitem(sys.modules, "openvino", None)  # as if not installed
        assert load(model_copy, "auto").backend == "onnx"
        monkeypatch.setitem(sys.modules, "onnxruntime", None)
        assert load(model_copy, "auto").backend == "torch"
    # nothing to warn about: "auto" asked for no particular runtime
    assert not [r for r in caplog.records if r.name == "assistant.index.embedder"]
