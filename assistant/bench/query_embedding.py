"""Query embedding latency of the default model's architecture, per embedding backend.

`assistant bench` searches with synthetic vectors (no model can be downloaded here), so the
time a real model spends embedding a question is measured apart: multilingual-e5-small's
architecture with random weights (:mod:`assistant.bench.e5_arch`, a generated vocabulary of
XLM-R's size) embeds each question alone, as a chat turn does, once per backend.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..index.embedder import load_embedder
from .e5_arch import build_e5_small_architecture

BACKENDS = ("torch", "onnx", "onnx-int8", "openvino", "openvino-int8")


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p95 and p99 of ``values``, rounded to 0.01."""
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50": round(pick(0.50), 2), "p95": round(pick(0.95), 2), "p99": round(pick(0.99), 2)}


def query_embedding_ms(
    questions: Sequence[str],
    backends: Sequence[str] = BACKENDS,
    threads: int = 2,
    log: Callable[[str], None] = lambda step: None,
) -> dict[str, Any]:
    """``{backend: {"p50", "p95", "p99"}}`` in milliseconds for embedding each of ``questions``
    alone with ``threads`` threads; a backend that fell back to torch is reported as such."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    result: dict[str, Any] = {"model": "e5-small architecture, random weights", "threads": threads}
    try:
        with tempfile.TemporaryDirectory(prefix="assistant-bench-e5-") as scratch:
            log("e5-small-Architektur bauen (Abfrage-Einbettung)")
            model = build_e5_small_architecture(Path(scratch) / "model")
            for backend in backends:
                log(f"Abfrage-Einbettung messen: {backend}")
                embedder = load_embedder(str(model), "query: ", "passage: ", backend=backend)
                if embedder.backend != backend:
                    result[backend] = {"skipped": f"läuft als {embedder.backend}"}
                    continue
                embedder.encode_queries(list(questions[:3]))  # warm-up
                times = []
                for question in questions:
                    started = time.perf_counter()
                    embedder.encode_queries([question])
                    times.append((time.perf_counter() - started) * 1000)
                result[backend] = percentiles(times)
    finally:
        torch.set_num_threads(previous)
    return result
