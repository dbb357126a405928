"""Building the index from the corpus, incrementally: unchanged documents keep their chunks,
tokens and vectors; only new or changed documents are parsed, chunked and embedded."""

from __future__ import annotations

import gc
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Settings
from ..errors import CorpusError, EmbedderUnavailableError
from ..ingest.corpus import CorpusFile, FileStats, Skipped, collector_paused, scan_corpus, stats_digest
from ..text.german import ANALYZER_VERSION, GermanAnalyzer
from ..types import Progress, chunk_id
from . import dense
from .bm25 import Postings
from .duplicate_build import DuplicateBuilder
from .embedder import Encoder, load_embedder
from .format import NGRAMS, TEXTS, CorpusRecord, DocumentEntry, FaissInfo, Manifest
from .ngram_build import NgramBuilder
from .ngrams import NGRAM_VERSION
from .parallel import CRASHED, ChunkResult, ReadResult, Workers, WorkerSettings, chunk_document, read_file
from .previous import known_files, load_previous
from .reader import IndexData
from .vectors_import import ImportedVectors, read_vectors
from .word_ids import WordIds
from .writer import GenerationBuilder, build_lock, write_failure

log = logging.getLogger(__name__)

MERGE_SHARE = 0.2
# An update adds small delta structures for its new rows; once they hold more than this share of
# the rows of the base structures, the base is rebuilt from the stored term ids and vectors (no
# text is analysed or embedded again).


@dataclass
class BuildReport:
    documents: int = 0
    chunks: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    embedded_chunks: int = 0
    imported_chunks: int = 0  # vectors taken from --vectors-from instead of embedded
    skipped: list[Skipped] = field(default_factory=list)
    dense: bool = False
    full_rebuild_reason: str | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    generation: str = ""
    duplicate_groups: list[list[str]] = field(default_factory=list)  # reposts, canonical first
    workers: int = 1  # processes that read and chunked the documents (1: the building process alone)

    @property
    def up_to_date(self) -> bool:
        return not (self.added or self.changed or self.removed)


def build_index(
    settings: Settings,
    embedder: Encoder | None = None,
    progress: Progress | None = None,
    decompound: bool = True,
    full: bool = False,
    vectors_from: Path | None = None,
) -> BuildReport:
    """Bring ``settings.index_dir`` up to date with ``settings.corpus_dir``.

    Raises :class:`CorpusError` when no document could be indexed, :class:`IndexWriteError`
    when the new generation cannot be written (a full disk); the previous index then stays as it
    was, its files byte for byte. ``vectors_from``: a folder of ``assistant embed`` vectors to
    take instead of embedding (:mod:`.vectors_import`; chunks it lacks are embedded here).
    """
    started = time.perf_counter()
    report = BuildReport()
    previous: IndexData | None = None
    try:
        with build_lock(settings.index_dir):
            scanned_at_ns = time.time_ns()
            embedder = _embedder(settings, embedder, report)
            imported = read_vectors(vectors_from, embedder, settings) if vectors_from is not None else None
            # The previous generation's vocabulary, tables and corpus record and the scan's file list
            # are millions of objects that live through the whole build: made with the collector
            # paused, then frozen, its passes no longer walk them (one changed document at 1.28M
            # chunks: 3.4 s -> 2.8 s for the freeze, then 0.07 s less for freezing the scan's list
            # too, benchmarks/update_at_scale.py).
            with collector_paused():
                previous, reason = (None, None) if full else load_previous(settings, decompound, embedder)
                report.full_rebuild_reason = "auf Wunsch (--full)" if full else reason
                # Taken before each file is read, so a file changed during the build shows up as stale
                # later. It covers the files the scan skips for size too: else they would look new forever.
                stats: FileStats = {}
                folder_times: dict[str, int] = {}
                files, skipped = scan_corpus(
                    settings.corpus_dir, settings.max_file_bytes, known_files(previous), stats, folder_times
                )
                gc.freeze()
            report.skipped.extend(skipped)
            builder = GenerationBuilder(settings.index_dir, previous, embedder.dimension if embedder else None)
            try:
                run = _Build(settings, embedder, progress, decompound, previous, builder, report)
                run.imported = imported
                try:
                    entries = run.read_documents(files)
                    run.add_chunks(entries)
                finally:
                    report.workers = settings.index_workers if run.workers.pooled else 1
                    run.workers.close()
                # stats and folder times as the scan found them (a sidecar gone meanwhile left out)
                generation, chunks = run.commit(entries, stats, scanned_at_ns, folder_times)
            except BaseException as exc:
                failure = write_failure(settings.index_dir, exc)  # before the abort gives space back
                builder.abort()
                if failure is not None:
                    raise failure from exc
                raise
    except OSError as exc:  # before the builder began (the lock, the staging folder)
        failure = write_failure(settings.index_dir, exc)
        if failure is None:
            raise
        raise failure from exc
    finally:
        gc.unfreeze()
        if previous is not None:
            previous.close()  # its files and maps now, not at some garbage collection
    report.documents, report.chunks, report.dense = len(entries), chunks, embedder is not None
    report.generation, report.seconds = generation.name, time.perf_counter() - started
    return report


