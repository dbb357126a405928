"""The term ids and n-gram ids of each distinct word of a build, computed and stored once.

The worker processes send each chunk's words as ids of the worker's own vocabulary, each word's
text only the first time that worker meets it (:func:`.parallel.chunk_document`). The building
process keeps, per worker, its word number of each of the worker's ids; it gives every word it
has not seen a number, numbers that word's new terms and grams (in order of first occurrence, so
the files are the same for any number of workers), and keeps the ids flat, by word number. A
document's rows are then a few numpy calls: no lookup and tuple per word and id kind, and no
lookup per distinct word of each document either. With two workers the building process is what
they wait for (at 38,865 chunks it was busy 9.4 s of a 10 s build, 2.7 s of it in such lookups
and tuples, and 0.9 s more in the per-document lookup; py-spy, benchmarks in README "Indexing on
all cores").
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence

import numpy as np

Numberer = Callable[[str], Sequence[int]]


class WordIds:
    """Words numbered in order of first occurrence, with the ids each ``numberers`` function
    gives them (one flat table per function: ids, and where each word's ids end)."""

    def __init__(self, numberers: Sequence[Numberer]) -> None:
        self.number: dict[str, int] = {}
        self._numberers = list(numberers)
        self._ids = [array("i") for _ in numberers]
        self._ends = [array("q", [0]) for _ in numberers]
        self._workers: dict[str, array] = {}  # per worker token: word number by the worker's id

    def rows(self, worker: str, new_words: list[str], words: np.ndarray, lengths: np.ndarray) -> list[list[np.ndarray]]:
        """Per numberer, the ids of each row's words one after another (int32). ``words`` are the
        rows' words one after another, as numbered by ``worker``, whose words not sent before are
        ``new_words`` (its next ids, in order); ``lengths`` the words per row. Words this table has
        not seen are numbered in the order of ``new_words``."""
        table = self._workers.get(worker)
        if table is None:
            table = self._workers[worker] = array("q")
        if new_words:
            number = self.number
            table.extend([number[w] if w in number else self._add(w) for w in new_words])
        word_of = np.frombuffer(table, dtype=np.int64)[words] if len(words) else np.zeros(0, np.int64)
        row_words = np.cumsum(lengths, dtype=np.int64)
        return [self._gather(flat, ends, word_of, row_words) for flat, ends in zip(self._ids, self._ends, strict=True)]

    def _add(self, word: str) -> int:
        found = self.number[word] = len(self.number)
        for numberer, ids, ends in zip(self._numberers, self._ids, self._ends, strict=True):
            ids.extend(numberer(word))
            ends.append(len(ids))
        return found

    @staticmethod
    def _gather(ids: array, ends: array, word_of: np.ndarray, row_words: np.ndarray) -> list[np.ndarray]:
        # Views of the tables, dropped on return: an array that exports its buffer cannot grow.
        flat = np.frombuffer(ids, dtype=np.int32) if len(ids) else np.zeros(0, np.int32)
        bounds = np.frombuffer(ends, dtype=np.int64)
        starts = bounds[word_of]
        counts = bounds[word_of + 1] - starts
        done = np.cumsum(counts)
        total = int(done[-1]) if done.size else 0
        picked = flat[np.repeat(starts - (done - counts), counts) + np.arange(total)]
        # where each row's ids end: the cumulative count at its last word
        cut = np.concatenate(([0], done))[row_words]
        return np.split(picked, cut[:-1]) if len(row_words) else []
