"""The term ids and n-gram ids of each distinct word of a build, computed and stored once.

The worker processes send each chunk as positions into its document's list of distinct words
(:func:`.parallel.chunk_document`). The building process gives every word it has not seen a
number, numbers that word's new terms and grams (in order of first occurrence, so the files are
the same for any number of workers), and keeps the ids flat, by word number. A document's rows
are then one dictionary lookup per distinct word and a few numpy calls, not a lookup and a
tuple per word and id kind: with two workers the building process is what they wait for
(at 38,865 chunks it was busy 9.4 s of a 10 s build, 2.7 s of it in such lookups and tuples;
py-spy, benchmarks in README "Indexing on all cores").
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

    def rows(self, words: list[str], rows: list[np.ndarray]) -> list[list[np.ndarray]]:
        """Per numberer, the ids of each row's words one after another (int32); ``rows`` are
        positions in ``words``. Words not seen before are numbered in the order of ``words``."""
        number = self.number
        found = list(map(number.get, words))
        if None in found:
            for i, seen in enumerate(found):
                if seen is None:
                    found[i] = self._add(words[i])
        numbers = np.array(found, dtype=np.int64)
        positions = np.concatenate(rows).astype(np.int64, copy=False) if rows else np.zeros(0, np.int64)
        word_of = numbers[positions]
        row_words = np.cumsum(np.fromiter(map(len, rows), dtype=np.int64, count=len(rows)))
        return [self._gather(ids, ends, word_of, row_words) for ids, ends in zip(self._ids, self._ends, strict=True)]

    def _add(self, word: str) -> int:
        found = self.number.get(word)  # the same word twice in one list
        if found is not None:
            return found
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
