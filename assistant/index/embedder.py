"""Dense embeddings with sentence-transformers, and finding the model without waiting on the hub.

The model is looked up in this order: a local folder, the Hugging Face cache, the hub itself.
Before the hub is asked, one TCP connection with a short timeout tells whether it is reachable
at all, so an offline machine fails over to lexical-only search in about a second instead of
sitting through the hub client's retries.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import numpy as np

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


# Hub failures are remembered for a while, so that opening the assistant repeatedly does not
# probe an unreachable hub each time; keyed by model name and the hub settings of the moment.
FAILURE_TTL = 300.0
_failures: dict[tuple[str, str, str], tuple[str, float]] = {}


def _dimension_of(model: Any) -> int:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dimension = getter()
    if dimension is None:  # some models do not declare it; measure it
        dimension = np.asarray(model.encode(["x"], convert_to_numpy=True)).shape[-1]
    return int(dimension)


def _is_local(name: str) -> bool:
    path = Path(name).expanduser()
    return path.is_dir() or path.is_absolute() or name.startswith((".", "~"))


def _failure_key(name: str) -> tuple[str, str, str]:
    return (name, os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("HF_ENDPOINT", ""))


def resolve_model(name: str, hub_timeout: float) -> tuple[str, bool]:
    """Where to load ``name`` from: ``(path_or_name, local_only)``.

    Raises :class:`EmbedderUnavailableError` when the model is neither on disk nor reachable.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path), True
    if path.is_absolute() or name.startswith((".", "~")):
        raise EmbedderUnavailableError(_advice(name, f"der Ordner {path} existiert nicht"))
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return snapshot_download(name, local_files_only=True), True
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        pass
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise EmbedderUnavailableError(_advice(name, "nicht im Cache und HF_HUB_OFFLINE ist gesetzt"))
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    if not _reachable(endpoint, hub_timeout, name):
        raise EmbedderUnavailableError(
            _advice(name, f"nicht im Cache und {urlparse(endpoint).hostname} ist nicht erreichbar")
        )
    return name, False


def load_embedder(
    name: str,
    query_prefix: str,
    passage_prefix: str,
    batch_size: int = 32,
    hub_timeout: float = 1.0,
    progress: bool = False,
) -> Embedder:
    """Load the model or raise :class:`EmbedderUnavailableError` quickly (hub failures are
    remembered for :data:`FAILURE_TTL` seconds; local folders are looked at every time)."""
    key = _failure_key(name)
    remembered = _failures.get(key)
    if remembered is not None:
        if time.monotonic() - remembered[1] < FAILURE_TTL:
            raise EmbedderUnavailableError(remembered[0])
        del _failures[key]
    try:
        source, local_only = resolve_model(name, hub_timeout)
        from sentence_transformers import SentenceTransformer

        try:
            model = SentenceTransformer(
                source, local_files_only=local_only, device="cpu" if not _has_accelerator() else None
            )
        except Exception as exc:  # the hub client and transformers raise many kinds of errors
            raise EmbedderUnavailableError(
                _advice(name, f"Laden fehlgeschlagen ({type(exc).__name__}: {exc})")
            ) from None
    except EmbedderUnavailableError as exc:
        if not _is_local(name):
            _failures[key] = (str(exc), time.monotonic())
        raise
    return Embedder(model, name, query_prefix, passage_prefix, batch_size, progress)


def _has_accelerator() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _reachable(url: str, timeout: float, model: str = "") -> bool:
    """Whether the hub answers an HTTP request about ``model`` within ``timeout`` seconds.

    An HTTP answer, not only a TCP connection, is required: some networks accept every
    connection and then never answer, which would leave the hub client in its retries."""
    result: list[bool] = []

    def probe() -> None:
        import httpx

        target = f"{url.rstrip('/')}/api/models/{model}" if model else url
        try:
            response = httpx.head(target, timeout=timeout, follow_redirects=True)
            result.append(response.status_code < 500)
        except (httpx.HTTPError, OSError, ValueError):
            result.append(False)

    # Name resolution has no timeout of its own; run the probe in a thread and stop waiting.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.2)
    return bool(result and result[0])


def _advice(name: str, reason: str) -> str:
    return (
        f"Einbettungsmodell {name!r} nicht verfügbar: {reason}. Suche und Index laufen nur "
        "lexikalisch (BM25). Abhilfe: einmal mit Internetzugang ausführen (das Modell wird dann "
        "zwischengespeichert) oder einen lokalen Modellordner angeben (--model /pfad/zum/modell "
        "oder ASSISTANT_MODEL=/pfad/zum/modell); ASSISTANT_MODEL=none schaltet die dichte Suche ab."
    )
