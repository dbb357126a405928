"""index/word_ids.py: each row's ids, as looking up every word of the row one by one gives
them, and new words numbered in order of first occurrence (the build's files depend on it)."""

from __future__ import annotations

import random

import numpy as np

from assistant.index.word_ids import WordIds


def _numberer(vocab: dict[str, int], parts: int):
    def number(word: str) -> list[int]:
        return [vocab.setdefault(f"{word}:{k}", len(vocab)) for k in range(len(word) % parts)]

    return number


class _Worker:
    """What parallel.chunk_document does with a worker's vocabulary: ids by first occurrence,
    each new word sent once."""

    def __init__(self, token: str) -> None:
        self.token, self.vocabulary = token, {}

    def send(self, rows: list[list[str]]):
        new, ids = [], []
        for row in rows:
            for word in row:
                if word not in self.vocabulary:
                    self.vocabulary[word] = len(self.vocabulary)
                    new.append(word)
                ids.append(self.vocabulary[word])
        lengths = np.array([len(r) for r in rows], dtype=np.int32)
        return self.token, new, np.array(ids, dtype=np.int32), lengths


def test_rows_match_a_word_by_word_lookup():
    rng = random.Random(3)
    fast_terms: dict[str, int] = {}
    fast_grams: dict[str, int] = {}
    slow_terms: dict[str, int] = {}
    slow_grams: dict[str, int] = {}
    table = WordIds([_numberer(fast_terms, 3), _numberer(fast_grams, 5)])
    slow = [_numberer(slow_terms, 3), _numberer(slow_grams, 5)]
    pool = [f"w{n}" * rng.randint(1, 4) for n in range(60)]
    workers = [_Worker("a"), _Worker("b"), _Worker("c")]
    for _ in range(200):  # documents, each chunked by one of the workers
        words = rng.sample(pool, rng.randint(1, 20))
        rows = [[rng.choice(words) for _ in range(rng.randint(0, 9))] for _ in range(rng.randint(0, 3))]
        got = table.rows(*rng.choice(workers).send(rows))
        for kind, number in enumerate(slow):  # ids numbered in order of first occurrence
            want = [np.array([i for w in row for i in number(w)], dtype=np.int32) for row in rows]
            assert len(got[kind]) == len(want)
            for g, w in zip(got[kind], want, strict=True):
                assert g.dtype == np.int32 and np.array_equal(g, w)
    # new terms and grams numbered in the same order (dict order; == alone ignores it)
    assert list(fast_terms.items()) == list(slow_terms.items())
    assert list(fast_grams.items()) == list(slow_grams.items())


def test_no_rows():
    table = WordIds([_numberer({}, 3)])
    assert table.rows("a", [], np.zeros(0, np.int32), np.zeros(0, np.int32)) == [[]]
