"""What the embedding-backend tests share (test_embedder_onnx.py, test_embedder_openvino.py): the
texts, the cosine, loading a model with a backend, the checks against torch (the model's private
copy is conftest's ``model_copy``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.index.embedder import load_embedder

TEXTS = [
    "Das Förderprogramm unterstützt kleine und mittlere Unternehmen.",
    "Die Frist für den Verwendungsnachweis endet am 30. September.",
    "Zur Cluster-Veranstaltung über Wasserstoff laden wir alle Mitglieder herzlich ein.",
    "Ansprechpartnerin ist Frau Müller.",
    "unbekannte wörter ergeben [UNK]",
]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


def load(path: Path, backend: str):
    return load_embedder(str(path), "query: ", "passage: ", batch_size=2, backend=backend)


def e5_cosines(folder: Path, backends: tuple[str, str]) -> tuple[float, float]:
    """The smallest cosine to torch of each of two backends on the e5-small architecture (random
    weights, a small vocabulary), printed."""
    from assistant.bench.e5_arch import build_e5_small_architecture, passages

    model = build_e5_small_architecture(folder / "e5", vocab_size=3000)
    texts = passages(6, 64, vocab_size=3000)
    expected = load(model, "torch").encode_passages(texts)
    first, second = (float(cosines(expected, load(model, b).encode_passages(texts)).min()) for b in backends)
    print(f"e5-small architecture: cosine {backends[0]} {first:.6f}, {backends[1]} {second:.6f}")
    return first, second


def assert_agrees_with_torch(model: Path, backend: str) -> None:
    """Queries and passages: the backend's vectors are torch's (cosine >= 0.99), unit length,
    float32; no texts, no vectors."""
    torch_embedder, other = load(model, "torch"), load(model, backend)
    assert (torch_embedder.backend, other.backend) == ("torch", backend)
    for encode in ("encode_passages", "encode_queries"):
        expected = getattr(torch_embedder, encode)(TEXTS)
        got = getattr(other, encode)(TEXTS)
        assert got.shape == expected.shape and got.dtype == np.float32
        assert cosines(expected, got).min() >= 0.99
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert other.encode_passages([]).shape == (0, other.dimension)
