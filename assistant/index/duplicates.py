"""Reposted documents: the same body published on several sites, found at index time and kept
as one group.

Each document gets a MinHash signature (datasketch's scheme, in NumPy) of its word shingles: runs of
:data:`SHINGLE` words, lower-cased, punctuation and line breaks dropped, so other line wrapping
changes nothing and a small edit changes only the shingles around it. Signatures that agree on a
whole band (LSH, :data:`BANDS` × :data:`BAND_ROWS`) are candidates; a candidate pair is a repost
when the text the two share, estimated from the signatures, is at least :data:`SHARED` of the
larger document: a shared body of most of the text, not a shared footer or a boilerplate
paragraph. Pairs join into groups (union-find); a group's canonical copy is its earliest
document (:attr:`~assistant.types.Document.date`, ties and undated copies by document id).

The constants were fitted with ``evals/duplicates_10kgnad.py`` (planted reposts of 10kGNAD news
articles with other headers and footers, small edits, other wrapping; hard negatives of the same
topic and with one long shared footer; figures in README.md, "Reposts merged").

Stored per generation: :data:`~assistant.index.format.MINHASH` (signatures, shingle counts and
dates by document number: an update MinHashes only its new documents) and
:data:`~assistant.index.format.DUPLICATES` (the groups, read at every start). An index without
them loads with no groups; its next update computes the signatures of its documents once.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IndexCorruptError
from ..types import Document
from .format import DUPLICATES, MINHASH, MINHASH_SIG

# 5 words: at SHARED, 3- and 5-word shingles found the same (recall 0.996, no false merge),
# 7 words lose more shingles to each small edit (recall 0.984); 5 also keeps short common phrases
# of one topic ("in der Region", "am 20. Oktober") from counting. Measured: README.md, "Reposts merged".
SHINGLE = 5
# 128 permutations: the shared-share estimate's standard error is about 0.04 at the threshold;
# 4 bytes each, 512 bytes a document (64 MB at 125k documents, read only by builds).
NUM_PERM = 128
# 42 bands of 3 rows: a pair sharing half of the larger text (Jaccard 1/3) is a candidate with
# probability 0.79, one sharing two thirds (Jaccard 1/2) with 0.996; a pair at Jaccard 0.1 with 0.04.
BAND_ROWS = 3
BANDS = NUM_PERM // BAND_ROWS
# A repost shares at least this share of the larger document's shingles: most of the text is
# the same body. Measured: planted reposts share 0.46-1.0 (median 0.91), same-topic articles at
# most 0.59 (two agency stubs with the same notice), articles with one long shared footer at most
# 0.31; at 0.6 recall 0.996 and no false merge, at 0.5 the same recall and 3 false merges.
SHARED = 0.6
# A band value shared by more documents than this is boilerplate (a footer that fills whole
# short documents); its bucket yields no pairs, so a build never compares all pairs of a corpus.
MAX_BUCKET = 200
# A shingle that more documents than this hold is boilerplate (a shared footer, a site's header)
# and counts for no pair; a group of copies has fewer members.
COMMON = 10
# A document with fewer shingles (about 55 words) is never merged: two short notices made from
# one template ("Die Anmeldung zum Workshop am 5. Februar in Bremen ...") share most shingles
# though they announce different things; a reposted news item is longer.
MIN_SHINGLES = 50
# Copies are posted within weeks; documents whose dates lie further apart are not merged even
# when their texts agree: a yearly event announced with last year's text ("Jahrestreffen 2023")
# must not hide behind the earlier copy as the canonical one.
MAX_DAYS_APART = 90
SEED = 1
# Up to this many pairs, positions are counted directly instead of sorting every column (an
# update's new document has a few candidates; 10 ms a pair at 125k documents).
DIRECT_ROWS = 32
VERSION = 1
_WORD = re.compile(r"\w+")
# A fixed text's signature: when the hashing changes, the stored
# signatures are computed again instead of being compared with new ones.
_PROBE = "Das Netzwerk lädt am 20. Oktober 2022 zum Jahrestreffen der Cluster ein."
NO_DATE = np.iinfo(np.int32).max  # undated documents sort after dated ones


def shingle_hashes(text: str, size: int = SHINGLE) -> np.ndarray:
    """The distinct 32-bit hashes of the text's word shingles (``size`` consecutive words,
    lower-cased): each word hashed once (CRC-32), the shingles combined from them in NumPy."""
    words = _WORD.findall(text.lower())
    if not words:
        return np.zeros(0, dtype=np.uint64)
    ids = np.fromiter((zlib.crc32(w.encode("utf-8")) for w in words), dtype=np.uint64, count=len(words))
    width = min(size, len(words))
    n = len(words) - width + 1
    combined = np.zeros(n, dtype=np.uint64)
    for j in range(width):  # a polynomial hash of the words, wrapping at 64 bits
        combined = combined * np.uint64(1_000_003) ^ ids[j : j + n]
    return np.unique((combined * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32))


def signature(text: str, size: int = SHINGLE) -> tuple[np.ndarray, int]:
    """The MinHash signature of the text's shingles (uint32) and how many shingles it has."""
    hashes = shingle_hashes(text, size)
    return _minhash(hashes), int(hashes.size)


