"""Vector search over a generation's live rows: the FAISS index of the base rows (exact or
approximate, chosen by size in :mod:`assistant.index.faiss_index`) plus an exact index over the
rows added since the last full build or merge."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IndexClosedError
from ..types import Progress
from . import faiss_index, faiss_tuning
from .blobs import VectorFile
from .format import DENSE_BASE, VECTORS, FaissInfo, Manifest, Tables


class DenseIndex:
    """Searches the base index and the delta index and merges their top rows."""

    def __init__(
        self, base: Any | None, base_rows: int, delta: Any | None, live: np.ndarray, dim: int, nprobe: int | None = None
    ) -> None:
        self.base = base
        self.base_rows = base_rows
        self.delta = delta
        self.live = live
        self.d = dim
        self.nprobe = nprobe
        self.ntotal = int(live.shape[0])
        self._all_live = bool(live[:base_rows].all())
        self._closed = False

    def close(self) -> None:
        """Drop the FAISS indexes (the base one is memory-mapped: the map goes with it); searching
        afterwards raises :class:`IndexClosedError`."""
        self.base = self.delta = None
        self._closed = True

    def search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``k`` best ``(row, score)`` among the live rows (and the ``allowed`` ones)."""
        import faiss

        if self._closed:
            raise IndexClosedError("Der Vektorindex wurde geschlossen (durch einen neueren ersetzt)")

        # One question is one thread: FAISS's OpenMP threads only wait on each other when
        # several questions (or a build) share the 2 cores (measured: 40k rows, 1 thread 5 ms,
        # 2 threads 22 ms on a busy machine).
        faiss.omp_set_num_threads(1)

        found: list[tuple[int, float]] = []
        base_allowed = None if allowed is None else allowed[: self.base_rows]
        if base_allowed is None and not self._all_live:
            base_allowed = self.live[: self.base_rows]
        if self.base is not None and self.base_rows:
            scores, ids = faiss_index.search(self.base, vector, min(k, self.base_rows), base_allowed, self.nprobe)
            found += [(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]
        rest = self.ntotal - self.base_rows
        if self.delta is not None and rest:
            mask = self.live[self.base_rows :]
            if allowed is not None:
                mask = allowed[self.base_rows :] & mask
            scores, ids = faiss_index.search(self.delta, vector, min(k, rest), mask, None)
            found += [(int(i) + self.base_rows, float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]
        found.sort(key=lambda p: (-p[1], p[0]))
        return found[:k]

    def reconstruct(self, row: int) -> np.ndarray:
        """The stored vector of a row."""
        if self._closed:
            raise IndexClosedError("Der Vektorindex wurde geschlossen (durch einen neueren ersetzt)")
        if row >= self.base_rows:
            assert self.delta is not None
            return self.delta.reconstruct(row - self.base_rows)
        import faiss

        assert self.base is not None
        if self.base.__class__.__name__.startswith("IndexIVF"):
            faiss.extract_index_ivf(self.base).make_direct_map()
        return self.base.reconstruct(row)


def load_dense(generation: Path, manifest: Manifest, tables: Tables) -> DenseIndex:
    import faiss

    assert manifest.dimension is not None
    dim = manifest.dimension
    base_rows = manifest.dense_base_rows
    # Memory-mapped: an IVF search touches only the lists it probes; several processes share the pages.
    base = faiss_index.load(generation / DENSE_BASE, mmap=True) if base_rows else None
    if base is not None and (base.ntotal != base_rows or base.d != dim):
        raise ValueError(f"{DENSE_BASE} hat {base.ntotal} Vektoren der Dimension {base.d}, erwartet {base_rows}/{dim}")
    delta = None
    if tables.rows > base_rows:
        delta = faiss.IndexFlatIP(dim)
        delta.add(VectorFile(generation / VECTORS, dim).read(base_rows, tables.rows))
    nprobe = manifest.faiss.nprobe if manifest.faiss else None
    return DenseIndex(base, base_rows, delta, tables.live, dim, nprobe or None)


def build_base(vectors: VectorFile, rows: int, dim: int, progress: Progress | None) -> tuple[Any, FaissInfo]:
    """The FAISS index of all rows, of the kind their number calls for, with its measured recall."""
    import faiss

    faiss.omp_set_num_threads(os.cpu_count() or 1)  # searches set 1 (see DenseIndex.search)
    plan = faiss_index.plan_for(rows, dim)
    index = faiss_index.build(plan, dim, rows, vectors.read, progress=progress)
    if plan.kind == "flat":
        return index, FaissInfo(plan.kind, plan.nlist, plan.describe())
    tuning = faiss_tuning.tune_nprobe(index, vectors.read, rows)
    return index, FaissInfo(
        plan.kind,
        plan.nlist,
        f"{plan.describe()} (nprobe {tuning['nprobe']})",
        tuning["nprobe"],
        tuning["recall_at_10"],
    )
