"""Errors of the span choice where the sentence is right: the chosen span against the best
candidate of the same sentence (by F1 to gold), grouped automatically by how they overlap.

    .venv/bin/python evals/ranker/span_errors.py /tmp/span-cache/results-base-f5.pkl [--show 3]
"""

from __future__ import annotations

import argparse
import pickle
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
for folder in (ROOT, Path(__file__).resolve().parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


def group_of(r: dict) -> tuple[str, int]:
    j = r["j"]
    same = r["sentence"] == r["sentence"][j]
    b = int(np.argmax(np.where(same, r["f1"], -1)))
    if r["f1"][b] < 0.5:
        return "candidate missing (best in sentence F1 < 0.5)", b
    a1, b1, a2, b2 = r["first"][j], r["last"][j], r["first"][b], r["last"][b]
    if b1 < a2 or b2 < a1:
        return "disjoint: other phrase of the right sentence", b
    if a1 <= a2 and b1 >= b2:
        return "too long (contains the best span)", b
    if a1 >= a2 and b1 <= b2:
        return "too short (inside the best span)", b
    return "shifted (partial overlap)", b


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("results", type=Path)
    p.add_argument("--show", type=int, default=3)
    args = p.parse_args()
    recs = pickle.loads(args.results.read_bytes())
    items = pickle.loads((args.results.parent / "items.pkl").read_bytes())  # same order as recs
    for r, it in zip(recs, items, strict=False):
        r["question"] = it.question.text
    errors = [
        r
        for r in recs
        if "j" in r and r["label"][r["sentence"][r["j"]]] and r["outcome"].short(r["threshold"])[1] < 0.5
    ]
    right = [r for r in recs if "j" in r and r["label"][r["sentence"][r["j"]]]]
    print(f"{len(recs)} questions; span's sentence holds gold: {len(right)}; of those span F1 < 0.5: {len(errors)}")
    groups: dict[str, list] = defaultdict(list)
    for r in errors:
        g, b = group_of(r)
        groups[g].append((r, b))
    for g, members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        gained = np.mean([m[0]["f1"][m[1]] - m[0]["outcome"].span_f1 for m in members])
        print(f"\n## {g}: {len(members)} ({len(members) / len(errors):.0%}); mean F1 gain if best chosen {gained:.2f}")
        for r, b in members[: args.show]:
            o = r["outcome"]
            print(
                f"- Q: {r['question']}\n  gold: {' / '.join(o.answers[:2])}\n"
                f"  chosen: {o.span_text} (F1 {o.span_f1:.2f})"
                f"\n  best candidate: {r['texts'][b]} (F1 {r['f1'][b]:.2f})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