# The permutations of datasketch's MinHash (2.x, its default "affine32" scheme: the word hash
# pre-mixed by the MurmurHash3 finalizer, then h -> a*h + b mod 2^32 with odd a), drawn from the
# same generator with the same seed, so the signatures are bit for bit datasketch's
# (tests/test_duplicates.py compares them). Done here in NumPy because importing datasketch costs
# every indexing process 0.41 s (it imports scipy.integrate), more than the whole signature step
# of a one-document update at 1M chunks; the arithmetic is the eight lines below.
_BLOCK = 4096  # shingles a step: at most 2 MB of intermediate values for a long document


@cache
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.RandomState(SEED)
    a = generator.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


def _minhash(hashes: np.ndarray) -> np.ndarray:
    """The MinHash signature (uint32, :data:`NUM_PERM` values) of 32-bit shingle hashes."""
    a, b = _permutations()
    result = np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)
    for start in range(0, hashes.size, _BLOCK):
        h = hashes[start : start + _BLOCK].astype(np.uint32)
        h ^= h >> np.uint32(16)
        h *= np.uint32(0x85EBCA6B)
        h ^= h >> np.uint32(13)
        h *= np.uint32(0xC2B2AE35)
        h ^= h >> np.uint32(16)
        np.minimum(result, (h[:, None] * a + b).min(axis=0), out=result)
    return result


@cache
def _probe() -> tuple[int, ...]:
    return tuple(int(v) for v in _minhash(shingle_hashes(_PROBE))[:8])


@dataclass
class Signatures:
    """Per document number: signature, shingle count, the date's day ordinal (NO_DATE: none)."""

    sig: np.ndarray = field(default_factory=lambda: np.zeros((0, NUM_PERM), dtype=np.uint32))
    count: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    day: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))

    @classmethod
    def load(cls, generation: Path) -> Signatures | None:
        """The stored signatures, or None when there are none or they were made otherwise."""
        path = generation / MINHASH
        if not path.is_file():
            return None
        try:
            with np.load(path) as stored:
                params = [int(v) for v in stored["params"]]
                if params != [VERSION, SHINGLE, NUM_PERM, *_probe()]:
                    return None
                count, day = stored["count"], stored["day"]
                if "sig" in stored.files:  # written before the signatures had a file of their own
                    return cls(stored["sig"], count, day)
            rows = count.shape[0]
            sig = np.fromfile(generation / MINHASH_SIG, dtype=np.uint32, count=rows * NUM_PERM)
            if sig.size != rows * NUM_PERM:
                raise ValueError(f"{MINHASH_SIG} hat {sig.size // NUM_PERM} Zeilen, erwartet {rows}")
            return cls(sig.reshape(rows, NUM_PERM), count, day)
        except (OSError, KeyError, ValueError) as exc:
            raise IndexCorruptError(f"{MINHASH} in {generation} ist beschädigt: {exc}") from None

    def save(self, generation: Path, append: Callable[[str, int, bytes], bool] | None = None, kept: int = 0) -> None:
        """Write to ``generation``; with ``append`` (the generation builder's
        :meth:`~assistant.index.writer.GenerationBuilder.append_to_shared`) only the rows from
        ``kept`` on are appended to the previous generation's signature file (the rows before
        are unchanged: documents only get new numbers), else the file is written whole."""
        params = np.asarray([VERSION, SHINGLE, NUM_PERM, *_probe()], dtype=np.int64)
        np.savez(generation / MINHASH, count=self.count, day=self.day, params=params)
        rows = np.ascontiguousarray(self.sig, dtype=np.uint32)
        if append is not None and kept and append(MINHASH_SIG, kept * NUM_PERM * 4, rows[kept:].tobytes()):
            return
        rows.tofile(generation / MINHASH_SIG)


