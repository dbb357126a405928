"""Building the index from the corpus, incrementally: unchanged documents keep their chunks,
tokens and vectors; only new or changed documents are parsed, chunked and embedded."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .chunking import Chunker
from .config import Settings
from .embedder import Embedder, load_embedder
from .errors import AssistantError, CorpusError, EmbedderUnavailableError
from .lexical import ANALYZER_VERSION, GermanAnalyzer, Postings
from .loaders import CorpusFile, Skipped, load_document, scan_corpus
from .store import GenerationBuilder, IndexData, VectorFile, build_lock, current_generation, load_index

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


@dataclass
class BuildReport:
    documents: int = 0
    chunks: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    embedded_chunks: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    dense: bool = False
    full_rebuild_reason: str | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    generation: str = ""

    @property
    def up_to_date(self) -> bool:
        return not (self.added or self.changed or self.removed)


def _compatible(manifest: dict[str, Any], settings: Settings, decompound: bool) -> str | None:
    """Why the previous index cannot be extended (None when it can)."""
    if manifest.get("chunk_size") != settings.chunk_size or manifest.get("chunk_overlap") != settings.chunk_overlap:
        return (f"Chunk-Einstellungen geändert ({manifest.get('chunk_size')}/{manifest.get('chunk_overlap')} → "
                f"{settings.chunk_size}/{settings.chunk_overlap})")
    if manifest.get("decompound") != decompound:
        return "Kompositazerlegung geändert"
    if manifest.get("analyzer_version") != ANALYZER_VERSION:
        return (f"Textanalyse geändert (Version {manifest.get('analyzer_version')} → {ANALYZER_VERSION})")
    return None


MERGE_SHARE = 0.2
# An update adds small delta structures for its new rows; once they hold more than this share of
# the rows of the base structures, the base is rebuilt from the stored term ids and vectors (no
# text is analysed or embedded again).


def build_index(settings: Settings, embedder: Embedder | None = None, progress: Progress | None = None,
                decompound: bool = True, full: bool = False) -> BuildReport:
    """Bring ``settings.index_dir`` up to date with ``settings.corpus_dir``.

    Raises :class:`CorpusError` when no document could be indexed; the previous index then
    stays as it was.
    """
    started = time.perf_counter()
    report = BuildReport()
    with build_lock(settings.index_dir):
        scanned_at_ns = time.time_ns()
        embedder = _embedder(settings, embedder, report)
        previous = None if full else _previous(settings, decompound, embedder, report)
        if full:
            report.full_rebuild_reason = "auf Wunsch (--full)"
        # Taken before each file is read, so a file changed during the build shows up as stale
        # later. It covers the files the scan skips for size too: else they would look new forever.
        fingerprint: dict[str, list[int]] = {}
        files, skipped = scan_corpus(settings.corpus_dir, settings.max_file_bytes, _known_files(previous), fingerprint)
        report.skipped.extend(skipped)
        builder = GenerationBuilder(settings.index_dir, previous, embedder.dimension if embedder else None)
        try:
            generation, documents, chunks = _build(settings, embedder, progress, decompound, previous, builder,
                                                   files, report, fingerprint, scanned_at_ns)
        except BaseException:
            builder.abort()
            raise
    report.documents = documents
    report.chunks = chunks
    report.dense = embedder is not None
    report.generation = generation.name
    report.seconds = time.perf_counter() - started
    return report


def _build(settings: Settings, embedder: Embedder | None, progress: Progress | None, decompound: bool,
           previous: IndexData | None, builder: GenerationBuilder, files: list[CorpusFile], report: BuildReport,
           fingerprint: dict[str, list[int]], scanned_at_ns: int) -> tuple[Path, int, int]:
    recorded: dict[str, Any] = previous.corpus_record()["documents"] if previous else {}
    analyzer = previous.lexical.analyzer if previous else GermanAnalyzer(decompound=decompound)
    entries: dict[str, dict[str, Any]] = {}
    added: list[int] = []
    words: set[str] = set()
    for i, file in enumerate(files):
        if progress and i % 500 == 0:
            progress("Dokumente lesen", i, len(files))
        old = recorded.get(file.doc_id)
        if old is not None and old["content_hash"] == file.content_hash:
            entries[file.doc_id] = old
            report.unchanged += 1
            continue
        try:
            doc = load_document(file)
        except AssistantError as exc:
            reason = getattr(exc, "reason", str(exc))
            if old is not None:
                entries[file.doc_id] = old
                reason += " (bisherige Fassung bleibt im Index)"
            report.skipped.append(Skipped(file.doc_id, reason))
            continue
        if old is not None:
            builder.drop(previous.documents.number[doc.id])  # type: ignore[union-attr]
        added.append(builder.add_document(doc))
        words.update(analyzer.words_of(doc.text))
        entries[doc.id] = {"content_hash": doc.content_hash, "title": doc.title, "chunks": 0}
        (report.changed if old is not None else report.added).append(doc.id)
    current_ids = {f.doc_id for f in files}
    if previous:
        report.removed = sorted(d for d in recorded if d not in current_ids)
        for doc_id in report.removed:
            builder.drop(previous.documents.number[doc_id])
    if not entries:
        raise CorpusError(
            f"Keine Datei in {settings.corpus_dir} konnte indexiert werden"
            + (f" ({len(report.skipped)} übersprungen)" if report.skipped else "")
            + "; der bisherige Index bleibt unverändert.")

    # The vocabulary only grows: unchanged chunks keep the terms they were given, so an update
    # analyses only new text (`assistant index --full` re-analyses everything).
    analyzer.add_vocabulary(words)
    del words
    term_number: dict[str, int] = dict(previous.lexical.vocab) if previous else {}
    chunker = Chunker(settings.chunk_size, settings.chunk_overlap)
    ids_of_word: dict[str, tuple[int, ...]] = {}

    def encode(text: str) -> np.ndarray:
        """Term ids of a chunk (each distinct word analysed once per build)."""
        ids: list[int] = []
        for word in analyzer.words_of(text):
            found = ids_of_word.get(word)
            if found is None:
                found = ids_of_word[word] = tuple(
                    term_number.setdefault(t, len(term_number)) for t in analyzer.terms_of_word(word))
            ids.extend(found)
        return np.asarray(ids, dtype=np.int32)

    pending: list[tuple[int, list[tuple[int, int]], list[np.ndarray], list[str]]] = []
    pending_chunks = 0

    def flush() -> None:
        nonlocal pending, pending_chunks
        texts = [t for _, _, _, part in pending for t in part]
        vectors = embedder.encode_passages(texts) if embedder is not None and texts else None
        at = 0
        for number, spans, ids, part in pending:
            builder.add_rows(number, spans, ids, None if vectors is None else vectors[at:at + len(part)])
            at += len(part)
        report.embedded_chunks += len(texts) if embedder is not None else 0
        pending, pending_chunks = [], 0

    for i, number in enumerate(added):
        text = builder.text_of(number)
        spans = chunker.spans(text)
        texts = [text[a:b] for a, b in spans]
        ids = [encode(t) for t in texts]
        entries[builder.doc_ids[number]]["chunks"] = len(spans)
        pending.append((number, spans, ids, texts))
        pending_chunks += len(spans)
        if pending_chunks >= settings.embed_batch_size * 8:
            if progress:
                progress("Abschnitte analysieren und einbetten", i, len(added))
            flush()
    flush()

    terms = list(term_number)
    tables = builder.tables()
    rows = tables.rows
    live = tables.live
    manifest_prev = previous.manifest if previous else {}
    lexical_base = int(manifest_prev.get("lexical_base_rows", 0))
    if progress:
        progress("Suchindex aufbauen", 0, 1)
    tokens = builder.token_file()
    if _new_base(previous, rows, lexical_base):
        base, delta, lexical_base = Postings.build(tokens, tables.row_tok, 0, rows, len(terms), live), None, rows
    else:
        base = None
        delta = Postings.build(tokens, tables.row_tok, lexical_base, rows, len(terms), live) if rows > lexical_base else None

    dense_base, dense_info = None, dict(manifest_prev.get("dense_index") or {})
    dense_base_rows = int(manifest_prev.get("dense_base_rows", 0))
    if embedder is not None and _new_base(previous, rows, dense_base_rows):
        dense_base, dense_info = _dense_base(builder.vector_file(), rows, embedder.dimension, progress)
        dense_base_rows = rows

    documents = sorted(entries)
    manifest = {
        "model": embedder.name if embedder is not None else None,
        "dimension": embedder.dimension if embedder is not None else None,
        "passage_prefix": embedder.passage_prefix if embedder is not None else None,
        "query_prefix": embedder.query_prefix if embedder is not None else None,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "decompound": decompound,
        "analyzer_version": ANALYZER_VERSION,
        "doc_weight": settings.doc_weight,
        "documents": {d: entries[d] for d in documents},
        "chunks": int(live.sum()),
        "rows": rows,
        "lexical_base_rows": lexical_base,
        "dense_base_rows": dense_base_rows if embedder is not None else 0,
        "dense_index": dense_info if embedder is not None else None,
        "faiss_index": dense_info.get("describe") if embedder is not None else None,
        "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
        # Absolute, so a reader in another working directory can tell whether it is the same folder.
        "corpus_path": str(settings.corpus_dir.resolve()),
        "fingerprint": {**fingerprint, **{f.doc_id: [f.size, f.mtime_ns] for f in files}},
        "scanned_at_ns": scanned_at_ns,
    }
    generation = builder.commit(manifest, terms, analyzer, base, delta, dense_base)
    return generation, len(documents), int(live.sum())


def _new_base(previous: IndexData | None, rows: int, base_rows: int) -> bool:
    """Whether to rebuild a base structure over all rows (see MERGE_SHARE)."""
    return previous is None or rows - base_rows > MERGE_SHARE * max(base_rows, 1)


def _dense_base(vectors: VectorFile, rows: int, dim: int, progress: Progress | None) -> tuple[Any, dict[str, Any]]:
    """The FAISS index of all rows, of the kind their number calls for, with its measured recall."""
    import faiss

    from .dense_index import build, plan_for, tune_nprobe

    faiss.omp_set_num_threads(os.cpu_count() or 1)  # searches set 1 (see DenseIndex.search)
    plan = plan_for(rows, dim)
    index = build(plan, dim, rows, vectors.read, progress=progress)
    info: dict[str, Any] = {"kind": plan.kind, "nlist": plan.nlist}
    if plan.kind != "flat":
        tuning = tune_nprobe(index, vectors.read, rows)
        info.update(nprobe=tuning["nprobe"], recall_at_10=tuning["recall_at_10"])
    info["describe"] = plan.describe() if plan.kind == "flat" else f"{plan.describe()} (nprobe {info['nprobe']})"
    return index, info


def _known_files(previous: IndexData | None) -> dict[str, tuple[int, int, str]]:
    """Files whose size and modification time still match need not be hashed again (as git and
    rsync do); a file modified around the time of the last scan is hashed anyway."""
    if previous is None:
        return {}
    record = previous.corpus_record()
    recorded, documents = record.get("fingerprint") or {}, record.get("documents") or {}
    racy = int(previous.manifest.get("scanned_at_ns", 0)) - 1_000_000_000
    return {d: (int(size), int(mtime), documents[d]["content_hash"]) for d, (size, mtime) in recorded.items()
            if d in documents and int(mtime) < racy}


def _embedder(settings: Settings, embedder: Embedder | None, report: BuildReport) -> Embedder | None:
    if not settings.dense_enabled:
        return None
    if embedder is not None:
        return embedder
    try:
        return load_embedder(settings.model, settings.query_prefix, settings.passage_prefix,
                             settings.embed_batch_size, settings.hub_timeout, settings.progress)
    except EmbedderUnavailableError as exc:
        report.warnings.append(str(exc))
        return None


def _previous(settings: Settings, decompound: bool, embedder: Embedder | None, report: BuildReport) -> IndexData | None:
    if current_generation(settings.index_dir) is None:
        return None
    try:
        previous = load_index(settings.index_dir)
        previous.corpus_record()
    except AssistantError as exc:
        report.full_rebuild_reason = f"bisheriger Index nicht nutzbar: {exc}"
        return None
    reason = _compatible(previous.manifest, settings, decompound) or _vectors_compatible(previous.manifest, embedder)
    if reason:
        report.full_rebuild_reason = reason
        return None
    return previous


def _vectors_compatible(manifest: dict[str, Any], embedder: Embedder | None) -> str | None:
    """Vectors can be kept only when they came from the same model with the same passage prefix."""
    if embedder is None:
        return "Vektoren entfallen (kein Einbettungsmodell)" if manifest.get("dense") else None
    if not manifest.get("dense"):
        return "Vektoren werden für alle Abschnitte berechnet (bisher ohne Modell gebaut)"
    if (manifest.get("model") != embedder.name or manifest.get("dimension") != embedder.dimension
            or manifest.get("passage_prefix", embedder.passage_prefix) != embedder.passage_prefix):
        return f"Einbettungsmodell geändert ({manifest.get('model')} → {embedder.name})"
    return None
