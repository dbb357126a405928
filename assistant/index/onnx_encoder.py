"""The embedding model's transformer run by ONNX Runtime instead of torch.

sentence-transformers' own ``backend="onnx"`` goes through Optimum, whose ONNX exporter
(optimum-onnx 0.1) does not import with transformers 5; so the transformer is exported here with
``torch.onnx.export`` (the TorchScript exporter, no extra packages) and run by ONNX Runtime. The
tokenizer and the pooling stay those of the sentence-transformers model, so the vectors are the
torch backend's up to float rounding (cosine > 0.9999 in fp32). ``onnx-int8`` quantises the
matrix multiplications' weights to int8 (``onnxruntime.quantization.quantize_dynamic``).

Exported files are cached: in an ``onnx/`` folder inside a writable local model folder, else
under ``~/.cache/assistant/onnx/<model>/``, with a stamp of the torch weights they came from, so a
model is exported once and again only when its weights change.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
POOLING_MODES = ("mean", "cls")
FP32_FILE = "model.onnx"
INT8_FILE = "model_qint8.onnx"
# made from model.onnx by the OpenVINO backend (openvino_encoder.py), removed with it
OPENVINO_INT8_DIR = "openvino_int8"  # model.xml / model.bin
OPENVINO_COMPILED_DIR = "openvino_compiled"  # OpenVINO's cache of compiled models


class OnnxEncoder:
    """A sentence-transformers model (Transformer, Pooling, optional Normalize) whose transformer
    runs in an ONNX Runtime session. Offers the slice of ``SentenceTransformer.encode`` that
    :class:`assistant.index.embedder.Embedder` uses."""

    def __init__(self, model: Any, onnx_path: Path, threads: int | None = None, backend_name: str = "") -> None:
        self._model = model
        self.backend_name = backend_name or ("onnx-int8" if onnx_path.name == INT8_FILE else "onnx")
        self.pooling_mode = pooling_mode_of(model)
        self.onnx_path = onnx_path
        self._inputs = self._open(onnx_path, threads or _torch_threads())
        self._dimension = int(model.get_embedding_dimension())
        self._lock = threading.Lock()

    def _open(self, path: Path, threads: int) -> list[str]:
        """Load the model for :meth:`_hidden`; the names of its inputs."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return [i.name for i in self._session.get_inputs()]

    def get_sentence_embedding_dimension(self) -> int:
        return self._dimension

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        show_progress_bar: bool = False,
        normalize_embeddings: bool = True,
        convert_to_numpy: bool = True,
    ) -> np.ndarray:
        """Vectors for ``texts`` in their order; batches are formed from texts of similar length
        (as sentence-transformers does) so that little padding is computed."""
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            batch = order[start : start + batch_size]
            out[batch] = self._encode_batch([texts[i] for i in batch])
        if normalize_embeddings:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out /= np.maximum(norms, 1e-12)
        return out

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        features = self._model.preprocess(texts)
        feeds = {name: features[name].numpy().astype(np.int64) for name in self._inputs}
        hidden = self._hidden(feeds)
        if self.pooling_mode == "cls":
            return np.asarray(hidden[:, 0], dtype=np.float32)
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        return np.asarray((hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9), dtype=np.float32)

    def _hidden(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        with self._lock:
            return np.asarray(self._session.run(None, feeds)[0])


def pooling_mode_of(model: Any) -> str:
    """The model's pooling ("mean" or "cls"); raises ``ValueError`` for a structure this backend
    does not reproduce (anything but Transformer, Pooling and an optional Normalize)."""
    modules = [type(m).__name__ for m in model]
    if modules[:2] != ["Transformer", "Pooling"] or any(m != "Normalize" for m in modules[2:]):
        raise ValueError(f"Modellaufbau {modules} wird vom ONNX-Backend nicht unterstützt")
    pooling = model[1]
    mode = pooling.pooling_mode
    if not isinstance(mode, str) or mode not in POOLING_MODES or not getattr(pooling, "include_prompt", True):
        raise ValueError(f"Pooling {mode!r} wird vom ONNX-Backend nicht unterstützt")
    return mode


def cache_dir_for(source: str, name: str) -> Path:
    """Where the ONNX files of the model loaded from ``source`` are kept: ``<source>/onnx`` for a
    writable local folder, else ``~/.cache/assistant/onnx/<name>`` (``ASSISTANT_ONNX_CACHE``
    moves that root)."""
    folder = Path(source)
    if folder.is_dir() and os.access(folder, os.W_OK):
        return folder / "onnx"
    root = Path(os.environ.get("ASSISTANT_ONNX_CACHE") or Path.home() / ".cache" / "assistant" / "onnx")
    return root / re.sub(r"[^A-Za-z0-9._-]+", "--", name).strip("-")


def weights_stamp(model: Any) -> dict[str, Any]:
    """What the exported file depends on: the transformer's config and a checksum of its weights."""
    state = model[0].auto_model.state_dict()
    checksum = float(sum(float(t.double().abs().sum()) for t in state.values() if t.is_floating_point()))
    return {"config": model[0].auto_model.config.to_dict(), "checksum": checksum, "format": 1}


def ensure_onnx(model: Any, cache: Path, quantized: bool) -> Path:
    """The ONNX file for ``model`` in ``cache``, exported (and quantised) first if it is missing or
    was made from other weights."""
    cache.mkdir(parents=True, exist_ok=True)
    fp32, stamp_file = cache / FP32_FILE, cache / "export.json"
    stamp = json.loads(json.dumps(weights_stamp(model), default=str))
    current = stamp_file.exists() and json.loads(stamp_file.read_text(encoding="utf-8")) == stamp
    if not current or not fp32.exists():
        (cache / INT8_FILE).unlink(missing_ok=True)
        for made in (OPENVINO_INT8_DIR, OPENVINO_COMPILED_DIR):
            shutil.rmtree(cache / made, ignore_errors=True)
        export_fp32(model, fp32)
        stamp_file.write_text(json.dumps(stamp), encoding="utf-8")
    if not quantized:
        return fp32
    int8 = cache / INT8_FILE
    if not int8.exists():
        quantize_int8(fp32, int8)
    return int8


def export_fp32(model: Any, target: Path) -> None:
    """Export the transformer (token ids to last hidden state, dynamic batch and length) to
    ``target``, written under a temporary name first so a broken export leaves no file."""
    import torch

    transformer = model[0].auto_model
    features = model.preprocess(["Beispieltext für den Export", "Zweiter Text"])
    names = [n for n in INPUT_NAMES if n in features]

    class LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.transformer(**dict(zip(names, inputs, strict=True))).last_hidden_state

    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")  # two processes may export at once
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHidden().eval(),
            tuple(features[n] for n in names),
            str(partial),
            dynamo=False,
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
        )
    partial.replace(target)


def quantize_int8(fp32: Path, target: Path) -> None:
    """Dynamic int8 quantisation of the matrix multiplications' weights (activations are
    quantised on the fly); embeddings and LayerNorms stay float32."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")  # two processes may export at once
    quantize_dynamic(str(fp32), str(partial), op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8)
    partial.replace(target)


def _torch_threads() -> int:
    import torch

    return max(1, torch.get_num_threads())
