"""Indexing over worker processes (index_workers): the same generation, byte for byte, as in one
process; a worker that dies costs only its file."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from itertools import accumulate
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings, default_index_workers
from assistant.index.build import build_index
from assistant.index.parallel import MIN_POOL_ITEMS, Workers, WorkerSettings, chunk_document
from assistant.index.word_ids import WordIds
from assistant.text.german import default_stopwords

TIMES = ("created_at", "scanned_at_ns")  # the only fields of a generation that record times

WORDS = (
    "Das Netzwerk lädt am 20. Oktober 2022 zum Jahrestreffen der Cluster in Bremen ein. "
    "Der Nachhaltigkeitsbericht des Innovationsclusters nennt das Förderprogramm der Region. "
    "Die Mitarbeiterinnen und Mitarbeiter stellen Wasserstofftechnik und Kreislaufwirtschaft vor. "
    "Kolleg*innen aus Liberia und Kanada berichten über Autos, Batterien und Solarzellen. "
).split()


def _text(i: int) -> str:
    """A document of its own: the words in an order and length of its own, paragraphs between."""
    pick = random.Random(i)
    words = [pick.choice(WORDS) for _ in range(60 + 37 * (i % 9))]
    paragraphs = [" ".join(words[k : k + 40]) for k in range(0, len(words), 40)]
    return f"Meldung {i} vom {1 + i % 28}. März 2021\n\n" + "\n\n".join(paragraphs) + "\n"


def _corpus(folder: Path, first: int, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(first, first + count):
        (folder / f"meldung-{i:03d}.txt").write_text(_text(i), encoding="utf-8")
    long = " ".join(_text(first + k) for k in range(3))
    (folder / f"repost-{first}-a.txt").write_text(long, encoding="utf-8")  # reposted: a duplicate group
    (folder / f"repost-{first}-b.txt").write_text(long + "\nQuelle: Pressestelle", encoding="utf-8")
    (folder / f"leer-{first}.txt").write_text("  \n", encoding="utf-8")  # skipped: empty
    (folder / f"kaputt-{first}.pdf").write_bytes(b"%PDF-1.4 kein echtes PDF")  # skipped: unreadable


def _settings(corpus: Path, index: Path, workers: int) -> Settings:
    return Settings(
        corpus_dir=corpus, index_dir=index, model="none", reader="none", progress=False, index_workers=workers
    )


def _same_generation(one: Path, two: Path) -> None:
    """Every file of the two current generations byte for byte, the manifest but for its times."""
    gen_one = one / (one / "CURRENT").read_text().strip()
    gen_two = two / (two / "CURRENT").read_text().strip()
    files = sorted(p.relative_to(gen_one) for p in gen_one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(gen_two) for p in gen_two.rglob("*") if p.is_file())
    assert len(files) > 10
    for name in files:
        a, b = (gen_one / name).read_bytes(), (gen_two / name).read_bytes()
        if name == Path("manifest.json"):
            left, right = json.loads(a), json.loads(b)
            assert all(k in left for k in TIMES)
            for key in TIMES:
                del left[key], right[key]
            assert left == right
        else:
            assert a == b, name


def test_two_workers_write_the_same_generation_as_one(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    _corpus(corpus, 0, MIN_POOL_ITEMS + 8)
    one = build_index(_settings(corpus, tmp_path / "one", 1))
    two = build_index(_settings(corpus, tmp_path / "two", 2))
    assert (one.workers, two.workers) == (1, 2)  # the second build did use the pool
    assert one.chunks == two.chunks > MIN_POOL_ITEMS
    assert [s.path for s in two.skipped] == [s.path for s in one.skipped] == ["kaputt-0.pdf", "leer-0.txt"]
    assert [s.reason for s in two.skipped] == [s.reason for s in one.skipped]
    assert two.duplicate_groups == one.duplicate_groups
    assert ["repost-0-a.txt", "repost-0-b.txt"] in two.duplicate_groups
    _same_generation(tmp_path / "one", tmp_path / "two")

    # An update: new documents (their words extend the vocabulary) and a changed one.
    _corpus(corpus, 100, MIN_POOL_ITEMS + 4)
    (corpus / "meldung-003.txt").write_text(_text(3) + "Nachtrag: Wasserstoffspeicher.\n", encoding="utf-8")
    one = build_index(_settings(corpus, tmp_path / "one", 1))
    two = build_index(_settings(corpus, tmp_path / "two", 2))
    assert two.workers == 2 and one.changed == two.changed == ["meldung-003.txt"]
    assert len(two.added) == MIN_POOL_ITEMS + 6
    _same_generation(tmp_path / "one", tmp_path / "two")


def test_a_small_update_stays_in_the_building_process(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    _corpus(corpus, 0, 3)
    report = build_index(_settings(corpus, tmp_path / "index", 2))
    assert report.workers == 1 and report.chunks > 0  # starting workers would cost more than it saves


def explode(item: str) -> str:
    """Ends the worker process on ``boom``, as the OOM killer or a crash in a C parser would."""
    if item == "boom":
        os._exit(3)
    return item.upper()


def test_a_worker_that_dies_costs_only_its_item(tmp_path: Path) -> None:
    items = [f"datei-{i}" for i in range(MIN_POOL_ITEMS + 10)]
    items[17] = "boom"
    workers = Workers(WorkerSettings(10_000, 1000, 150, default_stopwords()), 2)
    try:
        results = list(workers.map(explode, items, len(items), lambda item: f"übersprungen: {item}", batch=4))
    finally:
        workers.close()
    assert workers.pooled
    assert results == [f"DATEI-{i}" if i != 17 else "übersprungen: boom" for i in range(len(items))]


def test_index_workers_setting() -> None:
    assert 1 <= Settings().index_workers == default_index_workers() <= 8
    assert Settings.load(env={"ASSISTANT_INDEX_WORKERS": "3"}).index_workers == 3
    with pytest.raises(Exception, match="index_workers=0 ist ungültig: erlaubt sind 1"):
        Settings(index_workers=0)


def chunk_or_die(place: tuple[str, int, int]):
    """chunk_document, but the worker process ends on a text stored in a file named ``boom``."""
    if place[0].endswith("boom"):
        os._exit(3)
    return chunk_document(place)


def test_word_ids_survive_a_worker_that_dies(tmp_path: Path) -> None:
    """Each worker sends a word's text only the first time it meets it; after a crash the pool's
    fresh workers start over. The building process's ids are those of one process all the same."""
    settings = WorkerSettings(10_000, 300, 50, default_stopwords())
    places = []
    for name in ("texts", "boom"):
        texts = [_text(i) for i in range(MIN_POOL_ITEMS + 12)] if name == "texts" else [_text(99)]
        data = "".join(texts).encode("utf-8")
        (tmp_path / name).write_bytes(data)
        ends = list(accumulate(len(t.encode("utf-8")) for t in texts))
        places += [(str(tmp_path / name), a, b) for a, b in zip([0, *ends[:-1]], ends, strict=True)]
    places.insert(20, places.pop())  # the text that ends its worker comes in the middle

    def ids(workers: int, fn) -> tuple[list[str], list[list[np.ndarray]]]:
        here = Workers(settings, 1)
        pool = Workers(settings, workers)
        table = WordIds([lambda word: [len(word)]])
        try:
            results = pool.map(fn, places, len(places), lambda p: next(here.map(chunk_document, [p], 1, None)))
            rows = [table.rows(r.worker, r.new_words, r.ids, r.lengths)[0] for r in results]
        finally:
            pool.close()
        assert pool.pooled == (workers > 1)
        return list(table.number), rows

    one_words, one_rows = ids(1, chunk_document)
    two_words, two_rows = ids(2, chunk_or_die)
    assert two_words == one_words and len(one_words) > 20
    assert len(two_rows) == len(one_rows) == len(places)
    for a, b in zip(one_rows, two_rows, strict=True):
        assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def double_or_die_late(item: int) -> int:
    """2 * item; on -1 the worker ends, a second later (after the batches before it are done)."""
    if item == -1:
        time.sleep(1.0)
        os._exit(3)
    return 2 * item


