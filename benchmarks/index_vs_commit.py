"""A full index build of the same corpus by an earlier commit's code and by this checkout's, in
turns, in one run (issue 16: "≥ 1.7× today's chunks/s at 100k chunks" with all cores).

The earlier code is checked out into a temporary git worktree (detached) and run with this
checkout's virtual environment; each build runs in a fresh process with the synthetic 384-d
vectors of `assistant bench`, over a corpus grown as `assistant bench` grows it (kept in
``--work``). Prints the seconds and chunks/s of each build and the ratio of the best of each.

    .venv/bin/python benchmarks/index_vs_commit.py --before 935929c^ --chunks 100000 --work /var/tmp/vs \
        [--repeat 2] [--workers N]

(935929c is the commit that brought the process pool; its parent is the code the issue measured.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import json, resource, shutil, sys, time
from pathlib import Path
from assistant.bench.scale import SyntheticEmbedder
from assistant.config import Settings
from assistant.index import build
corpus, index, workers = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
shutil.rmtree(index, ignore_errors=True)
extra = {"index_workers": int(workers)} if workers else {}  # else the default (code before the pool has none)
settings = Settings(corpus_dir=corpus, index_dir=index, model=SyntheticEmbedder.name, progress=False, **extra)
started = time.perf_counter()
report = build.build_index(settings, embedder=SyntheticEmbedder())
seconds = time.perf_counter() - started
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
worker_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest worker's peak
out = {"seconds": round(seconds, 2), "chunks": report.chunks, "peak_rss_mb": round(rss)}
print(json.dumps({**out, "worker_peak_rss_mb": round(worker_rss)}))
"""


def build_once(code: Path, corpus: Path, index: Path, workers: int = 0) -> dict:
    env = dict(os.environ, PYTHONPATH=str(code))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(corpus), str(index), str(workers or "")],
        check=False,
        env=env,
        cwd=code,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"Bau mit {code} fehlgeschlagen:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the earlier commit (git revision)")
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--work", type=Path, required=True, help="folder for the corpus and the indexes (kept)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--workers", type=int, default=0, help="index_workers of both builds (default: the setting's default)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    corpus = args.work / "corpus"
    if not corpus.exists():
        from assistant.bench.scale import DEFAULT_DATA, grow_corpus

        grow_corpus(corpus, args.chunks, DEFAULT_DATA, 1000)
    results: dict[str, list[dict]] = {"before": [], "now": []}
    with tempfile.TemporaryDirectory(prefix="index-vs-") as scratch:
        old = Path(scratch) / "before"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(old), args.before], check=True)
        try:
            for _ in range(args.repeat):
                for name, code in (("before", old), ("now", ROOT)):
                    result = build_once(code, corpus, args.work / f"index-{name}", args.workers)
                    results[name].append(result)
                    print(name, result, flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False)
    best = {name: min(r["seconds"] for r in runs) for name, runs in results.items()}
    chunks = results["now"][0]["chunks"]
    out = {
        "before": args.before,
        "chunks": chunks,
        "runs": results,
        "before_chunks_per_s": round(chunks / best["before"]),
        "now_chunks_per_s": round(chunks / best["now"]),
        "speedup": round(best["before"] / best["now"], 2),
    }
    print(json.dumps({k: v for k, v in out.items() if k != "runs"}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
