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


def test_rows_match_a_word_by_word_lookup():
    rng = random.Random(3)
    fast_terms: dict[str, int] = {}
    fast_grams: dict[str, int] = {}
    slow_terms: dict[str, int] = {}
    slow_grams: dict[str, int] = {}
    table = WordIds([_numberer(fast_terms, 3), _numberer(fast_grams, 5)])
    slow = [_numberer(slow_terms, 3), _numberer(slow_grams, 5)]
    pool = [f"w{n}" * rng.randint(1, 4) for n in range(60)]
    for _ in range(200):  # documents
        words = rng.sample(pool, rng.randint(1, 20))
        if rng.random() < 0.1:
            words.append(words[0])  # the same word twice in one list
        rows = [np.array([rng.randrange(len(words)) for _ in range(rng.randint(0, 9))], dtype=np.int32)]
        rows += [np.array([rng.randrange(len(words)) for _ in range(rng.randint(0, 9))], dtype=np.int32)]
        got = table.rows(words, rows)
        by_word = [[number(w) for w in words] for number in slow]  # ids numbered in word order
        for kind, per_word in enumerate(by_word):
            want = [np.array([i for p in row for i in per_word[p]], dtype=np.int32) for row in rows]
            assert len(got[kind]) == len(want)
            for g, w in zip(got[kind], want, strict=True):
                assert g.dtype == np.int32 and np.array_equal(g, w)
    assert fast_terms == slow_terms and fast_grams == slow_grams


def test_no_rows():
    table = WordIds([_numberer({}, 3)])
    assert table.rows(["eins"], []) == [[]]
