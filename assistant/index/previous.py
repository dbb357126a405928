"""The previous generation an update builds on: loaded when the settings let it be extended,
and the files whose hashes it already knows."""

from __future__ import annotations

from ..config import Settings
from ..errors import AssistantError
from ..ingest.corpus import KnownFiles, collector_paused
from .embedder import Encoder
from .format import current_generation
from .freshness import settings_mismatch, vectors_mismatch
from .reader import IndexData, load_index


def load_previous(
    settings: Settings, decompound: bool, embedder: Encoder | None
) -> tuple[IndexData | None, str | None]:
    """The current generation when an update can extend it, else None and why not (German;
    None for no index yet)."""
    if current_generation(settings.index_dir) is None:
        return None, None
    try:
        with collector_paused():  # the corpus record: a dict a document, no cycles
            previous = load_index(settings.index_dir, dense=False)  # the build reads the vector file itself
            previous.corpus_record()
    except AssistantError as exc:
        return None, f"bisheriger Index nicht nutzbar: {exc}"
    reason = settings_mismatch(previous.manifest, settings, decompound) or vectors_mismatch(
        previous.manifest,
        embedder.name if embedder else None,
        embedder.dimension if embedder else None,
        embedder.passage_prefix if embedder else None,
    )
    if reason:
        previous.close()
        return None, reason
    return previous, None


def known_files(previous: IndexData | None) -> KnownFiles | None:
    """Files whose size and modification time (and their sidecar's) still match need not be
    hashed again (as git and rsync do); a file modified around the time of the last scan is
    hashed anyway."""
    if previous is None:
        return None
    record = previous.corpus_record()
    return KnownFiles(record.file_stats, record.documents, previous.manifest.scanned_at_ns - 1_000_000_000)
