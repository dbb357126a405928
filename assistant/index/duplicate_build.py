"""Finding the groups of reposts during a build (the rules are in :mod:`.duplicates`).

A full build, and an update that rebuilds the search structures' base (the 20 % rule of
:data:`~assistant.index.build.MERGE_SHARE`), compares all documents. Any other update keeps the
previous groups and compares only its new and changed documents with all others: their
candidates are the documents sharing a band with them, checked as in a full build. A group that
lost a member (changed or removed) has its remaining members' pairs checked again, so a copy
that only agreed with the lost one leaves. What an update does not redo is the boilerplate
statistic of the pairs it keeps (a shingle becoming common through the new documents); the next
base rebuild does. At 125k documents this takes an update of one document from 6.1 s to
about 0.3 s (README.md, "Growing").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import combinations
from pathlib import Path

import numpy as np

from ..types import Document
from .duplicates import (
    BAND_ROWS,
    BANDS,
    MAX_BUCKET,
    NO_DATE,
    NUM_PERM,
    VERSION,
    Signatures,
    band_key,
    find_groups,
    groups_of,
    signature,
    verified_pairs,
)
from .format import DUPLICATES, Tables, write_json

# More new documents than this in one update: all pairs again (the per-document lookups would
# cost more than one sort of every band).
INCREMENTAL_MAX = 2000
# Up to this many new documents, each one's band values are compared directly (about 40 ms a
# document at 125k documents), beyond it one key per band is made for all documents (0.12 s).
FEW = 2


class DuplicateBuilder:
    """Collects the signatures of a build's new documents and finds the groups at commit."""

    def __init__(self, previous: Path | None, read_previous: Callable[[int], Document] | None) -> None:
        """``previous``: the previous generation's folder, ``read_previous`` its documents by number."""
        self.read_previous = read_previous
        self.stored = Signatures.load(previous) if previous is not None else None
        self.previous_groups = _stored_groups(previous) if previous is not None else None
        self.new: dict[int, tuple[np.ndarray, int, int]] = {}

    def add(self, number: int, doc: Document) -> None:
        """A document the builder added as ``number``."""
        sig, count = signature(doc.text)
        self.new[number] = (sig, count, doc.date.start.toordinal() if doc.date else NO_DATE)

    def add_signature(self, number: int, doc: Document, sig: np.ndarray, count: int) -> None:
        """As :meth:`add`, with the signature and shingle count already computed (a worker's)."""
        self.new[number] = (sig, count, doc.date.start.toordinal() if doc.date else NO_DATE)

    def finish(
        self,
        tables: Tables,
        doc_ids: list[str],
        staging: Path,
        regroup: bool = True,
        append: Callable[[str, int, bytes], bool] | None = None,
    ) -> list[list[str]]:
        """Write the signatures and groups of the generation's live documents; the groups.
        ``regroup``: compare all documents (else only the new ones, when the previous groups and
        signatures are there); ``append``: extends the previous generation's signature file
        (see :meth:`Signatures.save`)."""
        n = tables.documents
        done = Signatures()
        done.sig = np.zeros((n, NUM_PERM), dtype=np.uint32)
        done.count = np.zeros(n, dtype=np.int32)
        done.day = np.full(n, NO_DATE, dtype=np.int32)
        stored, have, k = self.stored, np.zeros(n, dtype=bool), 0
        if stored is not None:
            k = min(n, stored.count.shape[0])
            done.sig[:k], done.count[:k], done.day[:k] = stored.sig[:k], stored.count[:k], stored.day[:k]
            have[:k] = True
        for number, (sig, count, day) in self.new.items():
            done.sig[number], done.count[number], done.day[number] = sig, count, day
            have[number] = True
        live = tables.doc_live.astype(bool)
        missing = np.flatnonzero(live & ~have).tolist()
        for number in missing:  # an older index: its documents once
            assert self.read_previous is not None
            self.add(number, self.read_previous(number))
            done.sig[number], done.count[number], done.day[number] = self.new[number]
        done.count[~live] = 0  # left or changed: its row stays, it takes no part
        done.save(staging, append, k)  # rows before k are the stored ones, unchanged
        old = self.previous_groups
        if regroup or old is None or missing or len(self.new) > INCREMENTAL_MAX:
            groups = find_groups(done, doc_ids)
        else:
            groups = update_groups(done, doc_ids, old, sorted(self.new))
        write_json(staging / DUPLICATES, {"version": VERSION, "groups": groups})
        return groups


