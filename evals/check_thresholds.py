"""CI gate: the shipped test set, lexical-only, must not fall below the thresholds.

    .venv/bin/python evals/check_thresholds.py [--testset evals/cluster_qa.jsonl] [--out DIR]

Indexes corpus/ into a temporary folder (model none, retrieval lexical, k = 10, no ASSISTANT_*
settings from the environment), answers every question of evals/cluster_qa.jsonl and compares the
overall figures with THRESHOLDS. Prints one line per figure; exits 1 when one is below its
threshold (or above, for latency), 2 when the run itself fails. With --out the results and the
report stay in DIR. Why each threshold is where it is: evals/README.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.errors import AssistantError
from assistant.eval.run import evaluate
from assistant.eval.variants import make_variants

# Measured (evals/README.md): hit@1 0.947, hit@5 0.982, MRR@10 0.959, nDCG@10 0.963,
# containment 0.842, exact match 0.140, token F1 0.311, citation precision 0.977, abstention
# precision 0.75 / recall 0.9, correct 0.851. 57 answerable questions (one = 0.018), 10
# unanswerable (one = 0.1), 67 in all (one = 0.015): each threshold sits about 2.5 questions below
# the measured figure.
THRESHOLDS: dict[str, float] = {
    "hit@1": 0.90,
    "hit@5": 0.93,
    "mrr@10": 0.90,
    "ndcg@10": 0.90,
    "containment": 0.80,
    "exact_match": 0.10,
    "token_f1": 0.26,
    "citation_precision": 0.94,
    "abstention_recall": 0.65,
    "abstention_precision": 0.62,
    "correct": 0.80,
}
# Upper bounds. Latency depends on the machine: only a gross slowdown (20x) should fail.
MAXIMA: dict[str, float] = {"latency_p95_ms": 1000.0}


def check(
    overall: dict[str, Any], minima: dict[str, float] = THRESHOLDS, maxima: dict[str, float] = MAXIMA
) -> list[tuple[str, Any, str, bool]]:
    """``(figure, value, bound, ok)`` per threshold; a missing figure fails."""
    rows = []
    for name, bound in minima.items():
        value = overall.get(name)
        rows.append((name, value, f">= {bound}", value is not None and value >= bound))
    for name, bound in maxima.items():
        value = overall.get(name)
        rows.append((name, value, f"<= {bound}", value is not None and value <= bound))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--testset", type=Path, default=ROOT / "evals" / "cluster_qa.jsonl")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--out", type=Path, help="keep results and report here (default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="assistant-gate-") as tmp:
        out = args.out or Path(tmp) / "out"
        variants = make_variants(
            ["retrieval=lexical,model=none"], k=10, env={}, corpus_dir=args.corpus, index_dir=Path(tmp) / "index"
        )
        try:
            result = evaluate(
                args.testset, variants, out, 10, fresh=True, report=args.out is not None, log=lambda message: None
            )
        except AssistantError as exc:
            print(f"Fehler: {exc}", file=sys.stderr)
            return 2
        rows = check(result.metrics["variants"][0]["overall"])
    failed = [r for r in rows if not r[3]]
    for name, value, bound, ok in rows:
        shown = "–" if value is None else f"{value:.4g}"
        print(f"{'ok  ' if ok else 'FAIL'} {name:<22} {shown:>8}  (Schwelle {bound})")
    print(
        f"{len(rows) - len(failed)} von {len(rows)} Schwellen eingehalten"
        + (f"; unterschritten: {', '.join(r[0] for r in failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
