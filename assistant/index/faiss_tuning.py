"""nprobe tuned on the data: the smallest nprobe whose recall@10 against exact search reaches
the target, measured at build time (see :mod:`.faiss_index` for the kinds and the figures)."""

from __future__ import annotations

import math
import time
from typing import TypedDict

import numpy as np

from .faiss_index import FaissIndex, ReadFn, checked_rows, kind_of, read_rows, search


class Tuning(TypedDict):
    """What :func:`tune_nprobe` measured."""

    nprobe: int  # 0 for an exact index
    recall_at_10: float  # recall@k at that nprobe
    exact_recall_checked_queries: int
    search_ms_p50: float
    curve: dict[int, float]  # recall per nprobe tried


def tune_nprobe(
    index: FaissIndex,
    read: ReadFn,
    rows: int,
    k: int = 10,
    target: float = 0.95,
    queries: int = 200,
    seed: int = 0,
    noise: float = 0.3,
    batch: int = 65536,
    query_vectors: np.ndarray | None = None,
) -> Tuning:
    """Smallest ``nprobe`` with recall@k >= ``target``; sets ``index.nprobe`` to it.

    Queries: ``queries`` stored vectors drawn at random (``seed``) plus Gaussian noise of norm about
    ``noise`` (0.3: cosine ~0.96 to the source row), re-normalised, so a query is not simply its own
    nearest neighbour. This is a proxy: real questions usually lie farther from the passages, and
    recall on them may be lower; pass embedded real queries as ``query_vectors`` where available.
    Ground truth: exact top-k by brute force over all rows, ``read`` batch by batch
    (``faiss.knn``), so memory stays at one batch. Recall@k = share of the exact top-k ids found
    (ties between identical vectors can count as misses). nprobe is tried as 1, 2, 4, ...,
    ``nlist``; when the target is never reached, the smallest nprobe within 0.005 of the best
    recall is taken (SQ8 can level off below the target).

    Returns ``{"nprobe", "recall_at_10", "exact_recall_checked_queries", "search_ms_p50",
    "curve"}`` (``recall_at_10`` is recall@k; ``curve`` maps each tried nprobe to its recall;
    ``search_ms_p50`` is the median single-query latency at the chosen nprobe). A flat index
    is exact: nprobe 0, recall 1.0, nothing checked.
    """
    import faiss

    kind = kind_of(index)
    if rows != index.ntotal:
        raise ValueError(f"Index hat {index.ntotal} Vektoren, tune_nprobe erwartet {rows}")
    rng = np.random.default_rng(seed)
    if query_vectors is None:
        picked = np.sort(rng.choice(rows, size=min(queries, rows), replace=False)) if rows else np.zeros(0, int)
        base = (
            read_rows(read, rows, index.d, picked, batch, None) if picked.size else np.zeros((0, index.d), np.float32)
        )
        q = base + rng.standard_normal(base.shape).astype(np.float32) * np.float32(noise / math.sqrt(index.d))
    else:
        q = np.array(query_vectors, dtype=np.float32, ndmin=2)
    norms = np.linalg.norm(q, axis=1, keepdims=True)
    q = np.ascontiguousarray(q / np.where(norms > 0, norms, 1), dtype=np.float32)
    if kind == "flat":
        return {
            "nprobe": 0,
            "recall_at_10": 1.0,
            "exact_recall_checked_queries": 0,
            "search_ms_p50": _latency_ms(index, q[:50], k, None),
            "curve": {},
        }
    k_eff = min(k, rows)
    if k_eff < 1 or q.shape[0] == 0:
        raise ValueError("tune_nprobe braucht mindestens eine Zeile und eine Anfrage")
    truth = exact_knn(q, read, rows, k_eff, batch)
    ivf = faiss.extract_index_ivf(index)
    curve: dict[int, float] = {}
    nprobe = 1
    while True:
        _, found = search(index, q, k_eff, nprobe=nprobe)
        curve[nprobe] = recall(found, truth)
        if curve[nprobe] >= target or nprobe >= ivf.nlist:
            break
        nprobe = min(nprobe * 2, ivf.nlist)
    reached = [p for p, r in curve.items() if r >= target]
    if reached:
        chosen = min(reached)
    else:
        best = max(curve.values())
        chosen = min(p for p, r in curve.items() if r >= best - 0.005)
    ivf.nprobe = chosen
    return {
        "nprobe": chosen,
        "recall_at_10": curve[chosen],
        "exact_recall_checked_queries": int(q.shape[0]),
        "search_ms_p50": _latency_ms(index, q[:100], k_eff, chosen),
        "curve": curve,
    }


def exact_knn(queries: np.ndarray, read: ReadFn, rows: int, k: int, batch: int = 65536) -> np.ndarray:
    """Ids of the exact top-``k`` rows by inner product, brute force over ``read`` batch by batch."""
    import faiss

    q = np.ascontiguousarray(queries, dtype=np.float32)
    best_s = np.full((q.shape[0], k), -np.inf, dtype=np.float32)
    best_i = np.full((q.shape[0], k), -1, dtype=np.int64)
    for start in range(0, rows, batch):
        end = min(start + batch, rows)
        x = checked_rows(read(start, end), start, end, q.shape[1])
        s, i = faiss.knn(q, x, min(k, end - start), metric=faiss.METRIC_INNER_PRODUCT)
        all_s = np.hstack([best_s, s])
        all_i = np.hstack([best_i, i + start])
        order = np.argsort(-all_s, axis=1, kind="stable")[:, :k]
        best_s = np.take_along_axis(all_s, order, axis=1)
        best_i = np.take_along_axis(all_i, order, axis=1)
    return best_i


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each row of ``truth`` (ids, -1 ignored) that appears in ``found``."""
    hits = (found[:, :, None] == truth[:, None, :]) & (truth[:, None, :] >= 0)
    wanted = np.maximum((truth >= 0).sum(axis=1), 1)
    return float(np.mean(hits.any(axis=1).sum(axis=1) / wanted))


def _latency_ms(index: FaissIndex, q: np.ndarray, k: int, nprobe: int | None) -> float:
    if q.shape[0] == 0:
        return 0.0
    search(index, q[:1], k, nprobe=nprobe)  # warm-up
    times = []
    for row in q:
        begin = time.perf_counter()
        search(index, row[None, :], k, nprobe=nprobe)
        times.append((time.perf_counter() - begin) * 1000)
    return float(np.median(times))
