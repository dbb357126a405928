"""Extractive answers on GermanQuAD and the abstention threshold.

    .venv/bin/python evals/answers_germanquad.py [--data DIR] [--limit N] [--sweep]

Indexes the 474 passages (lexical-only, no reader model), answers all 2,204 questions and
prints: exact match and token F1 of the short answer (the whole answer where none is given),
how often the answer contains a gold answer string (normalized), the median answer length, and
how often the first citation points to the gold passage. With --sweep it also asks the same questions against
the shipped cluster corpus (where none of them can be answered) and prints, for each coverage
threshold, the share of GermanQuAD questions still answered and of wrong-corpus questions that
abstain: the data behind ``assistant.answer.extractive.MIN_COVERAGE``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.config import Settings
from assistant.eval.metrics import exact_match, normalize, token_f1
from assistant.index.build import build_index
from assistant.pipeline import Assistant


def open_assistant(corpus: Path, tmp: Path, name: str) -> Assistant:
    settings = Settings(
        corpus_dir=corpus, index_dir=tmp / name, model="none", reader="none", retrieval="lexical", progress=False
    )
    build_index(settings)
    return Assistant.open(settings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "evaldata" / "germanquad")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--min-coverage", type=float, default=None)
    args = parser.parse_args()
    questions = [json.loads(line) for line in (args.data / "qa.jsonl").open(encoding="utf-8")]
    if args.limit:
        questions = questions[: args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        assistant = open_assistant(args.data / "corpus", Path(tmp), "gq")
        contained = first_gold = abstained = shorts = 0
        em = f1 = 0.0
        lengths: list[int] = []
        confidences: list[float] = []
        started = time.perf_counter()
        for item in questions:
            answer = assistant.ask(item["question"])
            confidences.append(answer.confidence)
            if answer.abstained:
                abstained += 1
                lengths.append(len(answer.text))
                continue
            text = normalize(answer.text)
            contained += any(normalize(g) in text for g in item["answers"])
            short = answer.short_answer.text if answer.short_answer else answer.text
            shorts += answer.short_answer is not None
            em += max(float(exact_match(short, g)) for g in item["answers"])
            f1 += max(token_f1(short, g) for g in item["answers"])
            lengths.append(len(answer.text))
            first_gold += bool(answer.citations and answer.citations[0].doc_id in item["sources"])
        seconds = time.perf_counter() - started
        n = len(questions)
        result = {
            "questions": n,
            "exact_match": round(em / n, 4),
            "token_f1": round(f1 / n, 4),
            "short_answer_given": round(shorts / n, 4),
            "answer_contains_gold": round(contained / n, 4),
            "median_answer_chars": statistics.median(lengths),
            "first_citation_gold": round(first_gold / n, 4),
            "first_citation_gold_of_answered": round(first_gold / max(n - abstained, 1), 4),
            "abstained": round(abstained / n, 4),
            "ms_per_question": round(1000 * seconds / n, 1),
        }
        if args.sweep:
            cluster = open_assistant(ROOT / "corpus", Path(tmp), "cluster")
            wrong = [cluster.ask(item["question"]).confidence for item in questions]
            result["sweep"] = [
                {
                    "min_coverage": t,
                    "germanquad_answered": round(sum(c >= t for c in confidences) / n, 4),
                    "wrong_corpus_abstained": round(sum(c < t for c in wrong) / n, 4),
                    "balanced": round((sum(c >= t for c in confidences) + sum(c < t for c in wrong)) / (2 * n), 4),
                }
                for t in (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
            ]
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
