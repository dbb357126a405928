"""The dense (vector) index, chosen by size: exact while that is fast enough, IVF beyond.

Vectors are float32, L2-normalised, compared by inner product (= cosine). Row numbers are the
vector ids: row ``i`` is added as the ``i``-th vector, so faiss returns row numbers directly (no
``IndexIDMap``).

* up to :data:`EXACT_MAX_ROWS` rows: ``IndexFlatIP``, exact;
* more rows: ``IVF<nlist>,Flat`` (inverted file over k-means cells, exact scores inside the
  probed cells), ``nprobe`` tuned on the data by :func:`~.faiss_tuning.tune_nprobe`;
* when the raw vectors (``rows * dim * 4`` bytes) exceed a memory budget: ``IVF<nlist>,SQ8``
  (8-bit scalar quantiser, a quarter of the memory, slightly lower recall).

Measured on the 2-core development machine (AMD EPYC VM, faiss-cpu 1.15.1, 384 dimensions,
``python -m assistant.bench.faiss_sizes --help`` for the commands); exact search: see EXACT_MAX_ROWS.
IVF on clustered synthetic vectors (1000 Gaussian centres, noise norm 1.5, normalised;
``python -m assistant.bench.faiss_sizes ivf --rows 1000000 --spread 1.5``), target recall@10 0.95:

====================  =======  ======  ===========================  =========  =====  ========
index (1M x 384)      build    nprobe  recall@10 (tune / held-out)  1 query    size   1% filter
====================  =======  ======  ===========================  =========  =====  ========
IVF4096,Flat          74 s     8       0.968 / 0.958                0.62 ms    1.4 G  0.98
IVF4096,SQ8           74 s     8       0.953 / 0.941                0.39 ms    380 M  0.98
====================  =======  ======  ===========================  =========  =====  ========

(300k rows: IVF2048,Flat, build 27-33 s, nprobe 4-8, 0.2-0.3 ms per query.) Synthetic clusters
are easier than real embeddings; the tuned nprobe on a real corpus is likely higher. "1% filter"
is recall@10 against brute force over a random 1% of the rows, with nprobe scaled by the
filter share (without scaling: 0.75 / 0.81).

``import faiss`` stays inside the functions: a lexical-only process never pays for it.

faiss API traps (faiss 1.15.1), handled here:

* ``IDSelectorBitmap`` reads bit ``i % 8`` of byte ``i // 8`` (``np.packbits(mask,
  bitorder="little")``; numpy's default big order selects wrong rows) and its ``n`` is the
  *byte* count; the one-argument form ``IDSelectorBitmap(uint8_array)`` passes the right ``n``
  and keeps the array alive.
* ``SearchParametersIVF()`` has its own ``nprobe`` (default 1) that *replaces* ``index.nprobe``;
  a plain ``SearchParameters`` passed to an IVF index is an error.
* ``IO_FLAG_MMAP`` maps only IVF lists, as ``OnDiskInvertedLists`` that serialise as a reference
  to the file (a flat index is silently read into memory); ``IO_FLAG_MMAP_IFC`` maps flat codes
  and IVF lists alike and keeps ``ArrayInvertedLists``; both flags together fail on IVF.
* An index read with ``IO_FLAG_MMAP_IFC`` is read-only, and so is its ``faiss.clone_index``:
  ``add``/``remove_ids`` abort the whole process (C++ assertion, no Python exception); a copy
  that can be modified is ``faiss.deserialize_index(faiss.serialize_index(index))``. The index
  never modifies a loaded base (updates go to the delta, see :mod:`assistant.index.dense`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np

from ..errors import IndexCorruptError

# Exact search up to this many rows. Measured: one query against IndexFlatIP, 384 dimensions,
# random normalised vectors, k=10, median of 200 single-query searches, 2-core VM
# (python -m assistant.bench.faiss_sizes flat-latency [--threads 1]); ranges over 2-3 runs:
#      rows   1 OpenMP thread   2 threads (faiss default here)
#   100 000       8-11 ms          14-40 ms
#   200 000      19-20 ms          26-30 ms
#   400 000      34-39 ms          57-128 ms
# About 0.09 ms per 1 000 rows single-threaded (memory bound); a single query gets *slower* and
# noisier with 2 OpenMP threads (a serving process may want faiss.omp_set_num_threads(1)).
# 100 000 rows keeps exact search at ~10-15 ms per query, on a par with embedding the query;
# beyond that IVF answers in under 1 ms (1M clustered rows: IVF4096,Flat nprobe 8, 0.6 ms).
EXACT_MAX_ROWS = 100_000

MIN_NLIST = 16
MAX_NLIST = 65_536
MIN_POINTS_PER_CELL = 39  # faiss warns below this many training points per k-means centroid
TRAIN_ROWS_DEFAULT = 100_000  # training sample: max(40 * nlist, this), at most all rows
DEFAULT_NPROBE_DIVISOR = 32  # untuned nprobe = nlist / 32 (tune_nprobe sets the measured one)

Progress = Callable[[str, int, int], None]
ReadFn = Callable[[int, int], np.ndarray]

KINDS = ("flat", "ivf", "ivf_sq8")
# A faiss index of any kind. faiss' SWIG stubs describe the C++ classes, not the Python wrappers
# (keyword arguments, numpy arrays, the attributes of IVF indexes): the calls are checked by the
# tests instead.
FaissIndex: TypeAlias = Any


@dataclass(frozen=True)
class DensePlan:
    """What kind of faiss index to build; ``nprobe`` is 0 until tuned."""

    kind: str  # "flat" | "ivf" | "ivf_sq8"
    nlist: int = 0
    nprobe: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Unbekannte Art des Vektorindex: {self.kind!r} (erlaubt: {', '.join(KINDS)})")
        if self.kind != "flat" and self.nlist < 1:
            raise ValueError(f"{self.kind} braucht nlist >= 1, nicht {self.nlist}")

    @property
    def factory_string(self) -> str:
        """The ``faiss.index_factory`` description: ``Flat``, ``IVF4096,Flat``, ``IVF4096,SQ8``."""
        if self.kind == "flat":
            return "Flat"
        return f"IVF{self.nlist},{'Flat' if self.kind == 'ivf' else 'SQ8'}"

    def describe(self) -> str:
        """German one-liner for reports and the UI: ``exakt (IndexFlatIP)``,
        ``IVF4096,Flat (nprobe 16)``; without a tuned nprobe just ``IVF4096,Flat``."""
        if self.kind == "flat":
            return "exakt (IndexFlatIP)"
        if self.nprobe:
            return f"{self.factory_string} (nprobe {self.nprobe})"
        return self.factory_string  # not tuned yet


def plan_for(rows: int, dim: int, memory_budget_bytes: int | None = None) -> DensePlan:
    """The index kind for ``rows`` vectors of ``dim`` dimensions.

    ``flat`` while ``rows <= EXACT_MAX_ROWS``; beyond, ``ivf`` with ``nlist`` about
    ``4 * sqrt(rows)`` rounded to a power of two (16 ... 65 536, and at least 39 rows per cell).
    When the raw float32 vectors (``rows * dim * 4`` bytes) exceed ``memory_budget_bytes``,
    ``ivf_sq8`` at any size: the memory budget is a hard limit, the latency target is not.
    """
    if rows < 0 or dim < 1:
        raise ValueError(f"Ungültige Größe: {rows} Zeilen, {dim} Dimensionen")
    over_budget = memory_budget_bytes is not None and rows * dim * 4 > memory_budget_bytes
    if rows <= EXACT_MAX_ROWS and not over_budget:
        return DensePlan("flat")
    return DensePlan("ivf_sq8" if over_budget else "ivf", nlist_for(rows))


def nlist_for(rows: int) -> int:
    """``4 * sqrt(rows)`` rounded to the nearest power of two, within ``MIN_NLIST ... MAX_NLIST``
    and small enough that every cell gets ``MIN_POINTS_PER_CELL`` training rows."""
    nlist = 2 ** round(math.log2(max(4 * math.sqrt(max(rows, 1)), 1)))
    nlist = min(max(nlist, MIN_NLIST), MAX_NLIST)
    while nlist > 1 and nlist * MIN_POINTS_PER_CELL > rows:
        nlist //= 2
    return nlist


def default_nprobe(nlist: int) -> int:
    """``nprobe`` before tuning (faiss's own default, 1, loses most neighbours)."""
    return max(1, min(nlist, nlist // DEFAULT_NPROBE_DIVISOR))


def build(
    plan: DensePlan,
    dim: int,
    rows: int,
    read: ReadFn,
    batch: int = 65536,
    train_rows: int | None = None,
    progress: Progress | None = None,
) -> FaissIndex:
    """Build the index of ``plan`` over rows ``0 .. rows-1``; row ``i`` gets id ``i``.

    ``read(a, b)`` returns the vectors of rows ``[a, b)`` as float32 ``(b - a, dim)`` (normalised;
    they are not re-normalised here). It is called batch by batch, so apart from the index only one
    batch (and for IVF the training sample) is held. IVF reads all rows twice: once to pick an
    evenly spaced training sample (``train_rows``, default ``max(40 * nlist, 100 000)``, at most
    all rows), once to add them. Metric: inner product everywhere.

    faiss grows its storage by reallocation, so the transient peak is higher than the final
    index: measured for 300k x 384 (439 MiB of vectors) +1.2 GiB for flat, +1.4 GiB for
    IVF2048,Flat (incl. the 146 MiB training sample), +0.3 GiB for IVF2048,SQ8. A saved and
    re-loaded index has no slack.
    """
    import faiss

    if batch < 1:
        raise ValueError(f"batch muss >= 1 sein, nicht {batch}")
    index: FaissIndex = faiss.index_factory(dim, plan.factory_string, faiss.METRIC_INNER_PRODUCT)
    if plan.kind != "flat":
        count = train_rows if train_rows is not None else max(40 * plan.nlist, TRAIN_ROWS_DEFAULT)
        count = min(max(count, 1), rows)
        if count < plan.nlist:
            raise ValueError(
                f"{plan.factory_string} braucht mindestens {plan.nlist} Zeilen zum Trainieren, vorhanden: {count}"
            )
        sample = read_rows(read, rows, dim, _evenly_spaced(rows, count), batch, progress)
        if progress:
            progress("Vektorindex trainieren", 0, 1)
        index.train(sample)
        del sample
        if progress:
            progress("Vektorindex trainieren", 1, 1)
        index.nprobe = plan.nprobe or default_nprobe(plan.nlist)
    for start in range(0, rows, batch):
        end = min(start + batch, rows)
        if progress:
            progress("Vektoren einfügen", start, rows)
        index.add(checked_rows(read(start, end), start, end, dim))
    if progress:
        progress("Vektoren einfügen", rows, rows)
    return index


def search(
    index: FaissIndex,
    queries: np.ndarray,
    k: int,
    allowed: np.ndarray | None = None,
    nprobe: int | None = None,
    scale_nprobe: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` by inner product: ``(scores, ids)`` of shape ``(nq, k)`` like faiss; ids are row
    numbers, ``-1`` with score ``-inf`` (faiss itself pads with ``-3.4e38``) where fewer than ``k``
    rows qualify.

    ``allowed``: bool mask over the rows (``len == index.ntotal``) or None for all. Filtering
    happens inside faiss (``IDSelectorBitmap``), so the result is the top-k *of the allowed rows*:
    exact for flat. For IVF, ``nprobe`` (default ``index.nprobe``) is divided by the allowed share
    (``scale_nprobe``, capped at nlist): the probed cells then hold about as many allowed rows as
    an unfiltered search sees, instead of a handful.
    """
    import faiss

    q = np.ascontiguousarray(np.atleast_2d(np.asarray(queries, dtype=np.float32)))
    if q.ndim != 2 or q.shape[1] != index.d:
        raise ValueError(f"Anfragevektoren haben die Form {q.shape}, erwartet (n, {index.d})")
    nq = q.shape[0]
    if k < 1 or nq == 0 or index.ntotal == 0:
        return _empty(nq, max(k, 0))
    selector = bitmap = None
    share = 1.0
    if allowed is not None:
        mask = np.asarray(allowed, dtype=bool)
        if mask.shape != (index.ntotal,):
            raise ValueError(f"Filtermaske hat die Form {mask.shape}, erwartet ({index.ntotal},)")
        chosen = int(np.count_nonzero(mask))
        if chosen == 0:
            return _empty(nq, k)
        if chosen < mask.size:
            bitmap = np.packbits(mask, bitorder="little")  # bit i%8 of byte i//8, as faiss reads it
            # one-argument form: n = bytes, keeps bitmap alive
            selector = faiss.IDSelectorBitmap(bitmap)  # type: ignore[call-arg, arg-type]
            share = chosen / mask.size
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        probe = int(nprobe if nprobe is not None else ivf.nprobe)
        if scale_nprobe and share < 1.0:
            probe = math.ceil(probe / share)
        probe = max(1, min(probe, ivf.nlist))
        # nprobe must be given here: SearchParametersIVF's own default (1) replaces index.nprobe.
        params: Any = (
            faiss.SearchParametersIVF(sel=selector, nprobe=probe)  # type: ignore[call-arg]
            if selector is not None
            else faiss.SearchParametersIVF(nprobe=probe)  # type: ignore[call-arg]
        )
    else:
        params = faiss.SearchParameters(sel=selector) if selector is not None else None  # type: ignore[call-arg]
    scores, ids = index.search(q, k, params=params)
    del bitmap  # referenced until here: faiss reads it during the search
    scores[ids < 0] = -np.inf  # faiss pads inner-product results with -FLT_MAX
    return scores, ids


def save(index: FaissIndex, path: Path) -> None:
    """Write ``index`` to ``path`` atomically (temporary file, fsync, ``os.replace``): a process
    that has ``path`` memory-mapped keeps reading the old file instead of crashing (SIGBUS)."""
    import faiss

    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        faiss.write_index(index, str(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load(path: Path, mmap: bool = False) -> FaissIndex:
    """Read an index written by :func:`save`.

    ``mmap=True`` maps the vectors instead of reading them (``IO_FLAG_MMAP_IFC``: flat codes and
    IVF lists; resident memory grows only with the pages searched). Where that flag is missing
    (older faiss) or mapping fails, the file is read normally. The older ``IO_FLAG_MMAP``
    is not used: it maps IVF lists only, as ``OnDiskInvertedLists``, which serialise as a
    reference to their file, so saving or copying such an index would not copy the vectors.
    A mapped index is read-only (see the module docstring).
    """
    import faiss

    path = Path(path)
    if not path.is_file():
        raise IndexCorruptError(f"Vektorindex {path} fehlt")
    flag = getattr(faiss, "IO_FLAG_MMAP_IFC", None)
    if mmap and flag:
        try:
            return faiss.read_index(str(path), flag)
        except RuntimeError:
            pass  # this index type or file system cannot be mapped: read it
    try:
        return faiss.read_index(str(path))
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IndexCorruptError(f"Vektorindex {path} ist nicht lesbar: {first}") from None


def kind_of(index: FaissIndex) -> str:
    """``"flat"``, ``"ivf"`` or ``"ivf_sq8"``; ValueError for any other faiss index."""
    import faiss

    if getattr(index, "metric_type", None) != faiss.METRIC_INNER_PRODUCT:
        raise ValueError(f"Vektorindex {type(index).__name__} vergleicht nicht per Skalarprodukt")
    if isinstance(index, faiss.IndexFlat):
        return "flat"
    if isinstance(index, faiss.IndexIVFFlat):
        return "ivf"
    if isinstance(index, faiss.IndexIVFScalarQuantizer) and index.sq.qtype == faiss.ScalarQuantizer.QT_8bit:
        return "ivf_sq8"
    raise ValueError(f"Nicht unterstützter Vektorindex: {type(index).__name__}")


def plan_of(index: FaissIndex) -> DensePlan:
    """The plan (with the current nprobe) that describes a built or loaded index."""
    kind = kind_of(index)
    if kind == "flat":
        return DensePlan("flat")
    return DensePlan(kind, int(index.nlist), int(index.nprobe))


# --- helpers -----------------------------------------------------------------------------------


def checked_rows(x: np.ndarray, start: int, end: int, dim: int) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.shape != (end - start, dim):
        raise ValueError(f"Vektoren der Zeilen {start}..{end}: Form {x.shape}, erwartet ({end - start}, {dim})")
    return x


def _evenly_spaced(rows: int, count: int) -> np.ndarray:
    if count >= rows:
        return np.arange(rows)
    return np.unique(np.linspace(0, rows - 1, count).round().astype(np.int64))


def read_rows(
    read: ReadFn, rows: int, dim: int, picked: np.ndarray, batch: int, progress: Progress | None
) -> np.ndarray:
    """Rows ``picked`` (sorted), gathered from one pass of ``read`` over the batches that hold them."""
    out = np.empty((picked.size, dim), dtype=np.float32)
    done = 0
    for start in range(0, rows, batch):
        end = min(start + batch, rows)
        upto = int(np.searchsorted(picked, end))
        if upto > done:
            if progress:
                progress("Trainingsstichprobe lesen", start, rows)
            out[done:upto] = checked_rows(read(start, end), start, end, dim)[picked[done:upto] - start]
            done = upto
    return out


def _empty(nq: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((nq, k), -np.inf, dtype=np.float32), np.full((nq, k), -1, dtype=np.int64)
