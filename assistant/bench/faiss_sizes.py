"""FAISS by size, measured: exact search latency by row count, IVF build, tuned nprobe, recall
and filtered recall on clustered synthetic vectors. Reproduces the tables in
:mod:`assistant.index.faiss_index`::

    python -m assistant.bench.faiss_sizes flat-latency [--rows 100000 200000] [--threads 1]
    python -m assistant.bench.faiss_sizes ivf [--rows 300000] [--spread 1.0] [--kinds ivf ivf_sq8]
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..index.faiss_index import KINDS, DensePlan, build, nlist_for, plan_of, search
from ..index.faiss_tuning import exact_knn, recall, tune_nprobe


def clustered_vectors(
    rows: int,
    dim: int,
    centres: int = 1000,
    spread: float = 1.0,
    seed: int = 0,
    rng: np.random.Generator | None = None,
    centre_vectors: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic embeddings: ``centres`` random unit centres with Zipf-like sizes, each row a centre
    plus Gaussian noise of norm about ``spread``, normalised. Returns ``(vectors, centres)``."""
    rng = rng or np.random.default_rng(seed)
    if centre_vectors is None:
        centre_vectors = rng.standard_normal((centres, dim), dtype=np.float32)
        centre_vectors /= np.linalg.norm(centre_vectors, axis=1, keepdims=True)
    weights = 1.0 / np.sqrt(np.arange(1, centre_vectors.shape[0] + 1))
    out = np.empty((rows, dim), dtype=np.float32)
    for start in range(0, rows, 65536):
        end = min(start + 65536, rows)
        which = rng.choice(centre_vectors.shape[0], size=end - start, p=weights / weights.sum())
        block = rng.standard_normal((end - start, dim), dtype=np.float32)
        block *= np.float32(spread / math.sqrt(dim))
        block += centre_vectors[which]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:end] = block
    return out, centre_vectors


def _bench_flat(rows_list: list[int], dim: int, queries: int, threads: int | None) -> None:
    import faiss

    if threads:
        faiss.omp_set_num_threads(threads)  # set once: switching back and forth distorts the timings
    rng = np.random.default_rng(0)
    q = rng.standard_normal((queries, dim), dtype=np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    print(
        f"IndexFlatIP, {dim} dims, {faiss.omp_get_max_threads()} OpenMP thread(s), "
        f"median/p95 of {queries} single-query searches, k=10"
    )
    for rows in rows_list:
        index = faiss.IndexFlatIP(dim)
        for start in range(0, rows, 65536):
            x = rng.standard_normal((min(65536, rows - start), dim), dtype=np.float32)
            index.add(x / np.linalg.norm(x, axis=1, keepdims=True))
        index.search(q[:3], 10)
        times = []
        for row in q:
            begin = time.perf_counter()
            index.search(row[None, :], 10)
            times.append((time.perf_counter() - begin) * 1000)
        print(f"{rows:>9,} rows: p50 {np.median(times):6.2f} ms  p95 {np.percentile(times, 95):6.2f} ms", flush=True)
        del index


def _bench_ivf(rows: int, dim: int, centres: int, spread: float, kinds: list[str], target: float) -> None:
    rng = np.random.default_rng(0)
    begin = time.perf_counter()
    x, centre_vectors = clustered_vectors(rows, dim, centres, spread, rng=rng)
    held_out, _ = clustered_vectors(200, dim, spread=spread, rng=rng, centre_vectors=centre_vectors)
    print(
        f"{rows:,} clustered rows x {dim} ({centres} centres, spread {spread}) generated in "
        f"{time.perf_counter() - begin:.1f} s",
        flush=True,
    )

    def read(a: int, b: int) -> np.ndarray:
        return x[a:b]

    truth_held = exact_knn(held_out, read, rows, 10)
    for kind in kinds:
        plan = DensePlan(kind, nlist_for(rows)) if kind != "flat" else DensePlan("flat")
        begin = time.perf_counter()
        index = build(plan, dim, rows, read)
        built = time.perf_counter() - begin
        begin = time.perf_counter()
        tuned = tune_nprobe(index, read, rows, target=target)
        tune_s = time.perf_counter() - begin
        _, found = search(index, held_out, 10)
        size = len(_serialized(index))
        print(
            f"{plan_of(index).describe()}: build {built:.1f} s, tune {tune_s:.1f} s, "
            f"recall@10 {tuned['recall_at_10']:.3f} ({tuned['exact_recall_checked_queries']} noisy stored "
            f"vectors), held-out queries {recall(found, truth_held):.3f}, single query p50 "
            f"{tuned['search_ms_p50']:.2f} ms, size {size / 2**20:.0f} MiB",
            flush=True,
        )
        print(f"  curve {{nprobe: recall}}: { {p: round(r, 3) for p, r in tuned['curve'].items()} }", flush=True)
        for share in (0.1, 0.01):
            mask = rng.random(rows) < share
            allowed_rows = np.flatnonzero(mask)
            sub = x[allowed_rows]
            s_exact = held_out[:50] @ sub.T
            top = np.argsort(-s_exact, axis=1)[:, :10]
            truth = allowed_rows[top]
            line = f"  filter {share:.0%} of rows:"
            for scaled in (False, True):
                begin = time.perf_counter()
                _, found = search(index, held_out[:50], 10, mask, scale_nprobe=scaled)
                ms = (time.perf_counter() - begin) * 1000 / 50
                ok = bool(mask[found[found >= 0]].all())
                line += (
                    f"  {'scaled' if scaled else 'fixed'} nprobe recall@10 {recall(found, truth):.3f} "
                    f"({ms:.2f} ms/query, only allowed ids: {ok})"
                )
            print(line, flush=True)
        del index


def _serialized(index: Any) -> np.ndarray:
    import faiss

    return faiss.serialize_index(index)


def main(argv: list[str] | None = None) -> None:
    """Reproduce the figures in this module's comments."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m assistant.bench.faiss_sizes", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    flat = sub.add_parser("flat-latency", help="exact search latency by size (random vectors)")
    flat.add_argument("--rows", type=int, nargs="+", default=[100_000, 200_000, 400_000])
    flat.add_argument("--dim", type=int, default=384)
    flat.add_argument("--queries", type=int, default=200)
    flat.add_argument("--threads", type=int, default=None, help="OpenMP threads (default: faiss's, = cores)")
    ivf = sub.add_parser("ivf", help="IVF build, tuned nprobe, recall, latency (clustered vectors)")
    ivf.add_argument("--rows", type=int, default=300_000)
    ivf.add_argument("--dim", type=int, default=384)
    ivf.add_argument("--centres", type=int, default=1000)
    ivf.add_argument("--spread", type=float, default=1.0)
    ivf.add_argument("--kinds", nargs="+", default=["ivf", "ivf_sq8"], choices=KINDS)
    ivf.add_argument("--target", type=float, default=0.95)
    args = parser.parse_args(argv)
    if args.command == "flat-latency":
        _bench_flat(args.rows, args.dim, args.queries, args.threads)
    else:
        _bench_ivf(args.rows, args.dim, args.centres, args.spread, args.kinds, args.target)


if __name__ == "__main__":
    main()