def test_a_worker_that_dies_while_results_are_read_costs_only_its_item(tmp_path: Path) -> None:
    """The pool breaks while the caller is still busy with a result already in: the next batch
    handed to the broken pool is retried like the one whose worker died (it used to raise
    BrokenProcessPool to the build, seen in a full test run)."""
    settings = WorkerSettings(10_000, 300, 50, default_stopwords())
    items = list(range(MIN_POOL_ITEMS + 24))
    items[9] = -1  # in the second batch of 8
    pool = Workers(settings, 2)
    got = []
    try:
        for k, value in enumerate(pool.map(double_or_die_late, items, len(items), lambda item: None)):
            if k == 0:
                time.sleep(3.0)  # the worker of the second batch ends meanwhile
            got.append(value)
    finally:
        pool.close()
    assert got == [None if i == -1 else 2 * i for i in items]


ROOT = Path(__file__).resolve().parents[1]
_ORPHAN = """
import multiprocessing, os, sys, time

def worker():
    time.sleep(1.0)  # the parent is gone by now: no PR_SET_PDEATHSIG will reach this process
    from assistant.index.parallel import _die_with_parent
    _die_with_parent()
    time.sleep(60)

if __name__ == "__main__":
    multiprocessing.set_start_method("spawn")
    child = multiprocessing.Process(target=worker)
    child.start()
    with open(sys.argv[1], "w") as out:
        out.write(str(child.pid))
    os._exit(0)  # gone at once, as after a SIGKILL: no joining of the child
"""


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux only")
def test_a_worker_whose_parent_died_while_it_started_ends(tmp_path):
    """A build killed while a worker was still starting: the worker's death signal was set after
    its parent had gone, so it must see that itself and end, not wait for tasks forever holding
    the build's output pipe (tests/test_robustness.py once timed out on such a worker)."""
    script = tmp_path / "orphan.py"
    script.write_text(_ORPHAN, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    pid_file = tmp_path / "pid"
    subprocess.run(
        [sys.executable, str(script), str(pid_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=True,
    )
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        if Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.1)
    alive = Path(f"/proc/{pid}").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    if alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, "the orphaned worker still runs"
