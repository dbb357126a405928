"""Embedding a corpus on a Ray cluster (``assistant embed --engine ray``).

Ray Data reads the corpus list, parses and chunks each document with the project's own loaders
and chunker (so chunk ids and offsets equal a local build's), embeds the chunks in a pool of
actors that each load the embedder once (one GPU each where the cluster has GPUs) and writes
Parquet files (:mod:`.vectors_import`) that ``assistant index --vectors-from`` imports.

The corpus folder must be readable at the same path on every node (a shared file system); the
package travels to the workers with the job (``runtime_env``), the libraries must be installed
there (``pip install '.[scale]'``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Settings
from ..errors import AssistantError, ConfigError
from ..ingest.chunking import Chunker
from ..ingest.corpus import CorpusFile, Skipped, scan_corpus
from ..ingest.parsers import load_document
from ..types import chunk_id
from .embedder import load_embedder
from .vectors_import import INSTALL_HINT, ScaleUnavailableError, VectorSettings, part_files, write_part

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the assistant package
ROWS_PER_FILE = 20_000  # chunks per Parquet file: ~30 MB of 384-d vectors


@dataclass
class EmbedReport:
    documents: int = 0
    chunks: int = 0
    files: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    resources: str = ""
    seconds: float = 0.0


def runtime_env(remote: bool) -> dict[str, Any]:
    """How the workers import this package: on this machine from this folder (PYTHONPATH); on a
    remote cluster the package is uploaded with the job (``py_modules``)."""
    if remote:
        return {"py_modules": [str(PACKAGE_ROOT / "assistant")]}
    path = os.environ.get("PYTHONPATH")
    return {"env_vars": {"PYTHONPATH": str(PACKAGE_ROOT) + (os.pathsep + path if path else "")}}


def _ray() -> Any:
    try:
        import ray
        import ray.data  # the Data library is a separate extra of ray
    except ImportError:
        raise ScaleUnavailableError(f"`assistant embed --engine ray` braucht Ray. {INSTALL_HINT}") from None
    return ray


def embed_with_ray(settings: Settings, out_dir: Path, address: str | None = None) -> EmbedReport:
    """Embed the chunks of ``settings.corpus_dir`` into Parquet files in ``out_dir`` (earlier
    ``part-*.parquet`` files there are replaced). Connects to the cluster at ``address``, or to
    the Ray already started in this process, or starts a local one."""
    started = time.perf_counter()
    ray = _ray()
    if not settings.dense_enabled:
        raise ConfigError("`assistant embed` braucht ein Einbettungsmodell (--model), nicht 'none'.")
    # The model loads here first: a missing model fails before the cluster is asked for work,
    # and its dimension goes into the files.
    probe = load_embedder(
        settings.model, settings.query_prefix, settings.passage_prefix, 1, settings.hub_timeout, backend="torch"
    )
    vector_settings = VectorSettings(
        settings.model, settings.passage_prefix, probe.dimension, settings.chunk_size, settings.chunk_overlap
    )
    report = EmbedReport()
    files, skipped = scan_corpus(settings.corpus_dir, settings.max_file_bytes)
    report.skipped.extend(skipped)
    report.documents = len(files)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for old in part_files(out_dir):
            old.unlink()
    except OSError as exc:
        raise AssistantError(f"Ausgabe-Ordner {out_dir} nicht beschreibbar: {exc.strerror or exc}") from None
    if not files:
        report.seconds = time.perf_counter() - started
        return report
    if not ray.is_initialized():
        if address:
            ray.init(address=address, runtime_env=runtime_env(remote=True), log_to_driver=False)
        else:
            ray.init(runtime_env=runtime_env(remote=False), include_dashboard=False, log_to_driver=False)
    report.chunks, report.resources = _run(ray, settings, files, out_dir.resolve(), vector_settings)
    report.files = len(part_files(out_dir))
    report.seconds = time.perf_counter() - started
    return report


def _run(
    ray: Any, settings: Settings, files: list[CorpusFile], out_dir: Path, vectors: VectorSettings
) -> tuple[int, str]:
    from ray.data import ActorPoolStrategy, DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = settings.progress  # else Ray logs its progress every few seconds
    context.print_on_execution_start = settings.progress

    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), max(1, int(resources.get("CPU", 1)))
    items = [{"doc_id": f.doc_id, "path": str(f.path), "content_hash": f.content_hash, "size": f.size} for f in files]
    ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), cpus * 4)))
    ds = ds.map_batches(
        _chunk_batch,
        batch_size=16,
        batch_format="numpy",
        fn_kwargs={
            "size": settings.chunk_size,
            "overlap": settings.chunk_overlap,
            "limit": settings.max_unpacked_bytes,
        },
    )
    embed_args = {
        "model": settings.model,
        "query_prefix": settings.query_prefix,
        "passage_prefix": settings.passage_prefix,
        "batch_size": settings.embed_batch_size,
        "hub_timeout": settings.hub_timeout,
        "backend": settings.embed_backend,
    }
    if gpus:  # one actor per GPU, each holding the model on its GPU
        pool, ask, where = ActorPoolStrategy(min_size=1, max_size=gpus), {"num_gpus": 1}, f"{gpus} GPU"
    else:  # leave one CPU to parse, chunk and write
        workers = max(1, cpus - 1)
        pool, ask, where = ActorPoolStrategy(min_size=1, max_size=workers), {"num_cpus": 1}, f"{workers} CPU-Worker"
    ds = ds.map_batches(
        _Embed,
        batch_size=max(256, settings.embed_batch_size * 8),
        batch_format="numpy",
        compute=pool,
        fn_constructor_kwargs=embed_args,
        **ask,
    )
    ds = ds.map_batches(
        _write_batch,
        batch_size=ROWS_PER_FILE,
        batch_format="numpy",
        fn_kwargs={"out_dir": str(out_dir), "settings": vectors},
    )
    chunks = sum(int(row["rows"]) for row in ds.iter_rows())
    return chunks, where


_COLUMNS = ("chunk_id", "doc_id", "content_hash", "start", "end", "text")


def _chunk_batch(batch: dict[str, np.ndarray], size: int, overlap: int, limit: int) -> dict[str, np.ndarray]:
    """Parse and chunk the documents of ``batch`` as a local build does; one row per chunk.
    A document that cannot be read yields no rows (the import embeds it, or reports it)."""
    chunker = Chunker(size, overlap)
    out: dict[str, list[Any]] = {name: [] for name in _COLUMNS}
    for doc_id, path, content_hash, nbytes in zip(
        batch["doc_id"], batch["path"], batch["content_hash"], batch["size"], strict=True
    ):
        file = CorpusFile(str(doc_id), Path(str(path)), str(content_hash), int(nbytes))
        try:
            text = load_document(file, limit).text
        except AssistantError:
            continue
        for number, (start, end) in enumerate(chunker.spans(text)):
            out["chunk_id"].append(chunk_id(file.doc_id, number))
            out["doc_id"].append(file.doc_id)
            out["content_hash"].append(file.content_hash)
            out["start"].append(start)
            out["end"].append(end)
            out["text"].append(text[start:end])
    return {
        name: np.asarray(values, dtype=np.int64 if name in ("start", "end") else object) for name, values in out.items()
    }


class _Embed:
    """An actor of the pool: loads the embedder once, then embeds batch after batch."""

    def __init__(
        self, model: str, query_prefix: str, passage_prefix: str, batch_size: int, hub_timeout: float, backend: str
    ) -> None:
        self.embedder = load_embedder(model, query_prefix, passage_prefix, batch_size, hub_timeout, backend=backend)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        vectors = self.embedder.encode_passages([str(t) for t in batch["text"]])
        out: dict[str, Any] = {name: batch[name] for name in _COLUMNS if name != "text"}
        out["vector"] = vectors
        return out


def _write_batch(batch: dict[str, np.ndarray], out_dir: str, settings: VectorSettings) -> dict[str, np.ndarray]:
    """Write the batch as one Parquet file; its row count is what goes on."""
    rows = len(batch["chunk_id"])
    if rows:
        write_part(Path(out_dir), batch, np.asarray(batch["vector"]), settings)
    return {"rows": np.asarray([rows], dtype=np.int64)}
