"""The embedding model's transformer run by OpenVINO (``ASSISTANT_EMBED_BACKEND=openvino`` or
``openvino-int8``), from the ONNX file :mod:`.onnx_encoder` exports.

Measured on this machine's 2 cores (AMD EPYC with AVX-512 BF16/VNNI), e5-small architecture,
32 passages of 256 tokens, in turns in one run (``benchmarks/embedding_throughput.py``): torch
14.1 passages/s, ONNX Runtime 20.4 (int8 33.4), OpenVINO 49.9 (3.5×: it computes in bfloat16 on
CPUs that have it, float32 elsewhere), OpenVINO with NNCF's int8 quantisation 73.5 (5.2×; cosine
to torch ≥ 0.989 with random weights, the loosest backend).

``openvino-int8`` quantises weights and activations with NNCF (post-training, SmoothQuant and
bias correction), calibrated on :data:`CALIBRATION` (German passages of the kind the assistant
indexes); the result is kept as OpenVINO IR beside the ONNX file, under the same weights stamp,
so it is made once (~20 s for e5-small) and again only when the weights change.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from .onnx_encoder import INPUT_NAMES, OPENVINO_COMPILED_DIR, OPENVINO_INT8_DIR, OnnxEncoder

INT8_DIR = OPENVINO_INT8_DIR  # inside the ONNX cache folder
COMPILED_DIR = OPENVINO_COMPILED_DIR
CALIBRATION = (
    "Das Innovationscluster lädt am 20. Oktober zum Jahrestreffen nach Bremen ein; Anmeldung bis 30. September.",
    "Kleine und mittlere Unternehmen können bis zu 50 Prozent der förderfähigen Kosten erstattet bekommen.",
    "Der Workshop zur Kreislaufwirtschaft zeigte, wie Betriebe Material sparen und Abfälle vermeiden.",
    "Gefördert werden Forschungs- und Entwicklungsprojekte, die neue Produkte oder Verfahren hervorbringen.",
    "Die Mitarbeiter*innen des Netzwerks beraten Gründerinnen und Gründer bei der Antragstellung.",
    "Im Projekt arbeiten zwölf Partner aus Wissenschaft und Wirtschaft an Wasserstoffspeichern.",
    "Die Preisverleihung fand im Rahmen der Konferenz statt; ausgezeichnet wurden drei Start-ups.",
    "Anträge sind über das Online-Portal einzureichen; die Bewertung erfolgt durch ein Gutachtergremium.",
)


class OpenVinoEncoder(OnnxEncoder):
    """:class:`.onnx_encoder.OnnxEncoder`, the model compiled by OpenVINO for the CPU
    (``backend_name`` "openvino" or "openvino-int8")."""

    def _open(self, path: Path, threads: int) -> list[str]:
        import openvino as ov

        config = {
            "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY",
            # the compiled model kept (keyed by the model's hash): each start 1.4 s -> 0.1 s for e5-small
            "CACHE_DIR": str(path.parent / COMPILED_DIR),
        }
        compiled = ov.Core().compile_model(str(path), "CPU", config)
        self._request = compiled.create_infer_request()
        precision = compiled.get_property("INFERENCE_PRECISION_HINT")  # bf16 where the CPU has it
        self.precision = str(precision.to_string() if hasattr(precision, "to_string") else precision)
        return [i.get_any_name() for i in compiled.inputs]

    def _hidden(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        with self._lock:
            self._request.infer(feeds)
            return np.array(self._request.get_output_tensor(0).data)


def import_nncf() -> Any:
    """NNCF with its usage statistics off. Unless a user has declined them with OpenVINO's
    ``opt_in_out`` tool, NNCF sends usage events to Google Analytics, without asking; the
    assistant sends nothing anywhere. ``NNCF_CI`` is the switch NNCF reads, once, at import, to
    replace them by a stub (nncf/telemetry/wrapper.py)."""
    os.environ.setdefault("NNCF_CI", "1")
    import nncf

    return nncf


def ensure_int8(model: Any, fp32: Path) -> Path:
    """The NNCF int8 model (OpenVINO IR) made from the ONNX file ``fp32``, quantised first if it is
    missing; :func:`.onnx_encoder.ensure_onnx` removes it when the weights change."""
    target = fp32.parent / INT8_DIR / "model.xml"
    if target.exists():
        return target
    import openvino as ov

    nncf = import_nncf()

    features = model.preprocess(list(CALIBRATION))
    names = [n for n in INPUT_NAMES if n in features]  # those of the export
    samples = [{n: features[n][i : i + 1].numpy().astype(np.int64) for n in names} for i in range(len(CALIBRATION))]
    quantized = nncf.quantize(
        ov.Core().read_model(str(fp32)),
        nncf.Dataset(samples),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(samples),
    )
    partial = target.parent.with_name(f"{INT8_DIR}.{os.getpid()}.partial")  # two processes may quantise at once
    shutil.rmtree(partial, ignore_errors=True)
    ov.save_model(quantized, str(partial / "model.xml"))
    shutil.rmtree(target.parent, ignore_errors=True)
    partial.rename(target.parent)
    return target