class _Build:
    """One build's steps: read the new and changed documents, chunk, analyse and embed them,
    then write the search structures and commit the generation."""

    def __init__(
        self,
        settings: Settings,
        embedder: Encoder | None,
        progress: Progress | None,
        decompound: bool,
        previous: IndexData | None,
        builder: GenerationBuilder,
        report: BuildReport,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.progress = progress
        self.decompound = decompound
        self.previous = previous
        self.builder = builder
        self.report = report
        self.imported: ImportedVectors | None = None
        self.analyzer = previous.lexical.analyzer if previous else GermanAnalyzer(decompound=decompound)
        self.added: list[int] = []  # document numbers in the builder
        # index term -> term id; the previous generation's ids stay, new terms get the next ones
        self.term_number: dict[str, int] = dict(previous.lexical.vocab) if previous else {}
        # The n-gram lists take the new rows' texts in row order (the previous lists stay).
        self.grams = (
            NgramBuilder(self.analyzer, previous.ngrams if previous else None, builder.staging)
            if settings.ngram_weight > 0
            else None
        )
        # Reposts: the new documents' signatures; the previous ones are stored (index/duplicates.py).
        self.dups = DuplicateBuilder(
            previous.path if previous else None, previous.documents.by_number if previous else None
        )
        self.workers = Workers(
            WorkerSettings(
                settings.max_unpacked_bytes, settings.chunk_size, settings.chunk_overlap, self.analyzer.stopwords
            ),
            settings.index_workers,
        )

    def read_documents(self, files: list[CorpusFile]) -> dict[str, DocumentEntry]:
        """Parse what is new or changed; the entry of every document the generation keeps."""
        previous, builder, report = self.previous, self.builder, self.report
        recorded = previous.corpus_record().documents if previous else {}
        entries: dict[str, DocumentEntry] = {}
        words: set[str] = set()
        kept: set[str] = set()
        todo: list[CorpusFile] = []
        for f in files:  # one pass: this runs for each of the corpus files at every update
            old = recorded.get(f.doc_id)
            if old is not None and old["content_hash"] == f.content_hash:
                kept.add(f.doc_id)
            else:
                todo.append(f)
        results = self.workers.map(read_file, todo, len(todo), lambda _: ReadResult(None, CRASHED))
        for i, file in enumerate(files):
            if self.progress and i % 500 == 0:
                self.progress("Dokumente lesen", i, len(files))
            old = recorded.get(file.doc_id)
            if file.doc_id in kept:
                assert old is not None
                entries[file.doc_id] = old
                report.unchanged += 1
                continue
            result = next(results)
            doc = result.doc
            if doc is None:
                reason = result.reason
                if old is not None:
                    entries[file.doc_id] = old
                    reason += " (bisherige Fassung bleibt im Index)"
                report.skipped.append(Skipped(file.doc_id, reason))
                continue
            report.warnings.extend(result.warnings)
            if previous is not None and old is not None:
                builder.drop(previous.documents.number[doc.id])
            self.added.append(builder.add_document(doc))
            assert result.signature is not None
            self.dups.add_signature(self.added[-1], doc, result.signature, result.shingles)
            words.update(result.words)
            entries[doc.id] = {"content_hash": doc.content_hash, "title": doc.title, "chunks": 0}
            (report.changed if old is not None else report.added).append(doc.id)
        if previous is not None:
            current_ids = {f.doc_id for f in files}
            report.removed = sorted(d for d in recorded if d not in current_ids)
            for doc_id in report.removed:
                builder.drop(previous.documents.number[doc_id])
        if not entries:
            raise CorpusError(
                f"Keine Datei in {self.settings.corpus_dir} konnte indexiert werden"
                + (f" ({len(report.skipped)} übersprungen)" if report.skipped else "")
                + "; der bisherige Index bleibt unverändert."
            )
        # The vocabulary only grows: unchanged chunks keep the terms they were given, so an update
        # analyses only new text (`assistant index --full` re-analyses everything).
        self.analyzer.add_vocabulary(words)
        return entries

    def add_chunks(self, entries: dict[str, DocumentEntry]) -> None:
        """Chunk, analyse and embed the documents read (in batches of ``embed_batch_size * 8``)."""
        analyzer, builder, grams = self.analyzer, self.builder, self.grams
        term_number = self.term_number
        self._hashes = {d: entry["content_hash"] for d, entry in entries.items()}

        def term_ids(word: str) -> list[int]:
            """A word's term ids (new terms numbered in order of first occurrence)."""
            return [term_number.setdefault(t, len(term_number)) for t in analyzer.terms_of_word(word)]

        word_ids = WordIds([term_ids] if grams is None else [term_ids, grams.number_word])
        builder.flush()
        path, ends = str(builder.staging / TEXTS), builder.columns["doc_text"]
        places = ((path, ends[n], ends[n + 1]) for n in self.added)
        results = self.workers.map(chunk_document, places, len(self.added), self._chunk_here, batch=16)
        pending: list[tuple[int, list[tuple[int, int]], list[np.ndarray], list[str]]] = []
        pending_chunks = 0
        for i, (number, result) in enumerate(zip(self.added, results, strict=True)):
            spans = result.spans
            entries[builder.doc_ids[number]]["chunks"] = len(spans)
            terms, *gram_rows = word_ids.rows(result.worker, result.new_words, result.ids, result.lengths)
            if grams is not None:
                for row in gram_rows[0]:
                    grams.add_ids(row)
            texts: list[str] = []
            if self.embedder is not None:
                text = builder.text_of(number)
                texts = [text[a:b] for a, b in spans]
            pending.append((number, spans, terms, texts))
            pending_chunks += len(spans)
            if pending_chunks >= self.settings.embed_batch_size * 8:
                if self.progress:
                    self.progress("Abschnitte analysieren und einbetten", i, len(self.added))
                self._store(pending)
                pending, pending_chunks = [], 0
        self._store(pending)

    def _chunk_here(self, place: tuple[str, int, int]) -> ChunkResult:
        """A document whose chunking ended its worker: chunked in this process (its text was
        parsed already; a crash here ends the build as it would without workers)."""
        return Workers(self.workers.settings, 1).map(chunk_document, [place], 1, self._chunk_here).__next__()

    def _store(self, pending: list[tuple[int, list[tuple[int, int]], list[np.ndarray], list[str]]]) -> None:
        texts = [t for _, _, _, part in pending for t in part]
        vectors = None
        if self.embedder is not None and texts and self.imported is not None:
            owners = [(self.builder.doc_ids[number], spans) for number, spans, _, _ in pending]
            keys = [(chunk_id(d, i), self._hashes[d], a, b) for d, spans in owners for i, (a, b) in enumerate(spans)]
            vectors, imported = self.imported.vectors_for(self.embedder, keys, texts)
            self.report.imported_chunks += imported
            self.report.embedded_chunks -= imported
        elif self.embedder is not None and texts:
            vectors = self.embedder.encode_passages(texts)
        at = 0
        for number, spans, ids, part in pending:
            self.builder.add_rows(number, spans, ids, None if vectors is None else vectors[at : at + len(part)])
            at += len(part)
        self.report.embedded_chunks += len(texts) if self.embedder is not None else 0

    def commit(
        self, entries: dict[str, DocumentEntry], files: FileStats, scanned_at_ns: int, folder_times: dict[str, int]
    ) -> tuple[Path, int]:
        """Build the search structures (a new base, or a delta beside the previous base) and the
        manifest, and make the generation current."""
        builder, embedder, previous = self.builder, self.embedder, self.previous
        terms = list(self.term_number)
        tables = builder.tables()
        rows, live = tables.rows, tables.live
        if self.progress:
            self.progress("Suchindex aufbauen", 0, 1)
        tokens = builder.token_file()
        lexical_base = previous.manifest.lexical_base_rows if previous else 0
        base = delta = None
        if _new_base(previous, rows, lexical_base):
            base, lexical_base = Postings.build(tokens, tables.row_tok, 0, rows, len(terms), live), rows
        elif rows > lexical_base:
            delta = Postings.build(tokens, tables.row_tok, lexical_base, rows, len(terms), live)
        if self.grams is not None:
            self.grams.finish(tables.row_doc, live, MERGE_SHARE).save(builder.staging / NGRAMS)
        dense_base: Any = None
        dense_info: FaissInfo | None = previous.manifest.faiss if previous else None
        dense_base_rows = previous.manifest.dense_base_rows if previous else 0
        if embedder is not None and _new_base(previous, rows, dense_base_rows):
            dense_base, dense_info = dense.build_base(builder.vector_file(), rows, embedder.dimension, self.progress)
            dense_base_rows = rows
        documents = {d: entries[d] for d in sorted(entries)}
        settings = self.settings
        manifest = Manifest(
            model=embedder.name if embedder is not None else None,
            dimension=embedder.dimension if embedder is not None else None,
            passage_prefix=embedder.passage_prefix if embedder is not None else None,
            query_prefix=embedder.query_prefix if embedder is not None else None,
            chunk_size=settings.chunk_size,
            chunk_overlap=settings.chunk_overlap,
            decompound=self.decompound,
            analyzer_version=ANALYZER_VERSION,
            doc_weight=settings.doc_weight,
            chunks=int(live.sum()),
            rows=rows,
            lexical_base_rows=lexical_base,
            dense_base_rows=dense_base_rows if embedder is not None else 0,
            corpus_path=str(settings.corpus_dir.resolve()),
            file_stats_digest=stats_digest(files),
            scanned_at_ns=scanned_at_ns,
            document_count=len(documents),
            faiss=dense_info if embedder is not None else None,
            ngrams=NGRAM_VERSION if self.grams is not None else None,
            skipped=tuple({"path": s.path, "reason": s.reason} for s in self.report.skipped),
        )
        # All pairs again with a new base (see index/duplicate_build.py), else only the new documents'.
        self.report.duplicate_groups = self.dups.finish(
            tables, builder.doc_ids, builder.staging, regroup=base is not None, append=builder.append_to_shared
        )
        generation = builder.commit(
            manifest, CorpusRecord(documents, files), terms, self.analyzer, base, delta, dense_base, folder_times
        )
        return generation, int(live.sum())


def _new_base(previous: IndexData | None, rows: int, base_rows: int) -> bool:
    """Whether to rebuild a base structure over all rows (see MERGE_SHARE)."""
    return previous is None or rows - base_rows > MERGE_SHARE * max(base_rows, 1)


def _embedder(settings: Settings, embedder: Encoder | None, report: BuildReport) -> Encoder | None:
    if not settings.dense_enabled:
        return None
    if embedder is not None:
        return embedder
    try:
        return load_embedder(
            settings.model,
            settings.query_prefix,
            settings.passage_prefix,
            settings.embed_batch_size,
            settings.hub_timeout,
            settings.progress,
            backend=settings.embed_backend,
        )
    except EmbedderUnavailableError as exc:
        report.warnings.append(str(exc))
        return None
