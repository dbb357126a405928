"""A full disk during an update (issue 14, item 8): the previous index stays in use with its files
byte for byte as before (the bytes the failed build appended to the shared append-only files are
cut off again), and the user reads one German sentence instead of a traceback.

The disk is a real 2 MB tmpfs where this process may mount one (root); elsewhere a full disk is
simulated: the writer's appends fail with ENOSPC once a budget is spent.
"""

from __future__ import annotations

import errno
import hashlib
import io
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import lexical_index, write_corpus

from assistant.cli import ensure_index, main
from assistant.errors import IndexWriteError
from assistant.index import writer
from assistant.index.build import build_index
from assistant.pipeline import Assistant

WORDS = "Förderung Cluster Wasserstoff Netzwerk Innovation Mittelstand Projekt Veranstaltung Antrag Frist".split()
# Free space left for the update, in KiB: each level runs out at another step of the build on
# the 2 MB tmpfs (appending texts, the n-gram ids, numpy's arrays, the JSON files).
FREE_KIB = (100, 400, 750, 1000)


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) + str(rng.randrange(10**6)) for _ in range(words)) + "."


class SmallDisk:
    """A folder on a 2 MB tmpfs (``real``), or on the ordinary disk with a simulated limit."""

    def __init__(self, path: Path, real: bool) -> None:
        self.path = path
        self.real = real

    def leave_free(self, free: int, monkeypatch: pytest.MonkeyPatch) -> None:
        """Fill the disk until only ``free`` bytes are left."""
        if self.real:
            with open(self.path / "ballast", "wb") as handle:
                handle.write(b"\0" * max(shutil.disk_usage(self.path).free - free, 0))
            return
        budget = [free // 8]  # the appends are a small part of what a build writes

        class Full(io.BufferedWriter):
            def write(self, data) -> int:  # type: ignore[override]
                if len(data) > budget[0]:
                    raise OSError(errno.ENOSPC, "No space left on device")
                budget[0] -= len(data)
                return super().write(data)

        def open_(file, mode="r", *args, **kwargs):
            if mode == "ab":
                return Full(io.FileIO(file, "a"))
            return open(file, mode, *args, **kwargs)

        monkeypatch.setattr(writer, "open", open_, raising=False)

    def used(self) -> int:
        return shutil.disk_usage(self.path).used if self.real else 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    mount = tmp_path / "klein"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, check=False
    )
    yield SmallDisk(mount, real=done.returncode == 0)
    if done.returncode == 0:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _snapshot(index_dir: Path) -> dict[str, tuple[int, str]]:
    """Every file of the index folder: size and digest."""
    return {
        str(p.relative_to(index_dir)): (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(index_dir.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def _old_and_new(tmp_path: Path, disk: SmallDisk):
    """An index of three documents on the small disk, then twenty new ones in the corpus."""
    rng = random.Random(5)
    corpus = write_corpus(tmp_path / "corpus", {f"alt{i}.txt": f"Alt {i}\n\n" + _text(rng, 300) for i in range(3)})
    corpus.joinpath("alt0.txt").write_text("Alt 0\n\nDie Quantenbäckerei in Münster backt.", encoding="utf-8")
    settings = lexical_index(corpus, disk.path / "index")
    write_corpus(corpus, {f"neu{i}.txt": f"Neu {i}\n\n" + _text(rng, 1000) for i in range(8)})
    return settings


@pytest.mark.parametrize("free_kib", FREE_KIB)
def test_a_full_disk_leaves_the_previous_index_byte_for_byte(tmp_path, small_disk, monkeypatch, free_kib):
    settings = _old_and_new(tmp_path, small_disk)
    before = _snapshot(settings.index_dir)
    used = small_disk.used()
    small_disk.leave_free(free_kib * 1024, monkeypatch)
    ballast = small_disk.used() - used
    with pytest.raises(IndexWriteError) as raised:
        build_index(settings)
    message = str(raised.value)
    assert "Speicherplatz" in message and "bisherige Index bleibt" in message, message
    # Nothing of the failed build is left: no staging folder, no appended tail, no new generation.
    assert _snapshot(settings.index_dir) == before
    assert small_disk.used() - ballast <= used
    hits = Assistant.open(settings).search("Quantenbäckerei Münster", 1)
    assert hits and hits[0].chunk.doc_id == "alt0.txt"
    # With space again, the update goes through.
    (small_disk.path / "ballast").unlink(missing_ok=True)
    monkeypatch.undo()
    assert len(build_index(settings).added) == 8


def test_the_command_says_so_in_german_without_a_traceback(tmp_path, small_disk, monkeypatch, capsys):
    settings = _old_and_new(tmp_path, small_disk)
    before = _snapshot(settings.index_dir)
    small_disk.leave_free(100 * 1024, monkeypatch)
    code = main(["index", "--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir), "--model", "none"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("Fehler: Kein Speicherplatz mehr frei") and "Traceback" not in err, err
    assert _snapshot(settings.index_dir) == before


def test_the_chat_starts_with_the_previous_index_when_the_update_cannot_be_written(tmp_path, small_disk, monkeypatch):
    settings = _old_and_new(tmp_path, small_disk)
    small_disk.leave_free(100 * 1024, monkeypatch)
    out = io.StringIO()
    assert ensure_index(settings, out) is None
    assert "Warnung: Kein Speicherplatz mehr frei" in out.getvalue() and "bisherige Index" in out.getvalue()
    assert Assistant.open(settings).search("Quantenbäckerei Münster", 1)[0].chunk.doc_id == "alt0.txt"
