"""The per-document work of a build, in-process or over a pool of worker processes.

Two steps of a build touch every new or changed document on its own, so they can run on all
cores (``Settings.index_workers``):

- :func:`read_file`: parse the file (:func:`~assistant.ingest.parsers.load_document`, dates
  included), add its sidecar, compute its MinHash signature (reposts) and the words it brings
  to the vocabulary;
- :func:`chunk_document`: the chunk spans of a stored text and the words of each chunk (the
  analysis that needs no vocabulary).

What depends on the whole corpus stays in the building process, in document order: the
vocabulary (compounds are split against it), term and n-gram ids (numbered by first
occurrence), the tables. The index written is therefore the same, byte for byte, with any
number of workers. Results come back in order, a few batches in flight at a time, so no
step holds all texts at once.

Workers are started with ``spawn``, never ``fork``: the building process may run threads (BLAS,
a model) that a fork would copy mid-work. Not ``forkserver`` either: a fork server outlives a
building process killed with SIGKILL, and so do its workers, holding the build's output pipes
open (tests/test_robustness.py's kills hung on them); a spawned worker is the build's own child
and ends with it (``PR_SET_PDEATHSIG``). A worker that
dies (the kernel's OOM killer, a crash in a C library) costs only its file: the batch it held
is tried again file by file in a fresh pool, and the file that kills the pool again is skipped
with a reason.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import uuid
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from itertools import islice
from typing import TypeVar

import numpy as np

from ..errors import AssistantError
from ..ingest.chunking import Chunker, segments
from ..ingest.corpus import CorpusFile
from ..ingest.parsers import load_document
from ..ingest.sidecar import read_page_info, with_page_info
from ..text.german import GermanAnalyzer
from ..types import Document
from . import duplicates

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

MIN_POOL_ITEMS = 32  # fewer files (a small update) are read in-process: starting workers costs ~1 s
CRASHED = "die Verarbeitung hat den Hilfsprozess beendet (Absturz oder Speichermangel)"


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker needs of the build: the same in every worker and in the building process."""

    max_unpacked_bytes: int
    chunk_size: int
    chunk_overlap: int
    stopwords: frozenset[str]


@dataclass
class ReadResult:
    """One file read: the document (None: skipped for ``reason``), its sidecar's warnings, its
    MinHash signature and shingle count, and its words for the vocabulary (those this worker has
    not sent before: the building process adds every document's to the vocabulary)."""

    doc: Document | None
    reason: str = ""
    warnings: list[str] = field(default_factory=list)
    signature: np.ndarray | None = None
    shingles: int = 0
    words: list[str] = field(default_factory=list)


@dataclass
class ChunkResult:
    """One document chunked: its spans and the words of each chunk, as ids in the vocabulary of
    the worker that chunked it (``worker``, a token of that worker). Words the worker meets for
    the first time are numbered in order of first occurrence and sent as ``new_words``, once per
    worker; the building process maps the worker's ids to its own (:class:`.word_ids.WordIds`).
    ``ids`` holds every chunk's words one after another, ``lengths`` how many each chunk has."""

    spans: list[tuple[int, int]]
    worker: str
    new_words: list[str]
    ids: np.ndarray
    lengths: np.ndarray


class _Worker:
    """The per-process state: an analyzer (stop words only: the words of a text need no
    vocabulary) and the chunker; texts are read from the generation being built."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.analyzer = GermanAnalyzer(decompound=False, stopwords=settings.stopwords)
        self.chunker = Chunker(settings.chunk_size, settings.chunk_overlap)
        # the words this worker has sent, by id: each is sent once (a fresh worker, one that
        # replaces a crashed one, gets a new token and starts over)
        self.token = uuid.uuid4().hex
        self.vocabulary: dict[str, int] = {}
        self.sent: set[str] = set()  # the words read_file has sent for the vocabulary

    def text(self, path: str, start: int, end: int) -> str:
        # opened for each document (microseconds): a handle kept open would outlive the build
        # where the work runs in the building process (small updates), holding the generation
        with open(path, "rb") as handle:
            handle.seek(start)
            return str(handle.read(end - start).decode("utf-8"))


_STATE: _Worker | None = None


def _init(settings: WorkerSettings) -> None:
    global _STATE
    _die_with_parent()
    _STATE = _Worker(settings)


def _die_with_parent() -> None:
    """End this worker when its parent ends (Linux ``PR_SET_PDEATHSIG``). A build killed with
    SIGKILL would otherwise leave its workers waiting for work forever, holding its output pipes
    open."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: workers end at the next task they cannot read
        return
    # A parent killed while this worker was still starting sends no signal any more: the worker
    # would wait on the task queue forever (each worker holds that queue's write end too), and
    # with it the build's output pipe (seen once in tests/test_robustness.py's kill trials).
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:
        os._exit(1)


