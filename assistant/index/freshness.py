"""Does an index fit the settings and the corpus? One set of rules for ``assistant index`` (update
or rebuild in full?), the chat and the evaluation (build before serving?) and every start (warn
that the index is stale?)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..config import Settings
from ..errors import AssistantError
from ..ingest.corpus import FileStats, file_stats, folders_unchanged, stats_digest
from ..text.german import ANALYZER_VERSION
from .embedder import Encoder
from .format import CorpusRecord, Manifest, current_generation, read_corpus_record, read_manifest
from .ngrams import NGRAM_VERSION


def same_model(a: str | None, b: str | None) -> bool:
    """Model names are equal, or both name the same local folder ("models/e5" and "./models/e5/")."""
    if a is None or b is None:
        return a == b
    if a == b:
        return True
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    return pa.exists() and pb.exists() and pa.resolve() == pb.resolve()


def settings_mismatch(manifest: Manifest, settings: Settings, decompound: bool = True) -> str | None:
    """Why an index built as ``manifest`` cannot be extended under ``settings`` (None when it can):
    its chunks or stored terms would differ from what these settings produce."""
    if (manifest.chunk_size, manifest.chunk_overlap) != (settings.chunk_size, settings.chunk_overlap):
        return (
            f"Chunk-Einstellungen geändert ({manifest.chunk_size}/{manifest.chunk_overlap} → "
            f"{settings.chunk_size}/{settings.chunk_overlap})"
        )
    if manifest.decompound != decompound:
        return "Kompositazerlegung geändert"
    if manifest.analyzer_version != ANALYZER_VERSION:
        return f"Textanalyse geändert (Version {manifest.analyzer_version} → {ANALYZER_VERSION})"
    if settings.ngram_weight > 0 and manifest.ngrams != NGRAM_VERSION:
        if not manifest.ngrams:
            return "N-Gramm-Index wird aufgebaut"
        return f"N-Gramm-Index geändert (Version {manifest.ngrams} → {NGRAM_VERSION})"
    return None


def vectors_mismatch(
    manifest: Manifest, model: str | None, dimension: int | None = None, passage_prefix: str | None = None
) -> str | None:
    """Why the stored vectors cannot be kept for ``model`` (None: no model, and none stored, or
    the same model with the same passage prefix)."""
    if model is None:
        return "Vektoren entfallen (kein Einbettungsmodell)" if manifest.dense else None
    if not manifest.dense:
        return "Vektoren werden für alle Abschnitte berechnet (bisher ohne Modell gebaut)"
    if (
        not same_model(manifest.model, model)
        or (dimension is not None and manifest.dimension != dimension)
        or (passage_prefix is not None and manifest.passage_prefix != passage_prefix)
    ):
        return f"Einbettungsmodell geändert ({manifest.model} → {model})"
    return None


# From this many documents a start checks the corpus folders' times first (quick=...): the walk
# over every file costs ~6.5 µs a file here (0.8 s at 125k files, 0.13 s at 20k).
QUICK_CHECK_DOCUMENTS = 20_000


def corpus_changes(
    settings: Settings,
    manifest: Manifest,
    record: Callable[[], CorpusRecord],
    quick: Callable[[], dict[str, int] | None] | None = None,
) -> str | None:
    """What changed in the corpus folder since the build ("2 neu, 1 geändert"), or None.

    One digest of the corpus walk is compared first; the per-file record (``record``, read only
    then) says what changed. An index of another corpus folder, or a corpus folder that is gone,
    is not compared. ``quick`` (the build's folder times): for a corpus of
    :data:`QUICK_CHECK_DOCUMENTS` or more, folders whose times are unchanged count as no change
    without walking the files (added, removed and renamed files are seen, files rewritten in
    place are not: `assistant index` finds them)."""
    if not settings.corpus_dir.is_dir() or not same_corpus(manifest, settings):
        return None
    if quick is not None and manifest.document_count >= QUICK_CHECK_DOCUMENTS:
        times = quick()
        if times and folders_unchanged(settings.corpus_dir, times, manifest.scanned_at_ns - 1_000_000_000):
            return None
    current = file_stats(settings.corpus_dir)
    if manifest.file_stats_digest == stats_digest(current):
        return None
    recorded: FileStats = record().file_stats
    added = [d for d in current if d not in recorded]
    removed = [d for d in recorded if d not in current]
    changed = [d for d in current if d in recorded and list(current[d]) != list(recorded[d])]
    if not (added or removed or changed):
        return None
    return ", ".join(
        f"{len(x)} {label}" for x, label in ((added, "neu"), (changed, "geändert"), (removed, "gelöscht")) if x
    )


def same_corpus(manifest: Manifest, settings: Settings) -> bool:
    """Whether the index was built from the corpus folder the settings name (not when that
    name is a symlink loop: Python before 3.13 raises RuntimeError for it)."""
    try:
        return Path(manifest.corpus_path) == settings.corpus_dir.resolve()
    except (RuntimeError, OSError):
        return False


def staleness(
    settings: Settings,
    manifest: Manifest,
    record: Callable[[], CorpusRecord],
    quick: Callable[[], dict[str, int] | None] | None = None,
) -> str | None:
    """A German warning when the index no longer matches the corpus (or the text analysis), else
    None; ``quick`` as for :func:`corpus_changes`."""
    if manifest.analyzer_version != ANALYZER_VERSION:
        return (
            "Der Index wurde mit einer älteren Textanalyse gebaut; `assistant index` baut ihn neu "
            "auf (bis dahin können Suchergebnisse leicht abweichen)."
        )
    if settings.corpus_dir.is_dir() and not same_corpus(manifest, settings):
        return (
            f"Der Index wurde aus dem Korpus-Ordner {manifest.corpus_path} gebaut, eingestellt ist "
            f"{settings.corpus_dir}; `assistant index` baut ihn aus {settings.corpus_dir}."
        )
    changes = corpus_changes(settings, manifest, record, quick)
    if changes is None:
        return None
    return (
        f"Der Index ist veraltet: seit dem Bau sind Dokumente im Korpus {changes}. "
        "`assistant index` aktualisiert ihn (nur die geänderten Dokumente)."
    )


def needs_rebuild(settings: Settings, embedder: Encoder | None = None, other_corpus: bool = True) -> str | None:
    """Why ``assistant index`` must run before ``settings`` can be served (a short German reason),
    or None when the index is current: no index, an unreadable or older one, other chunk settings
    or text analysis, a changed corpus, vectors that do not fit ``embedder`` (a model available
    now), and, with ``other_corpus``, an index built from another corpus folder. The chat passes
    ``other_corpus=False``: it serves such an index and warns (see :func:`staleness`); the
    evaluation must measure the corpus it names."""
    generation = current_generation(settings.index_dir)
    if generation is None:
        return f"noch kein Index in {settings.index_dir}"
    try:
        manifest = read_manifest(settings.index_dir, generation)
    except AssistantError as exc:
        return f"Index nicht nutzbar: {exc}"
    reason = settings_mismatch(manifest, settings)
    if reason:
        return reason
    if not same_corpus(manifest, settings):
        if other_corpus and settings.corpus_dir.is_dir():
            return f"Index gehört zu einem anderen Korpus ({manifest.corpus_path})"
        return None
    try:
        changes = corpus_changes(settings, manifest, lambda: read_corpus_record(generation))
    except AssistantError as exc:
        return f"Index nicht nutzbar: {exc}"
    if changes:
        return f"Korpus geändert: {changes}"
    if embedder is not None:
        return vectors_mismatch(manifest, embedder.name, embedder.dimension, embedder.passage_prefix)
    return None
