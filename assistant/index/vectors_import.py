"""Chunk vectors computed elsewhere (``assistant embed --engine ray``), as Parquet files, and
their import into a build (``assistant index --vectors-from DIR``).

One row per chunk: its id (``"bericht.pdf#3"``), document id, the document's content hash, its
character offsets and its vector. The file's key/value metadata names the model, the passage
prefix and the chunk settings the vectors were made with; an import refuses vectors made with
others (a German message naming the difference). A chunk is taken only where its id, content hash
and offsets all match the chunk the build made: a document changed since the embedding, or one
added, is embedded locally as usual.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Settings
from ..errors import AssistantError, IndexMismatchError
from .embedder import Encoder

FORMAT = "1"
PART_PREFIX = "part-"
# (chunk id, content hash of its document, start, end)
ChunkKey = tuple[str, str, int, int]

INSTALL_HINT = "Bitte die Erweiterung installieren: pip install '.[scale]' (bringt ray[data] und pyarrow mit)."


class ScaleUnavailableError(AssistantError):
    """Ray or pyarrow (the ``scale`` extra) is not installed."""


@dataclass(frozen=True)
class VectorSettings:
    """What the vectors depend on besides the text: recorded in each Parquet file."""

    model: str
    passage_prefix: str
    dimension: int
    chunk_size: int
    chunk_overlap: int

    def metadata(self) -> dict[bytes, bytes]:
        values = {
            "format": FORMAT,
            "model": self.model,
            "passage_prefix": self.passage_prefix,
            "dimension": str(self.dimension),
            "chunk_size": str(self.chunk_size),
            "chunk_overlap": str(self.chunk_overlap),
        }
        return {f"assistant.{k}".encode(): v.encode("utf-8") for k, v in values.items()}

    @classmethod
    def from_metadata(cls, meta: dict[bytes, bytes], source: Path) -> VectorSettings:
        values = {k.decode("utf-8"): v.decode("utf-8") for k, v in (meta or {}).items()}
        try:
            if values["assistant.format"] != FORMAT:
                raise KeyError("assistant.format")
            return cls(
                values["assistant.model"],
                values["assistant.passage_prefix"],
                int(values["assistant.dimension"]),
                int(values["assistant.chunk_size"]),
                int(values["assistant.chunk_overlap"]),
            )
        except (KeyError, ValueError):
            raise IndexMismatchError(
                f"{source} ist keine Vektordatei von `assistant embed` (Metadaten fehlen oder sind unbekannt)."
            ) from None


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ScaleUnavailableError(
            f"Zum Lesen und Schreiben der Vektordateien fehlt pyarrow. {INSTALL_HINT}"
        ) from None
    return pa, pq


def write_part(out_dir: Path, columns: dict[str, Any], vectors: np.ndarray, settings: VectorSettings) -> Path:
    """Write one Parquet file of chunk rows (``columns``: chunk_id, doc_id, content_hash, start,
    end) with their ``vectors`` and the ``settings`` as file metadata; a unique name."""
    pa, pq = _pyarrow()
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    vector_column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), settings.dimension)
    table = pa.table(
        {
            "chunk_id": pa.array([str(v) for v in columns["chunk_id"]], pa.string()),
            "doc_id": pa.array([str(v) for v in columns["doc_id"]], pa.string()),
            "content_hash": pa.array([str(v) for v in columns["content_hash"]], pa.string()),
            "start": pa.array(np.asarray(columns["start"], dtype=np.int64)),
            "end": pa.array(np.asarray(columns["end"], dtype=np.int64)),
            "vector": vector_column,
        }
    ).replace_schema_metadata(settings.metadata())
    path = out_dir / f"{PART_PREFIX}{uuid.uuid4().hex}.parquet"
    tmp = path.with_name("." + path.name + ".tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)  # a reader never sees half a file
    return path


def part_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{PART_PREFIX}*.parquet"))


class ImportedVectors:
    """The vectors of a folder of Parquet files, looked up by chunk (see :data:`ChunkKey`)."""

    def __init__(self, source: Path, settings: VectorSettings, rows: dict[ChunkKey, int], vectors: np.ndarray) -> None:
        self.source = source
        self.settings = settings
        self.rows = rows
        self.vectors = vectors

    def __len__(self) -> int:
        return len(self.rows)

    def vectors_for(self, encoder: Encoder, keys: Sequence[ChunkKey], texts: Sequence[str]) -> tuple[np.ndarray, int]:
        """The vectors of the chunks ``keys`` (with their ``texts``): imported where the files
        hold them, embedded with ``encoder`` where not; and how many were imported."""
        found = [self.rows.get(key) for key in keys]
        missing = [i for i, row in enumerate(found) if row is None]
        out = np.empty((len(keys), self.settings.dimension), dtype=np.float32)
        have = [(i, row) for i, row in enumerate(found) if row is not None]
        if have:
            out[[i for i, _ in have]] = self.vectors[[row for _, row in have]]
        if missing:
            out[missing] = encoder.encode_passages([texts[i] for i in missing])
        return out, len(have)


def read_vectors(folder: Path, encoder: Encoder | None, settings: Settings) -> ImportedVectors:
    """Read the vectors in ``folder`` for a build with ``encoder`` and ``settings``.

    Raises :class:`IndexMismatchError` when they were made with another model, passage prefix,
    dimension or chunk setting (the German message names each difference), also when the folder
    holds no vector files or no model is available; :class:`ScaleUnavailableError` without pyarrow.
    """
    _, pq = _pyarrow()
    files = part_files(folder) if folder.is_dir() else []
    if not files:
        raise IndexMismatchError(
            f"In {folder} liegen keine Vektordateien von `assistant embed` ({PART_PREFIX}*.parquet)."
        )
    if encoder is None:
        raise IndexMismatchError(
            f"--vectors-from {folder}: das Einbettungsmodell ist abgeschaltet oder nicht verfügbar; "
            "ohne Modell können die Vektoren nicht verwendet werden (Fragen müssen mit demselben Modell "
            "eingebettet werden)."
        )
    wanted = VectorSettings(
        encoder.name, encoder.passage_prefix, encoder.dimension, settings.chunk_size, settings.chunk_overlap
    )
    rows: dict[ChunkKey, int] = {}
    parts: list[np.ndarray] = []
    count = 0
    for path in files:
        parquet = pq.ParquetFile(path)
        found = VectorSettings.from_metadata(parquet.schema_arrow.metadata, path)
        difference = _difference(found, wanted)
        if difference:
            raise IndexMismatchError(
                f"Die Vektoren in {folder} passen nicht zu diesem Index: {difference}. Bitte `assistant embed` "
                "mit denselben Einstellungen erneut ausführen oder ohne --vectors-from indexieren."
            )
        table = parquet.read(columns=["chunk_id", "content_hash", "start", "end", "vector"])
        vectors = table.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        parts.append(np.asarray(vectors, dtype=np.float32).reshape(-1, wanted.dimension))
        columns = [table.column(name).to_pylist() for name in ("chunk_id", "content_hash", "start", "end")]
        for key in zip(*columns, strict=True):
            rows[(str(key[0]), str(key[1]), int(key[2]), int(key[3]))] = count
            count += 1
    matrix = np.concatenate(parts) if parts else np.zeros((0, wanted.dimension), dtype=np.float32)
    return ImportedVectors(folder, found, rows, matrix)


def _difference(found: VectorSettings, wanted: VectorSettings) -> str:
    """The settings that differ, in German ("" when none)."""
    labels = {
        "model": "Modell",
        "passage_prefix": "Passagen-Präfix",
        "dimension": "Dimension",
        "chunk_size": "Abschnittsgröße (chunk_size)",
        "chunk_overlap": "Überlappung (chunk_overlap)",
    }
    parts = [
        f"{label} {getattr(found, name)!r} in den Vektoren, {getattr(wanted, name)!r} in diesem Index"
        for name, label in labels.items()
        if getattr(found, name) != getattr(wanted, name)
    ]
    return "; ".join(parts)