def find_groups(signatures: Signatures, doc_ids: list[str]) -> list[list[str]]:
    """The groups of reposts (documents with a shingle count of 0 take no part), each as doc
    ids with the canonical copy first, the others by date and id; groups by canonical id."""
    return groups_of(verified_pairs(signatures, _candidates(signatures)), signatures, doc_ids)


def groups_of(pairs: Iterable[tuple[int, int]], signatures: Signatures, doc_ids: list[str]) -> list[list[str]]:
    """Pairs of document numbers joined into groups (union-find), as :func:`find_groups` gives them."""
    pairs = list(pairs)
    parent = list(range(len(doc_ids)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[int, list[int]] = {}
    for i in {int(x) for pair in pairs for x in pair}:
        members.setdefault(root(i), []).append(i)
    groups = [
        [doc_ids[i] for i in sorted(group, key=lambda i: (int(signatures.day[i]), doc_ids[i]))]
        for group in members.values()
    ]
    return sorted(groups, key=lambda g: g[0])


def band_key(sig: np.ndarray, band: int) -> np.ndarray:
    """One value per row for the signature positions of ``band`` (rows of ``sig``)."""
    cols = sig[:, band * BAND_ROWS : (band + 1) * BAND_ROWS].astype(np.uint64)
    key = cols[:, 0] << np.uint64(32) | cols[:, 1]
    return np.asarray(key * np.uint64(0x9E3779B97F4A7C15) ^ cols[:, 2])  # wraps: a hash, not a number


def _candidates(s: Signatures) -> np.ndarray:
    """Pairs (i < j) of documents that agree on at least one band (n × 2)."""
    active = np.flatnonzero(s.count > 0)
    found: list[np.ndarray] = []
    if active.size < 2:
        return np.zeros((0, 2), dtype=np.int64)
    sig = s.sig[active]
    for band in range(BANDS):
        key = band_key(sig, band)
        order = np.argsort(key, kind="stable")
        sorted_keys = key[order]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        sizes = np.diff(np.r_[starts, sorted_keys.size])
        for start, size in zip(starts[sizes > 1], sizes[sizes > 1], strict=True):
            if size > MAX_BUCKET:
                continue
            bucket = active[order[start : start + size]]
            a, b = np.triu_indices(int(size), k=1)
            found.append(np.stack([bucket[a], bucket[b]], axis=1))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(found)
    pairs.sort(axis=1)
    return np.unique(pairs, axis=0)


def shared_share(s: Signatures, pairs: np.ndarray, common: int = COMMON) -> np.ndarray:
    """Per pair: the estimated shingles both share, as a share of the larger document's, leaving
    out boilerplate: shingles whose min-hash value at that position more than ``common`` live
    documents have (a footer, a site's header), which no group of copies is that large to share.

    A position of the two signatures samples one shingle of the pair's union, the one with the
    smaller value; positions whose sample is common are dropped, the rest estimate the Jaccard
    index of the uncommon shingles, and each document's uncommon shingle count is its count times
    the share of its own positions that are uncommon."""
    if pairs.size == 0:
        return np.zeros(0)
    sa, sb = s.sig[pairs[:, 0]], s.sig[pairs[:, 1]]
    frequent = _frequent(s, common, pairs.shape[0])
    smaller = np.minimum(sa, sb)
    kept = ~frequent(smaller)
    jaccard = ((sa == sb) & kept).sum(axis=1) / np.maximum(kept.sum(axis=1), 1)
    a = s.count[pairs[:, 0]] * (~frequent(sa)).mean(axis=1)
    b = s.count[pairs[:, 1]] * (~frequent(sb)).mean(axis=1)
    both = jaccard * (a + b) / (1.0 + jaccard)
    return np.asarray(np.where(np.maximum(a, b) > 0, both / np.maximum(np.maximum(a, b), 1e-9), 0.0))


def _frequent(s: Signatures, common: int, rows: int) -> Callable[[np.ndarray], np.ndarray]:
    """A test of values (rows of signature positions): held by more than ``common`` live
    documents. For a few rows (an update's new pairs) the positions are counted directly, else
    sorted once and looked up (1 s at 125k documents)."""
    live = s.sig[s.count > 0]
    if live.shape[0] <= common:
        return lambda values: np.zeros(values.shape, dtype=bool)
    if rows <= DIRECT_ROWS:
        columns = np.ascontiguousarray(live.T)

        def count(values: np.ndarray) -> np.ndarray:
            held = np.stack([(columns[p] == values[:, p, None]).sum(axis=1) for p in range(values.shape[1])], axis=1)
            return np.asarray(held > common)

        return count
    columns = np.sort(live, axis=0)

    def test(values: np.ndarray) -> np.ndarray:
        result = np.zeros(values.shape, dtype=bool)
        for p in range(values.shape[1]):
            column = columns[:, p]
            held = np.searchsorted(column, values[:, p], "right") - np.searchsorted(column, values[:, p], "left")
            result[:, p] = held > common
        return result

    return test


def verified_pairs(s: Signatures, pairs: np.ndarray, threshold: float = SHARED) -> list[tuple[int, int]]:
    """The candidate pairs that are reposts: enough shared text, both long enough
    (:data:`MIN_SHINGLES`), dates (where both have one) at most :data:`MAX_DAYS_APART` apart."""
    if not len(pairs):
        return []
    a, b = pairs[:, 0], pairs[:, 1]
    day_a, day_b = s.day[a].astype(np.int64), s.day[b].astype(np.int64)
    dated = (day_a != NO_DATE) & (day_b != NO_DATE)
    close = ~dated | (np.abs(day_a - day_b) <= MAX_DAYS_APART)
    long_enough = (s.count[a] >= MIN_SHINGLES) & (s.count[b] >= MIN_SHINGLES)
    keep = close & long_enough
    keep[keep] = shared_share(s, pairs[keep]) >= threshold
    return [(int(x), int(y)) for x, y in pairs[keep]]


@dataclass(frozen=True)
class DuplicateGroups:
    """A generation's groups of reposts, for search and display."""

    canonical: dict[str, str] = field(default_factory=dict)  # member id -> canonical id
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)  # canonical id -> all, canonical first

    def __bool__(self) -> bool:
        return bool(self.members)

    @classmethod
    def from_groups(cls, groups: Iterable[Iterable[str]]) -> DuplicateGroups:
        members = {g[0]: g for g in (tuple(x) for x in groups) if len(g) > 1}
        return cls({d: c for c, g in members.items() for d in g}, members)

    @classmethod
    def load(cls, generation: Path) -> DuplicateGroups:
        """The groups of ``generation``; none for an index built before they were stored."""
        path = generation / DUPLICATES
        if not path.is_file():
            return cls()
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
            return cls.from_groups(data["groups"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(f"{DUPLICATES} in {generation} ist beschädigt: {exc}") from None

    def others(self, doc_id: str) -> tuple[str, ...]:
        """The other copies of ``doc_id`` (canonical first), none when it stands alone."""
        canonical = self.canonical.get(doc_id)
        return tuple(d for d in self.members[canonical] if d != doc_id) if canonical else ()

    def group_numbers(self, number_of: dict[str, int], documents: int) -> np.ndarray:
        """Per document number: its group's canonical document number, or -1 when alone."""
        result = np.full(documents, -1, dtype=np.int64)
        for doc_id, canonical in self.canonical.items():
            if doc_id in number_of and canonical in number_of:
                result[number_of[doc_id]] = number_of[canonical]
        return result


def copy_label(doc: Document) -> str:
    """How a copy is named beside a hit ("auch veröffentlicht bei …"): its site when the document
    knows its address (a ``url`` field, where the corpus has ``<file>.meta.json`` sidecars), else
    its document id."""
    url = getattr(doc, "url", None)
    if isinstance(url, str) and url:
        host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url, flags=re.IGNORECASE).split("/", 1)[0]
        return host.removeprefix("www.") or doc.id
    return doc.id