def update_groups(s: Signatures, doc_ids: list[str], old: list[list[str]], new: list[int]) -> list[list[str]]:
    """The groups after an update: ``old`` (the previous generation's, by doc id) without the
    documents that left or changed, the pairs of a group that lost a member checked again, and
    the verified pairs of the ``new`` document numbers with all live documents."""
    live_number = {d: i for i, d in enumerate(doc_ids) if s.count[i] > 0}
    fresh = set(new)
    kept: list[tuple[int, int]] = []
    recheck: list[tuple[int, int]] = []
    for group in old:
        members = [live_number[d] for d in group if d in live_number and live_number[d] not in fresh]
        if len(members) < 2:
            continue
        if len(members) == len(group):
            kept.extend((members[0], m) for m in members[1:])
        else:
            recheck.extend(combinations(sorted(members), 2))
    candidates = np.concatenate([_candidates_of(s, new), np.asarray(recheck, dtype=np.int64).reshape(-1, 2)])
    pairs = np.unique(candidates, axis=0) if len(candidates) else candidates
    return groups_of([*kept, *verified_pairs(s, pairs)], s, doc_ids)


def _candidates_of(s: Signatures, numbers: list[int]) -> np.ndarray:
    """Pairs (i < j) of a document of ``numbers`` and any live document agreeing on a band with
    it, buckets over :data:`MAX_BUCKET` left out as in a full build (n × 2)."""
    new = [i for i in numbers if s.count[i] > 0]
    if not new:
        return np.zeros((0, 2), dtype=np.int64)
    found: list[tuple[int, int]] = []
    for number, bucket in _buckets(s, new) if len(new) <= FEW else _buckets_by_key(s, new):
        if 1 < bucket.size <= MAX_BUCKET:
            found.extend((min(number, b), max(number, b)) for b in bucket.tolist() if b != number)
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    return np.unique(np.asarray(found, dtype=np.int64), axis=0)


def _buckets(s: Signatures, new: list[int]) -> Iterator[tuple[int, np.ndarray]]:
    """(document, live documents with its values in a band), band by band, by comparing the
    band's first position over all documents and the other two among those that agree."""
    sig, live = s.sig, s.count > 0
    for number in new:
        row = sig[number]
        for band in range(BANDS):
            c = band * BAND_ROWS
            hit = np.flatnonzero(sig[:, c] == row[c])
            for j in range(c + 1, c + BAND_ROWS):
                hit = hit[sig[hit, j] == row[j]]
            yield number, hit[live[hit]]


def _buckets_by_key(s: Signatures, new: list[int]) -> Iterator[tuple[int, np.ndarray]]:
    """As :func:`_buckets` for many documents: one key per band for all live documents."""
    active = np.flatnonzero(s.count > 0)
    sig, wanted_rows = s.sig[active], s.sig[new]
    for band in range(BANDS):
        keys = band_key(sig, band)
        wanted = band_key(wanted_rows, band)
        hit = np.flatnonzero(np.isin(keys, wanted))
        hit_keys = keys[hit]
        for number, key in zip(new, wanted.tolist(), strict=True):
            yield number, active[hit[hit_keys == key]]


def _stored_groups(generation: Path) -> list[list[str]] | None:
    """The groups the previous generation stored, None without them (or another version)."""
    try:
        data = json.loads((generation / DUPLICATES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("groups"), list):
        return None
    return [list(g) for g in data["groups"] if isinstance(g, list)]
