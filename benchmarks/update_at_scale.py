"""One changed document and a cold `assistant ask` on a large index (issue 16: at 1M chunks one
changed document ≤ 1.5 s, cold start ≤ 1 s lexical-only).

Grows the bench corpus of `assistant bench` (10kGNAD news and GermanQuAD passages, synthetic
384-d vectors) into ``--work`` once, builds its index once (kept, so the measurement can be
repeated: ~13 min and ~6 GB at 1M), then measures in one run:

- ``update_s``: ``build_index`` in this process (imports done, as `assistant bench` measures it)
  after one document was changed, each of ``--repeat`` times, with the time of each step;
- ``update_fresh_process_s``: the same in a new Python process each time, imports and lazy
  imports counted (what `assistant index` after one edit costs, the CLI's own start aside);
- ``walk_floor_s``: ``os.walk`` and one ``os.stat`` per file over the corpus, in the same run: what
  any update must at least do to see which files changed (the machine's speed at that moment:
  the shared 2-core machines here vary by 1.5x within minutes, the ratio less);
- ``cold_start_s``: a fresh ``assistant ask`` process, lexical-only and ``ASSISTANT_READER=none``,
  each of ``--repeat`` times; ``cold_start_reader_failover_s`` the same with the default reader
  setting, whose model cannot be found offline (the fail-over's wait counts).

    .venv/bin/python benchmarks/update_at_scale.py --chunks 1000000 --work /var/tmp/scale [--json out.json]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from assistant.bench.scale import DEFAULT_DATA, SyntheticEmbedder, grow_corpus
from assistant.config import Settings
from assistant.index import build, duplicate_build, writer
from assistant.index.format import read_manifest

QUESTION = "Wie hoch ist das Budget von COSME?"
# One update in a new process (the synthetic embedder stands in for the model, as above).
FRESH_UPDATE = (
    "import sys; from pathlib import Path; from assistant.config import Settings; "
    "from assistant.bench.scale import SyntheticEmbedder; from assistant.index.build import build_index; "
    "work = Path(sys.argv[1]); build_index(Settings(corpus_dir=work / 'corpus', index_dir=work / 'index', "
    "model=SyntheticEmbedder.name, progress=False), embedder=SyntheticEmbedder())"
)
STEPS: dict[str, float] = {}


def _timed(owner: Any, name: str, label: str) -> None:
    """Add the time spent in ``owner.name`` to STEPS[label]."""
    inner = getattr(owner, name)

    @functools.wraps(inner)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            STEPS[label] = STEPS.get(label, 0.0) + time.perf_counter() - started

    setattr(owner, name, wrapper)


def walk_floor(corpus: Path) -> float:
    """Seconds for ``os.walk`` and one ``os.stat`` a file over ``corpus``."""
    started = time.perf_counter()
    for folder, _folders, files in os.walk(corpus):
        for name in files:
            os.stat(os.path.join(folder, name))
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, required=True, help="folder for the corpus and index (kept)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    settings = Settings(
        corpus_dir=args.work / "corpus", index_dir=args.work / "index", model=SyntheticEmbedder.name, progress=False
    )
    embedder = SyntheticEmbedder()
    if not settings.corpus_dir.exists():
        print(f"Korpus mit etwa {args.chunks} Abschnitten erzeugen …", flush=True)
        grow_corpus(settings.corpus_dir, args.chunks, DEFAULT_DATA, settings.chunk_size)
    report = build.build_index(settings, embedder=embedder)  # the first build, or nothing to do
    print(f"Index: {report.chunks} Abschnitte, {report.documents} Dokumente ({report.seconds:.0f} s)", flush=True)
    for owner, name, label in (
        (build, "scan_corpus", "scan"),
        (build, "load_previous", "load_previous"),
        (build._Build, "read_documents", "read_documents"),
        (build._Build, "add_chunks", "add_chunks"),
        (duplicate_build.DuplicateBuilder, "finish", "reposts"),
        (writer.GenerationBuilder, "commit", "write_and_switch"),
    ):
        _timed(owner, name, label)
    changed = next(iter(sorted(settings.corpus_dir.rglob("*.txt"))))
    original = changed.read_text(encoding="utf-8")
    updates: list[dict[str, Any]] = []
    fresh: list[float] = []
    floors: list[float] = []
    try:
        for i in range(args.repeat):
            floors.append(round(walk_floor(settings.corpus_dir), 3))
            changed.write_text(original + f"\n\nNachtrag {i} zur Messung.", encoding="utf-8")
            STEPS.clear()
            started = time.perf_counter()
            result = build.build_index(settings, embedder=embedder)
            seconds = time.perf_counter() - started
            assert result.changed == [changed.relative_to(settings.corpus_dir).as_posix()], result.changed
            updates.append({"seconds": round(seconds, 2), **{k: round(v, 3) for k, v in STEPS.items()}})
            changed.write_text(original + f"\n\nNachtrag {i} im neuen Prozess.", encoding="utf-8")
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", FRESH_UPDATE, str(args.work)], check=True, capture_output=True)
            fresh.append(round(time.perf_counter() - started, 2))
            print(
                f"ein geändertes Dokument: {seconds:.2f} s {updates[-1]}, im neuen Prozess {fresh[-1]:.2f} s "
                f"(os.walk+stat: {floors[-1]:.2f} s)",
                flush=True,
            )
    finally:
        changed.write_text(original, encoding="utf-8")
    build.build_index(settings, embedder=embedder)
    env = dict(os.environ, ASSISTANT_MODEL="none", ASSISTANT_RETRIEVAL="lexical", ASSISTANT_READER="none")
    command = [sys.executable, "-m", "assistant.cli", "ask", QUESTION, "--index", str(settings.index_dir)]
    command += ["--corpus", str(settings.corpus_dir)]
    cold: list[float] = []
    failover: list[float] = []  # the default reader setting: offline, its fail-over (hub_timeout) counts
    for _ in range(args.repeat):
        for times, environment in ((cold, env), (failover, {k: v for k, v in env.items() if k != "ASSISTANT_READER"})):
            started = time.perf_counter()
            subprocess.run(command, env=environment, check=True, capture_output=True)
            times.append(round(time.perf_counter() - started, 2))
        print(f"Kaltstart assistant ask: {cold[-1]:.2f} s (mit Lesemodell-Fallback {failover[-1]:.2f} s)", flush=True)
    manifest = read_manifest(settings.index_dir)
    out = {
        "chunks": manifest.chunks,
        "documents": manifest.document_count,
        "update_s": [u["seconds"] for u in updates],
        "update_median_s": statistics.median(u["seconds"] for u in updates),
        "update_steps": updates,
        "update_fresh_process_s": fresh,
        "update_fresh_process_median_s": statistics.median(fresh),
        "walk_floor_s": floors,
        "update_over_walk_floor": round(
            statistics.median(u["seconds"] for u in updates) / statistics.median(floors), 2
        ),
        "cold_start_s": cold,
        "cold_start_median_s": statistics.median(cold),
        "cold_start_reader_failover_s": failover,
    }
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
