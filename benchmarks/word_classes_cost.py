"""What tagging costs the answer: the span ranker tags its top 3 sentences per question
(assistant/text/word_classes.py). Tags GermanQuAD sentences in a fresh process three ways and
prints ms per sentence: words never seen (cold), other sentences after those (the word cache
partly warm), the same sentences again with the sentence cache bypassed (every word cached).
Then times word_classes' copy of HanTa's word analysis against HanTa's own on the words of those
sentences outside HanTa's table, and checks they agree. ``--hanta-own`` tags with HanTa's own.

    .venv/bin/python benchmarks/word_classes_cost.py [--sentences 600] [--hanta-own]

Not a test: figures depend on the machine's load.
"""

from __future__ import annotations

import argparse
import functools
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.answer.words import TOKEN
from assistant.text import word_classes

CORPUS = ROOT.parent / "shared" / "evaldata" / "germanquad" / "corpus"


def sentences(limit: int) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for path in sorted(CORPUS.iterdir()):
        for sentence in re.split(r"(?<=[.!?])\s+", path.read_text(encoding="utf-8")):
            pieces = tuple(m.group(0) for m in TOKEN.finditer(sentence))
            if pieces:
                out.append(pieces)
        if len(out) >= limit:
            return out[:limit]
    return out


def per_sentence_ms(batch: list[tuple[str, ...]]) -> tuple[float, float]:
    tag = word_classes._tag_classes.__wrapped__  # past the per-sentence cache
    times = []
    for pieces in batch:
        started = time.perf_counter()
        tag(pieces)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.mean(times), sorted(times)[int(0.95 * (len(times) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=600)
    parser.add_argument("--hanta-own", action="store_true", help="tag with HanTa's own word analysis")
    args = parser.parse_args()
    started = time.perf_counter()
    tagger = word_classes._load()
    copy = tagger.analyze_forward.__wrapped__
    own = functools.partial(type(tagger).analyze_forward, tagger)
    if args.hanta_own:
        tagger.analyze_forward = functools.lru_cache(maxsize=word_classes.WORD_CACHE)(own)
    print(f"loading the tagger: {time.perf_counter() - started:.2f} s")
    found = sentences(2 * args.sentences)
    first, second = found[: len(found) // 2], found[len(found) // 2 :]
    words = statistics.mean(len(p) for p in found)
    for label, batch in (("cold (new words)", first), ("other sentences after", second), ("seen words", first)):
        mean, p95 = per_sentence_ms(batch)
        print(f"{label:<24} mean {mean:5.2f} ms, p95 {p95:5.2f} ms per sentence ({words:.0f} pieces)")
    outside = sorted({tagger.normalize(w) for p in found for w in p} - set(tagger.cache))
    results: dict[str, list[list[tuple[int, float]]]] = {}
    seconds: dict[str, float] = {}
    for name, analyse in (("own", own), ("copy", copy)):
        started = time.perf_counter()
        results[name] = [analyse(w) for w in outside]
        seconds[name] = time.perf_counter() - started
    same = sum(a == b for a, b in zip(results["own"], results["copy"], strict=True))
    print(
        f"{len(outside)} words outside HanTa's table: HanTa's own {seconds['own']:.2f} s, "
        f"the copy {seconds['copy']:.2f} s ({seconds['own'] / seconds['copy']:.2f}x), identical {same}/{len(outside)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
