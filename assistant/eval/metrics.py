"""The figures of an evaluation: text comparison (containment; exact match and token F1 of the
short answer), per-question scores (gold rank, nDCG, citations, abstention) and their
aggregation, overall and per group. See evals/README.md for the definitions."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from .testset import Question

CUTOFFS = (1, 5, 10)
MAX_GROUP_VALUES = 30


def normalize(text: str) -> str:
    """Lower case, hyphens and punctuation as spaces, whitespace collapsed: "EU-Programm." ->
    "eu programm"."""
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


_MARKER = re.compile(r"\[\d+\]")
# Removed before exact match and token F1, as SQuAD removes English articles.
GERMAN_ARTICLES = frozenset("der die das den dem des ein eine einer eines einem einen".split())


def normalize_answer(text: str) -> str:
    """:func:`normalize`, without citation markers and German articles: the SQuAD-style
    normalisation for exact match and token F1 ("Die Zeche Zollern [1]" -> "zeche zollern")."""
    return " ".join(w for w in normalize(_MARKER.sub(" ", text)).split() if w not in GERMAN_ARTICLES)


def contains_any(answer: str, golds: Iterable[str]) -> bool:
    """Whether the normalized answer contains one of the normalized gold strings."""
    text = normalize(answer)
    return any(g and g in text for g in (normalize(x) for x in golds))


def exact_match(prediction: str, gold: str) -> bool:
    """Equal after :func:`normalize_answer`."""
    return normalize_answer(prediction) == normalize_answer(gold)


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD-style bag-of-words F1 between two texts after :func:`normalize_answer`."""
    return bag_f1(normalize_answer(prediction).split(), normalize_answer(gold).split())


def bag_f1(pred: Sequence[str], ref: Sequence[str]) -> float:
    """F1 of two token bags (1.0 when both are empty, 0.0 when one is)."""
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def doc_ranking(retrieved: Sequence[dict[str, Any]]) -> list[str]:
    """Document ids in order of their first appearance in the ranked chunk list."""
    seen: dict[str, None] = {}
    for item in retrieved:
        seen.setdefault(item["doc_id"], None)
    return list(seen)


def ndcg(ranking: Sequence[str], gold: set[str], cutoff: int = 10) -> float:
    """Binary-relevance nDCG@cutoff over a deduplicated document ranking."""
    if not gold:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, d in enumerate(ranking[:cutoff]) if d in gold)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(gold), cutoff)))
    return dcg / ideal


def short_text(row: dict[str, Any]) -> str:
    """What exact match and token F1 compare: the short answer, else the whole answer."""
    short = row.get("short_answer")
    return short["text"] if isinstance(short, dict) and short.get("text") else row.get("answer", "")