def _state() -> _Worker:
    assert _STATE is not None, "worker not initialised"
    return _STATE


def read_file(file: CorpusFile) -> ReadResult:
    """Parse one file (see the module docstring). An error of the file, or one a parser did not
    expect (a MemoryError of a huge table), skips it with a German reason."""
    state = _state()
    try:
        doc = load_document(file, state.settings.max_unpacked_bytes)
    except AssistantError as exc:
        return ReadResult(None, getattr(exc, "reason", str(exc)))
    except Exception as exc:  # one bad file never stops the others
        log.warning("%s: unerwarteter Fehler beim Lesen", file.doc_id, exc_info=True)
        return ReadResult(None, f"konnte nicht gelesen werden (unerwarteter Fehler: {type(exc).__name__})")
    info = read_page_info(file)
    doc = with_page_info(doc, info)
    sig, count = duplicates.signature(doc.text)
    words: set[str] = set()
    for start, end in segments(doc.text):  # a list of all words of a large text would be its size ×8
        words.update(state.analyzer.words_of(doc.text[start:end]))
    words -= state.sent  # each word goes to the vocabulary once per worker
    state.sent |= words
    return ReadResult(doc, "", list(info.warnings), sig, count, list(words))


def chunk_document(where: tuple[str, int, int]) -> ChunkResult:
    """Chunk the text stored at ``(path, start, end)`` and list its words (module docstring)."""
    state = _state()
    text = state.text(*where)
    spans = state.chunker.spans(text)
    vocabulary, new_words = state.vocabulary, []
    ids: list[int] = []
    lengths = array("i")
    for a, b in spans:
        words = state.analyzer.words_of(text[a:b])
        for word in words:
            found = vocabulary.get(word)
            if found is None:
                found = vocabulary[word] = len(vocabulary)
                new_words.append(word)
            ids.append(found)
        lengths.append(len(words))
    return ChunkResult(
        spans, state.token, new_words, np.array(ids, dtype=np.int32), np.frombuffer(lengths, dtype=np.int32)
    )


def _run_batch(fn: Callable[[T], R], items: list[T]) -> list[R]:
    return [fn(item) for item in items]


class Workers:
    """Runs :func:`read_file` and :func:`chunk_document` in-process (``workers`` 1) or over a
    process pool started at first use; :meth:`close` ends it."""

    def __init__(self, settings: WorkerSettings, workers: int, context: str | None = None) -> None:
        self.settings = settings
        self.workers = workers
        self.context = context or "spawn"
        self._executor: ProcessPoolExecutor | None = None
        self._local: _Worker | None = None
        self.pooled = False  # whether any work went to worker processes

    def map(
        self, fn: Callable[[T], R], items: Iterable[T], count: int, crashed: Callable[[T], R], batch: int = 8
    ) -> Iterator[R]:
        """``fn`` of each item, in order. Few items, or one worker: in this process."""
        if self.workers <= 1 or count < MIN_POOL_ITEMS:
            global _STATE
            if self._local is None:
                self._local = _Worker(self.settings)
            _STATE = self._local
            return (fn(item) for item in items)
        return self._pooled(fn, items, crashed, batch)

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self.pooled = True
            context = multiprocessing.get_context(self.context)
            self._executor = ProcessPoolExecutor(self.workers, context, initializer=_init, initargs=(self.settings,))
        return self._executor

    def _restart(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _pooled(self, fn: Callable[[T], R], items: Iterable[T], crashed: Callable[[T], R], batch: int) -> Iterator[R]:
        source = iter(items)
        window = 2 * self.workers
        pending: deque[tuple[list[T], Future[list[R]]]] = deque()

        def submit(part: list[T]) -> Future[list[R]]:
            try:
                return self._pool().submit(_run_batch, fn, part)
            except BrokenProcessPool as exc:
                # a worker of a batch still pending died since the last result was read: this
                # batch fails with it and is handled below like the one that broke the pool
                failed: Future[list[R]] = Future()
                failed.set_exception(exc)
                return failed

        def fill() -> None:
            while len(pending) < window:
                part = list(islice(source, batch))
                if not part:
                    return
                pending.append((part, submit(part)))

        fill()
        while pending:
            part, future = pending.popleft()
            try:
                results = future.result()
            except BrokenProcessPool:
                log.warning("Ein Hilfsprozess des Index-Baus wurde beendet; seine Dateien werden einzeln wiederholt.")
                self._restart()
                results = [self._alone(fn, item, crashed) for item in part]
                pending = deque((p, submit(p)) for p, _ in pending)
            yield from results
            fill()

    def _alone(self, fn: Callable[[T], R], item: T, crashed: Callable[[T], R]) -> R:
        try:
            return self._pool().submit(_run_batch, fn, [item]).result()[0]
        except BrokenProcessPool:
            self._restart()
            return crashed(item)

    def close(self) -> None:
        self._restart()
