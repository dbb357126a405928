"""Open handles and memory of one long-running chat process over many re-indexes (issue 14, item 9).

Builds a lexical index of 40 documents of 3,000 words in a temporary folder, starts the chat's
:class:`~assistant.ui.service.Service`, then N times: changes one document, re-indexes, asks a
question. Prints, at a few points, the file descriptors to deleted files and into the index
folder, the memory maps of index files, and the resident memory (Linux only: /proc/self).

    .venv/bin/python benchmarks/reindex_resources.py [--reindexes 30]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import shutil
import tempfile
from pathlib import Path

from assistant.config import Settings
from assistant.index.build import build_index
from assistant.ui.service import Service

WORDS = "Förderung Cluster Wasserstoff Netzwerk Innovation Mittelstand Projekt Veranstaltung Antrag Frist".split()


def handles(index_dir: Path) -> str:
    deleted = inside = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        deleted += target.endswith(" (deleted)")
        inside += target.startswith(str(index_dir))
    with open("/proc/self/maps", encoding="utf-8") as maps:
        mapped = sum(str(index_dir) in line for line in maps)
    return f"descriptors to deleted files {deleted:3d}, into the index {inside:3d}, index maps {mapped:3d}"


def rss_mb() -> float:
    with open("/proc/self/status", encoding="utf-8") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reindexes", type=int, default=30)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="reindex-resources-"))
    rng = random.Random(3)
    docs = {
        f"d{i}.txt": f"Dokument {i}\n\n" + " ".join(rng.choice(WORDS) for _ in range(3000)) + "." for i in range(40)
    }
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in docs.items():
        (corpus / name).write_text(text, encoding="utf-8")
    index_dir = (root / "index").resolve()
    settings = Settings(corpus_dir=corpus, index_dir=index_dir, model="none", reader="none", progress=False)
    build_index(settings)
    service = Service(settings, data_dir=root / "data")
    service.assistant.ask("Wann läuft die Förderung?")
    start = rss_mb()
    print(f"start:     {handles(index_dir)}, RSS {start:.1f} MB")
    for i in range(args.reindexes):
        name = f"d{i % 40}.txt"
        (corpus / name).write_text(docs[name] + f" Änderung {i}.", encoding="utf-8")
        service.reindex()
        service.assistant.ask("Wann läuft die Förderung?")
        if i + 1 in (1, 10, 20, args.reindexes):
            print(f"after {i + 1:3d}: {handles(index_dir)}, RSS {rss_mb():.1f} MB")
    gc.collect()
    print(f"gc.collect: {handles(index_dir)}, RSS {rss_mb():.1f} MB")
    print(f"RSS growth over {args.reindexes} re-indexes: {rss_mb() - start:+.1f} MB")
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
