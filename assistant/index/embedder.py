"""Dense embeddings with sentence-transformers.

The model is found by :mod:`assistant.hub` (a local folder, the Hugging Face cache, the hub
after a one-second probe), so an offline machine fails over to lexical-only search in about a
second instead of sitting through the hub client's retries. ``backend`` ("auto", "torch", "onnx",
"onnx-int8", "openvino", "openvino-int8") chooses what runs the model
(:mod:`assistant.index.onnx_encoder`, :mod:`assistant.index.openvino_encoder`); when the runtime
is missing or the export fails, the torch model is used with one warning. "auto"
(:func:`resolve_backend`) takes the fastest installed runtime whose vectors equal torch's.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from .. import hub
from ..errors import EmbedderUnavailableError

log = logging.getLogger(__name__)


class Encoder(Protocol):
    """What indexing and search need of an embedder: :class:`Embedder`, or the benchmark's
    synthetic one."""

    name: str
    dimension: int
    query_prefix: str
    passage_prefix: str

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...


class Embedder:
    """Encodes queries and passages into L2-normalized float32 vectors."""

    def __init__(
        self,
        model: Any,
        name: str,
        query_prefix: str,
        passage_prefix: str,
        batch_size: int = 32,
        progress: bool = False,
    ) -> None:
        self._model = model
        self.name = name
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size
        self.progress = progress
        self._lock = threading.Lock()
        self.dimension = _dimension_of(model)
        self.backend = getattr(model, "backend_name", "torch")

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts], progress=False)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.passage_prefix + t for t in texts], progress=self.progress)

    def _encode(self, texts: list[str], progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:  # torch modules are not guaranteed to be safe across threads
            vectors = self._model.encode(
                texts,
                batch_size=self.batch_size,
                show_progress_bar=progress and len(texts) > self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _dimension_of(model: Any) -> int:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dimension = getter()
    if dimension is None:  # some models do not declare it; measure it
        dimension = np.asarray(model.encode(["x"], convert_to_numpy=True)).shape[-1]
    return int(dimension)


def resolve_model(name: str, hub_timeout: float) -> tuple[str, bool]:
    """Where to load ``name`` from: ``(path_or_name, local_only)`` (see :func:`assistant.hub.resolve_model`).

    Raises :class:`EmbedderUnavailableError` when the model is neither on disk nor reachable.
    """
    return hub.resolve_model(name, hub_timeout, EmbedderUnavailableError, _advice)


# What "auto" tries, fastest first, with the packages each needs. Passages/s on 2 cores, in one
# run (README "Growing", benchmarks/embedding_throughput.py): openvino 49.9 (bfloat16 where the
# CPU has it), onnx 20.4, torch 14.1; cosine to torch 1.0000 for both. The int8 backends (2.4x and
# 5.2x) are left out: their agreement was measured on random weights only (>= 0.9895).
AUTO_ORDER: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("openvino", ("openvino", "onnx")),
    ("onnx", ("onnxruntime", "onnx")),
)


def resolve_backend(backend: str) -> str:
    """``backend``, or for "auto" the first of :data:`AUTO_ORDER` whose packages are installed
    (looked up without importing them), else "torch"."""
    if backend != "auto":
        return backend
    for name, packages in AUTO_ORDER:
        if all(_installed(p) for p in packages):
            return name
    return "torch"


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # a broken installation, or a module without a spec
        return False


def load_embedder(
    name: str,
    query_prefix: str,
    passage_prefix: str,
    batch_size: int = 32,
    hub_timeout: float = 1.0,
    progress: bool = False,
    backend: str = "auto",
) -> Embedder:
    """Load the model or raise :class:`EmbedderUnavailableError` quickly (failures are remembered
    for :data:`assistant.hub.FAILURE_TTL` seconds; local folders are looked at every time).

    With ``backend`` "onnx" or "onnx-int8" the model runs in ONNX Runtime, with "openvino" or
    "openvino-int8" in OpenVINO (exported once, then read from its cache); should that fail, the
    torch model serves, with one warning."""

    def load() -> Embedder:
        source, local_only = resolve_model(name, hub_timeout)
        from sentence_transformers import SentenceTransformer

        try:
            model = SentenceTransformer(
                source, local_files_only=local_only, device=None if hub.cuda_available() else "cpu"
            )
        except Exception as exc:  # the hub client and transformers raise many kinds of errors
            raise EmbedderUnavailableError(
                _advice(name, f"Laden fehlgeschlagen ({type(exc).__name__}: {exc})")
            ) from None
        # on a GPU torch is far faster than any CPU runtime: "auto" keeps it there
        chosen = "torch" if backend == "auto" and model.device.type != "cpu" else resolve_backend(backend)
        encoder = model if chosen == "torch" else onnx_or_torch(model, source, name, chosen)
        return Embedder(encoder, name, query_prefix, passage_prefix, batch_size, progress)

    return hub.load_remembered("embedder", name, EmbedderUnavailableError, load)


def onnx_or_torch(model: Any, source: str, name: str, backend: str) -> Any:
    """The ONNX Runtime or OpenVINO encoder for ``model``, or ``model`` itself (torch) with a
    warning when the runtime is missing or the export, the quantisation or the session fails."""
    openvino, openvino_int8 = backend.startswith("openvino"), backend == "openvino-int8"
    try:
        # the runtime's packages checked first: a missing one falls back at once, not after the export
        import onnx  # noqa: F401

        if openvino:
            import openvino as _ov  # noqa: F401

            if openvino_int8:
                from .openvino_encoder import import_nncf

                import_nncf()
        else:
            import onnxruntime  # noqa: F401

        from .onnx_encoder import OnnxEncoder, cache_dir_for, ensure_onnx

        path = ensure_onnx(model, cache_dir_for(source, name), quantized=backend == "onnx-int8")
        if openvino:
            from .openvino_encoder import OpenVinoEncoder, ensure_int8

            return OpenVinoEncoder(model, ensure_int8(model, path) if openvino_int8 else path, backend_name=backend)
        return OnnxEncoder(model, path)
    except Exception as exc:  # ImportError, export and runtime errors: torch still works
        packages = "'openvino' 'nncf' 'onnx' (Extra [openvino])" if openvino else "'onnxruntime' 'onnx' (Extra [onnx])"
        log.warning(
            "Einbettungs-Backend %r nicht nutzbar (%s: %s); das Modell läuft mit torch. Abhilfe: "
            "pip install %s oder ASSISTANT_EMBED_BACKEND=torch.",
            backend,
            type(exc).__name__,
            str(exc).splitlines()[0] if str(exc) else "",
            packages,
        )
        return model


def _advice(name: str, reason: str) -> str:
    return (
        f"Einbettungsmodell {name!r} nicht verfügbar: {reason}. Suche und Index laufen nur "
        "lexikalisch (BM25). Abhilfe: einmal mit Internetzugang ausführen (das Modell wird dann "
        "zwischengespeichert) oder einen lokalen Modellordner angeben (--model /pfad/zum/modell "
        "oder ASSISTANT_MODEL=/pfad/zum/modell); ASSISTANT_MODEL=none schaltet die dichte Suche ab."
    )