def score_question(q: Question, row: dict[str, Any]) -> dict[str, Any]:
    """Scores of one answered question: the gold document's rank, nDCG@10, containment, exact
    match and F1, citation precision, whether it was right (contained, or abstained when
    unanswerable)."""
    gold = set(q.sources)
    ranking = doc_ranking(row.get("retrieved", []))
    rank = next((i for i, d in enumerate(ranking, start=1) if d in gold), None)
    abstained = bool(row.get("abstained"))
    answer = row.get("answer", "")
    short = short_text(row)
    cited = list(dict.fromkeys(c["doc_id"] for c in row.get("citations", [])))
    scores: dict[str, Any] = {"answerable": q.answerable, "abstained": abstained}
    if q.answerable:
        scores["gold_rank"] = rank if gold else None
        scores["ndcg@10"] = ndcg(ranking, gold) if gold else None
        scores["contained"] = (not abstained) and contains_any(answer, q.answers)
        scores["em"] = (not abstained) and any(exact_match(short, g) for g in q.answers)
        scores["f1"] = 0.0 if abstained else max(token_f1(short, g) for g in q.answers)
        scores["short"] = (not abstained) and bool(row.get("short_answer"))
        scores["chars"] = None if abstained else len(_MARKER.sub("", answer).strip())
        scores["citation_precision"] = (sum(d in gold for d in cited) / len(cited)) if cited and gold else None
        scores["first_citation_gold"] = bool(cited) and row["citations"][0]["doc_id"] in gold
        scores["correct"] = scores["contained"]
    else:
        scores["correct"] = abstained
    return scores


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear-interpolation percentile (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * p / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def aggregate(pairs: Sequence[tuple[Question, dict[str, Any]]], k: int = 10) -> dict[str, Any]:
    """The figures over ``(question, result row)`` pairs: retrieval and answer metrics over the
    answerable questions, abstention over all, latency over all."""
    scored = [(q, row, score_question(q, row)) for q, row in pairs]
    answerable = [s for q, _, s in scored if q.answerable]
    with_gold = [s for q, _, s in scored if q.answerable and q.sources]
    unanswerable = [s for q, _, s in scored if not q.answerable]
    abstained = [s for _, _, s in scored if s["abstained"]]
    result: dict[str, Any] = {
        "questions": len(scored),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
    }
    for cutoff in CUTOFFS:
        result[f"hit@{cutoff}"] = _mean(
            [float(s["gold_rank"] is not None and s["gold_rank"] <= cutoff) for s in with_gold]
        )
    result["mrr@10"] = _mean(
        [1.0 / s["gold_rank"] if s["gold_rank"] and s["gold_rank"] <= 10 else 0.0 for s in with_gold]
    )
    result["ndcg@10"] = _mean([s["ndcg@10"] for s in with_gold])
    result["answered"] = _mean([float(not s["abstained"]) for s in answerable])
    result["containment"] = _mean([float(s["contained"]) for s in answerable])
    result["exact_match"] = _mean([float(s["em"]) for s in answerable])
    result["token_f1"] = _mean([s["f1"] for s in answerable])
    answered = [s for s in answerable if not s["abstained"]]
    result["short_answer_share"] = _mean([float(s["short"]) for s in answered])
    chars = [float(s["chars"]) for s in answered if s["chars"] is not None]
    median = percentile(chars, 50)
    result["median_answer_chars"] = round(median, 1) if median is not None else None
    result["citation_precision"] = _mean(
        [s["citation_precision"] for s in answerable if s["citation_precision"] is not None]
    )
    result["first_citation_gold"] = _mean([float(s["first_citation_gold"]) for s in with_gold])
    right = sum(1 for s in unanswerable if s["abstained"])
    # Without unanswerable questions every abstention is wrong; "answered" says that already.
    result["abstention_precision"] = round(right / len(abstained), 4) if abstained and unanswerable else None
    result["abstention_recall"] = round(right / len(unanswerable), 4) if unanswerable else None
    result["correct"] = _mean([float(s["correct"]) for _, _, s in scored])
    latencies = [float(row.get("latency_ms", 0.0)) for _, row, _ in scored]
    for p in (50, 95):
        value = percentile(latencies, p)
        result[f"latency_p{p}_ms"] = round(value, 2) if value is not None else None
    result["hit_curve"] = [
        _mean([float(s["gold_rank"] is not None and s["gold_rank"] <= c) for s in with_gold])
        for c in range(1, max(k, 10) + 1)
    ]
    return result


def group_fields(questions: Sequence[Question], requested: Sequence[str] | None = None) -> list[str]:
    """Fields to group the figures by: the requested ones, else ``category`` and every other
    extra field with few distinct scalar values (ids, free texts and lists are left out)."""
    if requested is not None:
        return list(requested)
    names: list[str] = []
    for q in questions:
        names.extend(n for n in q.extra if n not in names)
    chosen = []
    for name in names:
        values = [q.extra.get(name) for q in questions]
        if not all(v is None or isinstance(v, (str, int, float, bool)) for v in values):
            continue
        distinct = {v for v in values if v is not None}
        if name == "category" or (
            distinct
            and len(distinct) <= MAX_GROUP_VALUES
            and len(distinct) < len(questions)
            and len(distinct) < max(2, len(questions) // 2)
        ):
            chosen.append(name)
    return chosen


def group_value(q: Question, name: str) -> str:
    value = q.extra.get(name)
    return "(none)" if value is None or value == "" else str(value)


def metrics_by_group(
    pairs: Sequence[tuple[Question, dict[str, Any]]], names: Sequence[str], k: int = 10
) -> dict[str, dict[str, dict[str, Any]]]:
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for name in names:
        buckets: dict[str, list[tuple[Question, dict[str, Any]]]] = {}
        for q, row in pairs:
            buckets.setdefault(group_value(q, name), []).append((q, row))
        groups[name] = {value: _without_curve(aggregate(items, k)) for value, items in buckets.items()}
    return groups


def _without_curve(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if k != "hit_curve"}


def worst_misses(pairs: Sequence[tuple[Question, dict[str, Any]]], limit: int = 10) -> list[dict[str, Any]]:
    """The questions answered worst: the gold document not retrieved, then wrong answers, then
    wrongful abstentions, then answers to unanswerable questions; lowest F1 first within each."""
    misses = []
    for q, row in pairs:
        s = score_question(q, row)
        if s["correct"]:
            continue
        if not q.answerable:
            kind, order = "answered, but unanswerable", 3
        elif q.sources and s["gold_rank"] is None:
            kind, order = "gold document not retrieved", 0
        elif s["abstained"]:
            kind, order = "abstained, but answerable", 2
        else:
            kind, order = "answer does not contain a gold answer", 1
        misses.append(
            (
                order,
                s.get("f1", 0.0),
                q.line,
                {
                    "id": q.id,
                    "question": q.question,
                    "kind": kind,
                    "expected": list(q.answers),
                    "expected_sources": list(q.sources),
                    "answer": row.get("answer", ""),
                    "cited": list(dict.fromkeys(c["doc_id"] for c in row.get("citations", []))),
                    "retrieved": doc_ranking(row.get("retrieved", []))[:5],
                    "gold_rank": s.get("gold_rank"),
                    "f1": round(s.get("f1", 0.0), 3),
                    **{f"field:{k}": v for k, v in q.extra.items()},
                },
            )
        )
    misses.sort(key=lambda m: (m[0], m[1], m[2]))
    return [m[3] for m in misses[:limit]]
