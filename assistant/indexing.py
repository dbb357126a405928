"""Building the index from the corpus, incrementally: unchanged documents keep their chunks,
tokens and vectors; only new or changed documents are parsed, chunked and embedded."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .chunking import Chunker
from .config import Settings
from .embedder import Embedder, load_embedder
from .errors import AssistantError, CorpusError, EmbedderUnavailableError
from .lexical import ANALYZER_VERSION, GermanAnalyzer, LexicalIndex, TokenTable
from .loaders import Skipped, corpus_fingerprint, load_document, scan_corpus
from .store import IndexData, build_lock, current_generation, load_index, write_generation
from .types import Chunk, Document

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


def build_index(settings: Settings, embedder: Embedder | None = None, progress: Progress | None = None,
                decompound: bool = True, full: bool = False) -> BuildReport:
    """Bring ``settings.index_dir`` up to date with ``settings.corpus_dir``.

    Raises :class:`CorpusError` when no document could be indexed; the previous index then
    stays as it was.
    """
    started = time.perf_counter()
    report = BuildReport()
    with build_lock(settings.index_dir):
        # Taken before the scan, so a file changed during the build shows up as stale later. It
        # covers the files the scan skips (too large, links) too: else they would look new forever.
        fingerprint = corpus_fingerprint(settings.corpus_dir) if settings.corpus_dir.is_dir() else {}
        files, skipped = scan_corpus(settings.corpus_dir, settings.max_file_bytes)
        report.skipped.extend(skipped)
        previous = None if full else _previous(settings, decompound, report)
        if full:
            report.full_rebuild_reason = "auf Wunsch (--full)"

        kept_docs: list[Document] = []
        new_docs: list[Document] = []
        for i, file in enumerate(files):
            if progress:
                progress("Dokumente lesen", i, len(files))
            old = previous.documents.get(file.doc_id) if previous else None
            if old is not None and old.content_hash == file.content_hash:
                kept_docs.append(old)
                report.unchanged += 1
                continue
            try:
                doc = load_document(file)
            except AssistantError as exc:
                reason = getattr(exc, "reason", str(exc))
                if old is not None:
                    kept_docs.append(old)
                    reason += " (bisherige Fassung bleibt im Index)"
                report.skipped.append(Skipped(file.doc_id, reason))
                continue
            new_docs.append(doc)
            (report.changed if old is not None else report.added).append(doc.id)
        current_ids = {f.doc_id for f in files}
        if previous:
            report.removed = sorted(d for d in previous.documents if d not in current_ids)
        if not kept_docs and not new_docs:
            raise CorpusError(
                f"Keine Datei in {settings.corpus_dir} konnte indexiert werden"
                + (f" ({len(report.skipped)} übersprungen)" if report.skipped else "")
                + "; der bisherige Index bleibt unverändert.")

        kept_ids = {d.id for d in kept_docs}
        kept_rows = [i for i, c in enumerate(previous.chunks) if c.doc_id in kept_ids] if previous else []
        next_vid = int(previous.manifest.get("next_vid", 0)) if previous else 0
        chunker = Chunker(settings.chunk_size, settings.chunk_overlap)
        new_chunks: list[Chunk] = []
        for doc in new_docs:
            pieces = chunker.split(doc, next_vid)
            next_vid += len(pieces)
            new_chunks.extend(pieces)

        # The vocabulary only grows: unchanged chunks keep the tokens they were given, so an
        # update analyses only new text (`assistant index --full` re-analyses everything).
        analyzer = previous.lexical.analyzer if previous else GermanAnalyzer(decompound=decompound)
        new_words = [w for doc in new_docs for w in analyzer.words_of(doc.text)]
        analyzer.add_vocabulary(new_words)
        old_tokens = previous.load_tokens() if previous and kept_rows else None
        rows_of: dict[int, tuple[str, int] | list[str]] = (
            {previous.chunks[r].vid: ("keep", r) for r in kept_rows} if previous else {})
        for i, chunk in enumerate(new_chunks):
            if progress and i % 200 == 0:
                progress("Abschnitte analysieren", i, len(new_chunks))
            rows_of[chunk.vid] = analyzer.analyze(chunk.text)

        all_chunks = [previous.chunks[r] for r in kept_rows] + new_chunks if previous else list(new_chunks)
        all_chunks.sort(key=lambda c: (c.doc_id, c.start, c.vid))
        tokens = TokenTable.assemble(old_tokens, [rows_of[c.vid] for c in all_chunks])
        doc_number = {d: i for i, d in enumerate(sorted({c.doc_id for c in all_chunks}))}
        lexical = LexicalIndex.build(analyzer, tokens, [doc_number[c.doc_id] for c in all_chunks],
                                     settings.doc_weight)

        dense, used = _dense_part(settings, embedder, previous, all_chunks, new_chunks, report, progress)

        documents = sorted(kept_docs + new_docs, key=lambda d: d.id)
        manifest = {
            "model": used.name if used is not None else None,
            "dimension": int(dense.d) if dense is not None else None,
            "passage_prefix": used.passage_prefix if used is not None else None,
            "query_prefix": used.query_prefix if used is not None else None,
            "chunk_size": settings.chunk_size,
            "chunk_overlap": settings.chunk_overlap,
            "decompound": decompound,
            "analyzer_version": ANALYZER_VERSION,
            "next_vid": next_vid,
            "documents": {d.id: {"content_hash": d.content_hash, "title": d.title,
                                 "chunks": 0} for d in documents},
            "chunks": len(all_chunks),
            "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
            "faiss_index": type(dense).__name__ if dense is not None else None,
            # Absolute, so a reader in another working directory can tell whether it is the same folder.
            "corpus_path": str(settings.corpus_dir.resolve()),
            "fingerprint": {**fingerprint, **{f.doc_id: [f.size, f.mtime_ns] for f in files}},
        }
        for chunk in all_chunks:
            manifest["documents"][chunk.doc_id]["chunks"] += 1
        generation = write_generation(settings.index_dir, manifest, documents, all_chunks, tokens, lexical, dense)
    report.documents = len(documents)
    report.chunks = len(all_chunks)
    report.dense = dense is not None
    report.generation = generation.name
    report.seconds = time.perf_counter() - started
    return report


def _previous(settings: Settings, decompound: bool, report: BuildReport) -> IndexData | None:
    if current_generation(settings.index_dir) is None:
        return None
    try:
        previous = load_index(settings.index_dir)
    except AssistantError as exc:
        report.full_rebuild_reason = f"bisheriger Index nicht nutzbar: {exc}"
        return None
    reason = _compatible(previous.manifest, settings, decompound)
    if reason:
        report.full_rebuild_reason = reason
        return None
    return previous


def _dense_part(settings: Settings, embedder: Embedder | None, previous: IndexData | None,
                all_chunks: list[Chunk], new_chunks: list[Chunk], report: BuildReport,
                progress: Progress | None) -> tuple[Any | None, Embedder | None]:
    """The FAISS index for ``all_chunks`` and the embedder that made it (both None without one)."""
    if not settings.dense_enabled:
        return None, None
    if embedder is None:
        try:
            embedder = load_embedder(settings.model, settings.query_prefix, settings.passage_prefix,
                                     settings.embed_batch_size, settings.hub_timeout, settings.progress)
        except EmbedderUnavailableError as exc:
            report.warnings.append(str(exc))
            return None, None
    import faiss

    # Vectors can be kept only when they came from the same model with the same passage prefix.
    reuse = (previous is not None and previous.dense is not None
             and previous.manifest.get("model") == embedder.name
             and previous.manifest.get("passage_prefix", embedder.passage_prefix) == embedder.passage_prefix
             and previous.dense.d == embedder.dimension)
    if reuse:
        assert previous is not None
        index = faiss.clone_index(previous.dense)
        keep = {c.vid for c in all_chunks}
        gone = np.asarray([c.vid for c in previous.chunks if c.vid not in keep], dtype=np.int64)
        if gone.size:
            index.remove_ids(faiss.IDSelectorBatch(gone))
        to_embed = new_chunks
    else:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(embedder.dimension))
        to_embed = all_chunks
    if progress:
        progress("Abschnitte einbetten", 0, len(to_embed))
    vectors = embedder.encode_passages([c.text for c in to_embed])
    if len(to_embed):
        index.add_with_ids(vectors, np.asarray([c.vid for c in to_embed], dtype=np.int64))
    report.embedded_chunks = len(to_embed)
    return index, embedder
