"""The previous generation an update builds on: loaded when the settings let it be extended,
and the files whose hashes it already knows."""

from __future__ import annotations

from collections.abc import Callable

from ..config import Settings
from ..errors import AssistantError
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


def known_files(previous: IndexData | None) -> Callable[[str], tuple[list[int], str] | None] | None:
    """Files whose size and modification time (and their sidecar's) still match need not be
    hashed again (as git and rsync do); a file modified around the time of the last scan is
    hashed anyway. A lookup, not a dict made first: at 125k files that cost 0.3 s an update."""
    if previous is None:
        return None
    record = previous.corpus_record()
    recorded, documents = record.file_stats, record.documents
    racy = previous.manifest.scanned_at_ns - 1_000_000_000

    def known(doc_id: str) -> tuple[list[int], str] | None:
        # [size, mtime_ns] or [size, mtime_ns, sidecar size, sidecar mtime_ns], ints (JSON);
        # no slices or max(): this runs for every file of every update (0.5 s → 0.15 s at 125k)
        stats = recorded.get(doc_id)
        if stats is None or stats[1] >= racy or (len(stats) > 2 and stats[3] >= racy):
            return None
        entry = documents.get(doc_id)
        return (stats, entry["content_hash"]) if entry is not None else None

    return known
