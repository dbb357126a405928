"""Learned sentence and span ranking for extractive German answers on GermanQuAD: datasets,
5-fold cross-validation grouped by article, the fitted models and a training report.

    .venv/bin/python evals/ranker/train.py [--data DIR] [--out DIR]
        [--limit N] [--recipes linear,mixed] [--threads N]

All figures printed and written are cross-validated: for each outer fold (GroupKFold by the
article id AAA of gq-AAA-PP.txt) the sentence model, the span model and the decoding settings
(span threshold, expected-F1 decoding, second sentence) are fitted on the other folds only. The
span model's training rows need sentence scores from a sentence model that did not see them;
they come from an inner GroupKFold over the training folds, whose span predictions also choose
the decoding settings. The files written are fitted on all questions the same way.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
for folder in (ROOT, Path(__file__).resolve().parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from data import Item, Pool, best_scores, contains_project, load_items

from assistant.answer.question import analyze_question
from assistant.answer.ranker import (
    SENTENCE_COV,
    TOP_SENTENCES,
    AnswerRanker,
    Cascade,
    LightGBMModel,
    LinearModel,
    decode,
    load,
    save,
    top_indices,
)
from assistant.answer.sentence_align import ALIGN_FEATURE_NAMES
from assistant.answer.sentence_features import SENTENCE_FEATURE_NAMES, SENTENCE_FEATURES, text_facts
from assistant.answer.span_features import (
    SPAN_FEATURE_NAMES,
    SPAN_FEATURES,
    sentence_context,
    set_sentence_context,
    span_features,
)
from assistant.answer.span_filter import best_allowed
from assistant.answer.spans import span_candidates, span_text, token_view
from assistant.answer.words import dates_in

FOLDS = 5
INNER_FOLDS = 4
NEGATIVE_SHARE = 0.3  # span rows with F1 0 kept for fitting (all rows are scored)
SEED = 13
DECODINGS: tuple[float | None, ...] = (None, 2.0, 4.0)  # argmax, expected F1 at two temperatures
SECOND_RATIOS = (float("inf"), 1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.0)  # show the 2nd sentence when p2/p1 >= ratio
# a second sentence only while the two stay this short: fitted with the ratio (a cap at the
# median limit adds sentences to short answers without pushing the median past it)
SECOND_MAX_CHARS = (400, 300, 250, 200)
# The answers' median length (the short answer's line included) the second-sentence rule may
# not exceed: the target, below the 285 characters of the answers before.
MEDIAN_CHARS_LIMIT = 250

Scorer = LinearModel | LightGBMModel | Cascade


# --- models ---------------------------------------------------------------------------------


def _standardize(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = X.mean(axis=0).astype(np.float64)
    scale = X.std(axis=0).astype(np.float64)
    scale[scale < 1e-9] = 1.0
    return mean, scale


def fit_logistic(X: np.ndarray, y: np.ndarray, names: Sequence[str], c: float = 1.0) -> LinearModel:
    """Pointwise logistic regression on standardised features."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = _standardize(X)
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit((X - mean) / scale, y.astype(int))
    return LinearModel(tuple(names), mean, scale, model.coef_[0].astype(np.float64), float(model.intercept_[0]))


def fit_listwise(
    X: np.ndarray, target: np.ndarray, groups: np.ndarray, names: Sequence[str], l2: float = 1.0
) -> LinearModel:
    """A conditional logit: one softmax over the candidates of each question (rows of a group
    contiguous), fitted to ``target`` normalised per question (groups without target left
    out), L2 penalty ``l2`` on the standardised weights. Linear score, no intercept."""
    from scipy.optimize import minimize

    mean, scale = _standardize(X)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    gid = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(groups)]))
    keep = (np.add.reduceat(target.astype(np.float64), starts) > 0)[gid]
    Z = ((X[keep] - mean) / scale).astype(np.float64)
    _, gid = np.unique(gid[keep], return_inverse=True)
    starts = np.flatnonzero(np.r_[True, gid[1:] != gid[:-1]])
    t = target[keep].astype(np.float64)
    t /= np.add.reduceat(t, starts)[gid]
    n = len(starts)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        s = Z @ w
        m = np.maximum.reduceat(s, starts)
        e = np.exp(s - m[gid])
        norm = np.add.reduceat(e, starts)
        p = e / norm[gid]
        value = (float(np.sum(np.log(norm) + m) - t @ s) + 0.5 * l2 * float(w @ w)) / n
        return value, (Z.T @ (p - t) + l2 * w) / n

    w = minimize(loss, np.zeros(Z.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 500}).x
    return LinearModel(tuple(names), mean, scale, w, 0.0)


def fit_lightgbm(
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    names: Sequence[str],
    threads: int,
    objective: str = "binary",
    rounds: int = 300,
    overrides: dict | None = None,
) -> LightGBMModel:
    """LightGBM, pointwise (``binary``) or LambdaRank over ``groups`` (rows of one question
    contiguous, ``y`` graded relevance)."""
    import lightgbm as lgb

    params = {
        "objective": objective,
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_data_in_leaf": 40,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "num_threads": threads,
        "verbose": -1,
        "seed": SEED,
    }
    params.update(overrides or {})
    data = lgb.Dataset(X, label=y, feature_name=[n[:60] for n in names], free_raw_data=True)
    if objective in ("lambdarank", "rank_xendcg"):
        params["lambdarank_truncation_level"] = 10
        data.set_group(np.diff(np.flatnonzero(np.r_[True, groups[1:] != groups[:-1], True])))
    return LightGBMModel(lgb.train(params, data, num_boost_round=rounds), tuple(names))


def graded(em: np.ndarray, f1: np.ndarray) -> np.ndarray:
    """Span relevance for LambdaRank: 4 exact, 3/2/1 for F1 >= 0.8/0.6/0.4."""
    return np.select([em > 0, f1 >= 0.8, f1 >= 0.6, f1 >= 0.4], [4, 3, 2, 1], 0).astype(int)


SentenceFit = Callable[[np.ndarray, np.ndarray, np.ndarray], Scorer]  # X, label, question id
SpanFit = Callable[[Sequence["QuestionSpans"]], Scorer]  # the span rows of the training questions
CASCADE_KEEP = 60  # span candidates per question the LightGBM model re-scores


@dataclass(frozen=True)
class Recipe:
    key: str
    name: str
    sentence: SentenceFit
    span: SpanFit


def fit_linear_spans(rows: Sequence[QuestionSpans]) -> LinearModel:
    """Conditional logit over a sample of the rows (all with F1 > 0, NEGATIVE_SHARE of the rest)
    with exact match as the target."""
    X, em, _, g = sample_rows(rows)
    return fit_listwise(X, em, g, SPAN_FEATURE_NAMES)


def fit_cascade_spans(rows: Sequence[QuestionSpans], threads: int, keep: int = CASCADE_KEEP) -> Cascade:
    """The linear span model, then LightGBM LambdaRank (graded by F1) on the ``keep`` candidates
    per question the linear model ranks best."""
    first = fit_linear_spans(rows)
    chosen = [(r, np.argsort(-first.score(r.features), kind="stable")[:keep]) for r in rows if len(r.em)]
    X = np.concatenate([r.features[o] for r, o in chosen])
    relevance = np.concatenate([graded(r.em[o], r.f1[o]) for r, o in chosen])
    g = np.concatenate([np.full(len(o), k) for k, (_, o) in enumerate(chosen)])
    return Cascade(first, fit_lightgbm(X, relevance, g, SPAN_FEATURE_NAMES, threads, "lambdarank"), keep)


def recipes(threads: int) -> dict[str, Recipe]:
    def listwise_sentences(X, y, g):
        return fit_listwise(X, y, g, SENTENCE_FEATURE_NAMES)

    return {
        "linear": Recipe(
            "linear", "linear: conditional logit for sentences and spans", listwise_sentences, fit_linear_spans
        ),
        "mixed": Recipe(
            "mixed",
            f"conditional logit sentences + LightGBM LambdaRank spans (top {CASCADE_KEEP} of the linear span model)",
            listwise_sentences,
            lambda rows: fit_cascade_spans(rows, threads),
        ),
    }


def sentence_fitters(threads: int) -> dict[str, SentenceFit]:
    names = SENTENCE_FEATURE_NAMES
    return {
        "logistic regression (pointwise)": lambda X, y, g: fit_logistic(X, y, names),
        "conditional logit (listwise linear)": lambda X, y, g: fit_listwise(X, y, g, names),
        "LightGBM pointwise": lambda X, y, g: fit_lightgbm(X, y, g, names, threads, rounds=200),
        "LightGBM LambdaRank": lambda X, y, g: fit_lightgbm(X, y.astype(int), g, names, threads, "lambdarank", 200),
    }


# --- folds and the sentence stage -----------------------------------------------------------


def group_folds(items: Sequence[Item], folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import GroupKFold

    groups = np.array([it.article for it in items])
    return list(GroupKFold(n_splits=folds).split(np.zeros(len(items)), groups=groups))


def stack_pools(items: Sequence[Item], columns: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pools = [it.e2e for it in items]
    X = np.concatenate([p.features for p in pools])
    y = np.concatenate([p.label for p in pools]).astype(np.float64)
    g = np.concatenate([np.full(len(p.sentences), i) for i, p in enumerate(pools)])
    return (X if columns is None else X[:, columns]), y, g


def oof_sentence_scores(fit: SentenceFit, items: Sequence[Item], folds: int) -> list[np.ndarray]:
    """End-to-end pool scores of every item from a sentence model fitted without its article."""
    scores: list[np.ndarray] = [np.zeros(0)] * len(items)
    for train, test in group_folds(items, folds):
        model = fit(*stack_pools([items[i] for i in train]))
        for i in test:
            scores[i] = model.score(items[i].e2e.features)
    return scores


def sentence_accuracy_cv(
    items: Sequence[Item], fit: SentenceFit, columns: np.ndarray | None = None
) -> dict[str, float]:
    """Share of questions whose best-scored sentence contains gold, end to end and oracle."""
    hits: dict[str, list[bool]] = {"e2e": [], "oracle": []}
    for train, test in group_folds(items, FOLDS):
        model = fit(*stack_pools([items[i] for i in train], columns))
        for i in test:
            for kind, found in hits.items():
                pool = getattr(items[i], kind)
                features = pool.features if columns is None else pool.features[:, columns]
                found.append(bool(len(pool.sentences)) and bool(pool.label[top_indices(model.score(features), 1)[0]]))
    return {k: float(np.mean(v)) for k, v in hits.items()}


# --- the span stage -------------------------------------------------------------------------


@dataclass
class CachedSpans:
    """The candidates of one pool sentence with labels and features (sentence context unset)."""

    texts: list[str]
    first: np.ndarray
    last: np.ndarray
    features: np.ndarray
    em: np.ndarray
    f1: np.ndarray


@dataclass
class SpanCache:
    lexical: object
    store: dict[tuple[str, str, int], CachedSpans] = field(default_factory=dict)

    def get(self, item: Item, kind: str, index: int) -> CachedSpans:
        key = (item.qid, kind, index)
        if key not in self.store:
            pool: Pool = getattr(item, kind)
            text = pool.sentences[index].text
            view = token_view(item.question, text, self.lexical)  # type: ignore[arg-type]
            spans = span_candidates(view)
            texts = [span_text(text, s) for s in spans]
            scored = np.array([best_scores(t, item.golds) for t in texts], dtype=np.float32).reshape(-1, 2)
            self.store[key] = CachedSpans(
                texts,
                np.array([s.first for s in spans], dtype=np.int32),
                np.array([s.last for s in spans], dtype=np.int32),
                span_features(item.question, view, spans, float(pool.features[index, SENTENCE_COV])),
                scored[:, 0],
                scored[:, 1],
            )
        return self.store[key]


@dataclass
class QuestionSpans:
    """Span rows of one question: the candidates of its best sentences, best sentence first."""

    features: np.ndarray
    em: np.ndarray
    f1: np.ndarray
    sentence: np.ndarray  # pool index of each row's sentence
    first: np.ndarray
    last: np.ndarray
    texts: list[str]
    order: list[int]  # pool indices of the sentences by score
    probs: np.ndarray  # softmax of the sentence scores over the pool, by pool index


def question_spans(cache: SpanCache, item: Item, kind: str, scores: np.ndarray) -> QuestionSpans:
    order = top_indices(scores, len(scores))
    parts = []
    for rank, index in enumerate(order[:TOP_SENTENCES]):
        cached = cache.get(item, kind, index)
        X = cached.features.copy()
        set_sentence_context(X, sentence_context(scores, index, rank))
        parts.append((X, cached, index))
    width = len(SPAN_FEATURE_NAMES)

    def join(get, empty):
        return np.concatenate([get(p) for p in parts]) if parts else empty

    probs = np.exp(scores - scores.max()) if len(scores) else np.zeros(0)
    return QuestionSpans(
        join(lambda p: p[0], np.zeros((0, width), dtype=np.float32)),
        join(lambda p: p[1].em, np.zeros(0)),
        join(lambda p: p[1].f1, np.zeros(0)),
        join(lambda p: np.full(len(p[1].texts), p[2]), np.zeros(0, dtype=int)),
        join(lambda p: p[1].first, np.zeros(0, dtype=int)),
        join(lambda p: p[1].last, np.zeros(0, dtype=int)),
        [t for p in parts for t in p[1].texts],
        order,
        probs / probs.sum() if len(scores) else probs,
    )


def sample_rows(rows: Sequence[QuestionSpans], seed: int = SEED) -> tuple[np.ndarray, ...]:
    """(X, em, f1, question id) of all rows with F1 > 0 and NEGATIVE_SHARE of the others."""
    rng = np.random.default_rng(seed)
    keep = [(r, (r.f1 > 0) | (rng.random(len(r.f1)) < NEGATIVE_SHARE)) for r in rows]
    X = np.concatenate([r.features[k] for r, k in keep])
    em = np.concatenate([r.em[k] for r, k in keep])
    f1 = np.concatenate([r.f1[k] for r, k in keep])
    g = np.concatenate([np.full(int(k.sum()), i) for i, (_, k) in enumerate(keep)])
    return X, em, f1, g


def fit_spans(fit: SpanFit, rows: Sequence[QuestionSpans]) -> Scorer:
    return fit(rows)


# --- outcomes and decoding settings ---------------------------------------------------------


@dataclass
class Outcome:
    """One question's answer under one decoding, before the threshold and the second-sentence
    rule are applied."""

    span_score: float  # -inf: no candidate
    span_em: float
    span_f1: float
    span_text: str
    span_sentence: int
    top: int  # pool index of the best sentence (-1: empty pool)
    texts: dict[int, str]  # pool index -> text, for the sentences an answer may show
    second: int  # pool index of the second-best sentence (-1: none)
    second_ratio: float  # its softmax share / the best one's
    sentence_em: float  # the best sentence as the short answer
    sentence_f1: float
    sentence_correct: bool
    gold_in_pool: bool
    answers: list[str]

    def short(self, threshold: float) -> tuple[float, float, bool]:
        """(EM, F1, span given) with ``threshold``."""
        if self.span_score >= threshold:
            return self.span_em, self.span_f1, True
        return self.sentence_em, self.sentence_f1, False

    def shown(self, threshold: float, ratio: float, max_chars: int = SECOND_MAX_CHARS[0]) -> list[int]:
        """Pool indices of the sentences the answer shows: the best one; the span's sentence
        when the span is given and elsewhere; else the second best when nearly as good."""
        if self.top < 0:
            return []
        if self.span_score >= threshold and self.span_sentence != self.top:
            return [self.top, self.span_sentence]
        if (
            self.second >= 0
            and self.second_ratio >= ratio
            and len(self.texts[self.top]) + len(self.texts[self.second]) <= max_chars
        ):
            return [self.top, self.second]
        return [self.top]

    def shown_text(self, threshold: float, ratio: float, max_chars: int = SECOND_MAX_CHARS[0]) -> str:
        return " ".join(self.texts[i] for i in self.shown(threshold, ratio, max_chars))


def outcome(item: Item, pool: Pool, rows: QuestionSpans, span_scores: np.ndarray, temperature: float | None) -> Outcome:
    top = rows.order[0] if rows.order else -1
    second = rows.order[1] if len(rows.order) > 1 else -1
    texts = {i: pool.sentences[i].text for i in rows.order[:TOP_SENTENCES]}
    s_em, s_f1 = best_scores(texts[top], item.golds) if top >= 0 else (0.0, 0.0)
    if len(span_scores):
        # as the product decodes: a span that only repeats the question, or one of the wrong
        # type when one of the right type is at hand, is never chosen
        span_scores = best_allowed(item.question, span_scores, lambda i: rows.texts[i])
        j = decode(span_scores, rows.sentence, rows.first, rows.last, temperature)
        span = (float(span_scores[j]), float(rows.em[j]), float(rows.f1[j]), rows.texts[j], int(rows.sentence[j]))
    else:
        span = (float("-inf"), 0.0, 0.0, "", top)
    ratio = float(rows.probs[second] / rows.probs[top]) if second >= 0 else 0.0
    return Outcome(
        *span,
        top,
        texts,
        second,
        ratio,
        s_em,
        s_f1,
        bool(top >= 0 and pool.label[top]),
        bool(pool.label.any()),
        item.answers,
    )


@dataclass(frozen=True)
class Decoding:
    temperature: float | None
    threshold: float
    second_ratio: float
    second_max_chars: int = SECOND_MAX_CHARS[0]


def choose_threshold(outcomes: Sequence[Outcome]) -> tuple[float, float]:
    """The span threshold with the best mean EM + F1 (ties: the lower one) and that value."""
    values = sorted({o.span_score for o in outcomes if np.isfinite(o.span_score)})
    grid = [float("-inf")] + ([float(v) for v in np.quantile(values, np.linspace(0, 0.7, 71))] if values else [])
    best, best_value = grid[0], -1.0
    for t in grid:
        short = [o.short(t) for o in outcomes]
        value = float(np.mean([s[0] + s[1] for s in short]))
        if value > best_value + 1e-9:
            best, best_value = t, value
    return best, best_value


def choose_second_ratio(outcomes: Sequence[Outcome], threshold: float) -> tuple[float, int]:
    """The second-sentence rule (ratio, length cap) with the best containment whose median
    answer length stays within MEDIAN_CHARS_LIMIT."""
    best, best_value = (float("inf"), SECOND_MAX_CHARS[0]), -1.0
    for ratio, max_chars in ((r, c) for r in SECOND_RATIOS for c in SECOND_MAX_CHARS):
        texts = [o.shown_text(threshold, ratio, max_chars) for o in outcomes]
        lengths = [
            len(t) + (len(o.span_text) + 1 if o.span_score >= threshold else 0)
            for t, o in zip(texts, outcomes, strict=True)
        ]
        if statistics.median(lengths) > MEDIAN_CHARS_LIMIT:
            continue
        value = float(np.mean([contains_project(t, o.answers) for t, o in zip(texts, outcomes, strict=False)]))
        if value > best_value + 1e-9:
            best, best_value = (ratio, max_chars), value
    return best


def choose_decoding(by_temperature: dict[float | None, list[Outcome]]) -> Decoding:
    scored = {temp: choose_threshold(outs) for temp, outs in by_temperature.items()}
    temperature = max(scored, key=lambda temp: scored[temp][1])
    threshold = scored[temperature][0]
    return Decoding(temperature, threshold, *choose_second_ratio(by_temperature[temperature], threshold))


# --- cross-validation -----------------------------------------------------------------------


@dataclass
class Stage:
    """Everything fitted on one training set."""

    sentence_model: Scorer
    span_model: Scorer
    decoding: Decoding
    inner: dict[float | None, list[Outcome]]


def fit_stage(recipe: Recipe, cache: SpanCache, items: Sequence[Item], folds: int) -> Stage:
    sentence_model = recipe.sentence(*stack_pools(items))
    inner_scores = oof_sentence_scores(recipe.sentence, items, folds)
    rows = [question_spans(cache, it, "e2e", s) for it, s in zip(items, inner_scores, strict=False)]
    inner: dict[float | None, list[Outcome]] = {t: [] for t in DECODINGS}
    for train, test in group_folds(items, folds):
        model = fit_spans(recipe.span, [rows[i] for i in train])
        for i in test:
            scores = model.score(rows[i].features) if len(rows[i].em) else np.zeros(0)
            for t in DECODINGS:
                inner[t].append(outcome(items[i], items[i].e2e, rows[i], scores, t))
    return Stage(sentence_model, fit_spans(recipe.span, rows), choose_decoding(inner), inner)


@dataclass
class Evaluated:
    index: int
    e2e: Outcome
    oracle: Outcome
    decoding: Decoding


def answer_outcome(stage: Stage, cache: SpanCache, item: Item, kind: str) -> Outcome:
    pool = getattr(item, kind)
    rows = question_spans(cache, item, kind, stage.sentence_model.score(pool.features))
    scores = stage.span_model.score(rows.features) if len(rows.em) else np.zeros(0)
    return outcome(item, pool, rows, scores, stage.decoding.temperature)


def cross_validate(recipe: Recipe, cache: SpanCache, items: Sequence[Item], log=print) -> list[Evaluated]:
    results: list[Evaluated] = []
    for k, (train, test) in enumerate(group_folds(items, FOLDS), 1):
        started = time.perf_counter()
        stage = fit_stage(recipe, cache, [items[i] for i in train], INNER_FOLDS)
        for i in test:
            results.append(
                Evaluated(
                    int(i),
                    answer_outcome(stage, cache, items[i], "e2e"),
                    answer_outcome(stage, cache, items[i], "oracle"),
                    stage.decoding,
                )
            )
        d = stage.decoding
        log(
            f"  fold {k}: temperature {d.temperature}, threshold {d.threshold:.3f}, second-sentence ratio "
            f"{d.second_ratio}, {time.perf_counter() - started:.0f} s"
        )
    return sorted(results, key=lambda r: r.index)


# --- figures --------------------------------------------------------------------------------


def summarize(pairs: Sequence[tuple[Outcome, Decoding]]) -> dict[str, float]:
    short = [o.short(d.threshold) for o, d in pairs]
    # the answer as the product shows it: the short answer's line, then the sentences
    shown = [
        (o.span_text + "\n" if o.span_score >= d.threshold else "")
        + o.shown_text(d.threshold, d.second_ratio, d.second_max_chars)
        for o, d in pairs
    ]
    spans = [len(o.span_text) for (o, _), s in zip(pairs, short, strict=False) if s[2]]
    return {
        "exact_match": float(np.mean([s[0] for s in short])),
        "token_f1": float(np.mean([s[1] for s in short])),
        "exact_match_always_span": float(np.mean([o.span_em for o, _ in pairs])),
        "token_f1_always_span": float(np.mean([o.span_f1 for o, _ in pairs])),
        "span_given": float(np.mean([s[2] for s in short])),
        "sentence_accuracy": float(np.mean([o.sentence_correct for o, _ in pairs])),
        "answer_contains_gold": float(
            np.mean([contains_project(t, o.answers) for t, (o, _) in zip(shown, pairs, strict=False)])
        ),
        "best_sentence_contains_gold": float(
            np.mean([contains_project(o.texts.get(o.top, ""), o.answers) for o, _ in pairs])
        ),
        "gold_sentence_in_pool": float(np.mean([o.gold_in_pool for o, _ in pairs])),
        "median_answer_chars": float(statistics.median(len(t) for t in shown)),
        "median_span_chars": float(statistics.median(spans)) if spans else 0.0,
    }


def heuristic_summary(items: Sequence[Item], kind: str) -> dict[str, float]:
    """The current ExtractiveAnswerer: its cited sentences as the short answer (it has no span)."""
    pools = [getattr(it, kind) for it in items]
    quotes = [
        best_scores(p.heuristic_quotes, it.golds) if p.heuristic_quotes else (0.0, 0.0)
        for it, p in zip(items, pools, strict=False)
    ]
    full = [best_scores(p.heuristic_text, it.golds) for it, p in zip(items, pools, strict=False)]
    return {
        "exact_match": float(np.mean([q[0] for q in quotes])),
        "token_f1": float(np.mean([q[1] for q in quotes])),
        "token_f1_full_text": float(np.mean([f[1] for f in full])),
        "sentence_accuracy": float(np.mean([p.heuristic_top >= 0 and bool(p.label[p.heuristic_top]) for p in pools])),
        "answer_contains_gold": float(
            np.mean([contains_project(p.heuristic_text, it.answers) for it, p in zip(items, pools, strict=False)])
        ),
        "best_sentence_contains_gold": float(
            np.mean(
                [
                    p.heuristic_top >= 0 and contains_project(p.sentences[p.heuristic_top].text, it.answers)
                    for it, p in zip(items, pools, strict=False)
                ]
            )
        ),
        "gold_sentence_in_pool": float(np.mean([p.label.any() for p in pools])),
        "median_answer_chars": float(statistics.median(len(p.heuristic_text) for p in pools)),
    }


def by_type(items: Sequence[Item], results: Sequence[Evaluated]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[tuple[Outcome, Decoding]]] = {}
    for r in results:
        groups.setdefault(items[r.index].question.answer_type, []).append((r.e2e, r.decoding))
    return {
        t: {"n": len(v), **{k: summarize(v)[k] for k in ("exact_match", "token_f1", "sentence_accuracy", "span_given")}}
        for t, v in sorted(groups.items(), key=lambda kv: -len(kv[1]))
    }


def examples(items: Sequence[Item], results: Sequence[Evaluated], n: int = 15) -> list[dict[str, object]]:
    rng = np.random.default_rng(SEED)
    out = []
    for k in sorted(rng.choice(len(results), size=min(n, len(results)), replace=False)):
        r = results[k]
        em, f1, given = r.e2e.short(r.decoding.threshold)
        out.append(
            {
                "question": items[r.index].question.text,
                "gold": " / ".join(items[r.index].answers[:2]),
                "span": r.e2e.span_text if given else "(none: the sentence)",
                "em": em,
                "f1": round(f1, 2),
            }
        )
    return out


SENTENCE_GROUPS: dict[str, tuple[str, ...]] = {
    "coverage (cov_*, uncovered, rarest, doc best)": (
        "cov_idf",
        "cov_local",
        "cov_count",
        "cov_rel",
        "cov_is_best",
        "cov_rank",
        "uncovered_idf",
        "rarest_covered",
        "doc_best_cov",
        "soft_cov",
        "soft_gain",
        "cov_with_prev",
        "cov_with_next",
    ),
    "spelling variants (soft_cov, soft_gain)": ("soft_cov", "soft_gain"),
    "character n-grams": ("gram_overlap",),
    "proximity / pairs / density": ("ordered_pairs", "proximity", "window_density"),
    "new words": ("novel_words", "novel_share", "says_nothing"),
    "answer type": (
        "has_new_date",
        "has_day_date",
        "has_number",
        "number_unit",
        "has_name",
        "has_place",
        "has_reason",
        "has_definition",
        "type_match",
    ),
    "retrieval rank / score": ("rank", "top_passage", "extra_chunk", "retrieval_score", "same_doc_as_top"),
    "position": ("index_in_passage", "doc_position", "doc_start"),
    "length / heading": ("log_chars", "too_short", "too_long", "heading"),
    "neighbours": (
        "prev_cov",
        "prev_gain",
        "continues",
        "prev_gain_continues",
        "next_cov",
        "next_gain",
        "cov_with_prev",
        "cov_with_next",
    ),
    "alignment / answer type near question words (sentence_align)": ALIGN_FEATURE_NAMES,
}


def sentence_ablation(items: Sequence[Item]) -> dict[str, dict[str, float]]:
    names = list(SENTENCE_FEATURE_NAMES)
    out = {"all features": sentence_accuracy_cv(items, lambda X, y, g: fit_listwise(X, y, g, names))}
    for group, members in SENTENCE_GROUPS.items():
        keep = np.array([i for i, n in enumerate(names) if n not in members])
        kept = [names[i] for i in keep]
        out[f"without {group}"] = sentence_accuracy_cv(
            items, lambda X, y, g, kept=kept: fit_listwise(X, y, g, kept), keep
        )
    return out


def time_ranking(ranker: AnswerRanker, items: Sequence[Item], lexical) -> dict[str, float]:
    """Milliseconds per question for the ranking stage (question analysis, sentence features and
    scores, span candidates, features and scores, decoding); retrieval and the pool's sentence
    split excluded. The feature caches are emptied before each question (cold)."""
    times = []
    for it in items:
        text_facts.cache_clear()
        dates_in.cache_clear()
        started = time.perf_counter()
        question = analyze_question(it.question.text, lexical, it.question.kind)
        features, scores = ranker.sentence_scores(question, it.e2e.sentences, lexical)
        if len(scores):
            ranker.short_answer(question, it.e2e.sentences, features, scores, lexical)
        times.append(1000 * (time.perf_counter() - started))
    return {
        "mean_ms": float(np.mean(times)),
        "median_ms": float(np.median(times)),
        "p95_ms": float(np.percentile(times, 95)),
    }


def weights(model: Scorer, n: int = 15) -> list[tuple[str, float]]:
    if isinstance(model, Cascade):
        model = model.second
    if isinstance(model, LinearModel):
        order = np.argsort(-np.abs(model.coef))[:n]
        return [(model.names[i], round(float(model.coef[i]), 3)) for i in order]
    gain = model.booster.feature_importance(importance_type="gain")
    share = gain / max(gain.sum(), 1e-9)
    return [(model.names[i], round(float(share[i]), 3)) for i in np.argsort(-share)[:n]]


# --- main -----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    def log(*a):
        return print(*a, flush=True)

    started = time.perf_counter()
    log("building the datasets ...")
    items, assistant = load_items(args.data, args.limit, log)
    lexical = assistant.index.lexical
    log(
        f"  {len(items)} questions, {sum(len(it.e2e.sentences) for it in items)} end-to-end candidate sentences, "
        f"{time.perf_counter() - started:.0f} s"
    )
    cache = SpanCache(lexical)
    available = recipes(args.threads)
    chosen = [available[k] for k in args.recipes.split(",")]
    report: dict = {
        "questions": len(items),
        "folds": FOLDS,
        "inner_folds": INNER_FOLDS,
        "command": command(args),
        "heuristic": {k: heuristic_summary(items, k) for k in ("e2e", "oracle")},
    }

    log("sentence models ...")
    report["sentence_models"] = {
        name: sentence_accuracy_cv(items, fit) for name, fit in sentence_fitters(args.threads).items()
    }
    log(json.dumps(report["sentence_models"], indent=1))
    log("sentence feature ablation ...")
    report["sentence_ablation"] = sentence_ablation(items)

    report["cv"] = {}
    for recipe in chosen:
        log(f"cross-validating {recipe.name} ...")
        results = cross_validate(recipe, cache, items, log)
        report["cv"][recipe.key] = {
            "name": recipe.name,
            "e2e": summarize([(r.e2e, r.decoding) for r in results]),
            "oracle": summarize([(r.oracle, r.decoding) for r in results]),
            "decodings": sorted(
                {
                    (
                        str(r.decoding.temperature),
                        round(r.decoding.threshold, 3),
                        r.decoding.second_ratio,
                        r.decoding.second_max_chars,
                    )
                    for r in results
                }
            ),
            "by_type_e2e": by_type(items, results),
            "examples": examples(items, results),
        }
        log(json.dumps({k: report["cv"][recipe.key][k] for k in ("e2e", "oracle", "decodings")}, indent=1))

    final = available[args.final]
    log(f"fitting the final models ({final.name}) on all questions ...")
    stage = fit_stage(final, cache, items, FOLDS)
    ranker = AnswerRanker(
        stage.sentence_model,
        stage.span_model,
        stage.decoding.threshold,
        stage.decoding.temperature,
        second_ratio=stage.decoding.second_ratio,
        second_max_chars=stage.decoding.second_max_chars,
    )
    files = save(ranker, args.out)
    if final.key != "linear":  # the portable all-linear alternative as well
        linear = fit_stage(available["linear"], cache, items, FOLDS)
        files += save(
            AnswerRanker(
                linear.sentence_model,
                linear.span_model,
                linear.decoding.threshold,
                linear.decoding.temperature,
                second_ratio=linear.decoding.second_ratio,
                second_max_chars=linear.decoding.second_max_chars,
            ),
            args.out,
            "ranker_linear",
        )
        report["importance_linear_span"] = weights(linear.span_model)
    report["files"] = [{"path": shown(p), "bytes": p.stat().st_size} for p in files]
    report["final"] = {
        "recipe": final.name,
        "temperature": stage.decoding.temperature,
        "threshold": stage.decoding.threshold,
        "second_ratio": stage.decoding.second_ratio,
        "second_max_chars": stage.decoding.second_max_chars,
    }
    report["timing"] = time_ranking(load(files[0]), items, lexical)
    report["importance"] = {"sentence": weights(stage.sentence_model), "span": weights(stage.span_model)}
    report["seconds"] = time.perf_counter() - started
    (args.out / "cv_report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    text = markdown(report)
    (args.out / "TRAINING.md").write_text(text, encoding="utf-8")
    log(text)
    return 0


def command(args: argparse.Namespace) -> str:
    parts = [".venv/bin/python evals/ranker/train.py"]
    if args.limit:
        parts.append(f"--limit {args.limit}")
    if args.recipes != "linear,mixed":
        parts.append(f"--recipes {args.recipes}")
    if args.final != "mixed":
        parts.append(f"--final {args.final}")
    return " ".join(parts)


def shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _f(x: float) -> str:
    return f"{x:.3f}"


def markdown(report: dict) -> str:
    keys = [
        "exact_match",
        "token_f1",
        "sentence_accuracy",
        "answer_contains_gold",
        "best_sentence_contains_gold",
        "gold_sentence_in_pool",
        "span_given",
        "median_answer_chars",
        "median_span_chars",
    ]
    lines = [
        "# Learned answer ranking on GermanQuAD: cross-validated report",
        "",
        f"Command: `{report['command']}`",
        "",
        (
            f"{report['questions']} questions, {report['folds']}-fold GroupKFold by article; inside each training "
            f"set an inner {report['inner_folds']}-fold GroupKFold gives the span model's sentence scores and "
            "chooses the decoding (span threshold, expected-F1 decoding, second sentence). Every figure is "
            "out-of-fold. EM/F1: SQuAD-style (lower case, punctuation and German articles removed, whitespace "
            "collapsed), max over the gold answers; the span when one is given, else the best sentence. "
            "'answer_contains_gold': the check of evals/answers_germanquad.py on the shown sentences (the best "
            "one, plus the span's sentence or a nearly as good second one). The heuristic's short answer is "
            "its cited sentences (it has no span)."
        ),
        "",
        "| system | retrieval | " + " | ".join(keys) + " |",
        "|" + "---|" * (len(keys) + 2),
    ]
    for kind, label in (("e2e", "lexical top 5"), ("oracle", "gold passage")):
        h = report["heuristic"][kind]
        lines.append(f"| current heuristic | {label} | " + " | ".join(_f(h[k]) if k in h else "–" for k in keys) + " |")
        for cv in report["cv"].values():
            lines.append(f"| {cv['name']} | {label} | " + " | ".join(_f(cv[kind][k]) for k in keys) + " |")
    lines += [""]
    for cv in report["cv"].values():
        s = cv["e2e"]
        lines.append(
            f"- {cv['name']}: decodings per outer fold (temperature, threshold, second ratio) "
            f"{cv['decodings']}; always giving a span: EM {_f(s['exact_match_always_span'])}, "
            f"F1 {_f(s['token_f1_always_span'])}."
        )
    lines += [
        "",
        "## Sentence models (best sentence contains gold)",
        "",
        "| model | end to end | gold passage |",
        "|---|---|---|",
    ]
    h = report["heuristic"]
    lines.append(
        f"| current heuristic | {_f(h['e2e']['sentence_accuracy'])} | {_f(h['oracle']['sentence_accuracy'])} |"
    )
    for name, s in report["sentence_models"].items():
        lines.append(f"| {name} | {_f(s['e2e'])} | {_f(s['oracle'])} |")
    lines += [
        "",
        "## Sentence feature groups (conditional logit, one group left out)",
        "",
        "| features | end to end | gold passage |",
        "|---|---|---|",
    ]
    lines += [f"| {n} | {_f(s['e2e'])} | {_f(s['oracle'])} |" for n, s in report["sentence_ablation"].items()]
    for cv in report["cv"].values():
        lines += [
            "",
            f"## By expected answer type, end to end ({cv['name']})",
            "",
            "| type | n | EM | F1 | sentence acc. | span given |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {t} | {s['n']} | {_f(s['exact_match'])} | {_f(s['token_f1'])} | {_f(s['sentence_accuracy'])} | "
            f"{_f(s['span_given'])} |"
            for t, s in cv["by_type_e2e"].items()
        ]
    imp = report["importance"]
    lines += [
        "",
        "## What the final models use",
        "",
        "Sentence model, largest standardised weights: " + ", ".join(f"`{n}` {w:+.2f}" for n, w in imp["sentence"]),
        "",
        "Span model ("
        + report["final"]["recipe"]
        + "), largest weights or gain shares: "
        + ", ".join(f"`{n}` {w:.2f}" for n, w in imp["span"]),
        "",
    ]
    if "importance_linear_span" in report:
        lines += [
            "Linear span model, largest standardised weights: "
            + ", ".join(f"`{n}` {w:+.2f}" for n, w in report["importance_linear_span"]),
            "",
        ]
    fin, tm = report["final"], report["timing"]
    lines += [
        "## Files and timing",
        "",
        *[f"- `{f['path']}`: {f['bytes']:,} bytes" for f in report["files"]],
        (
            f"- final decoding: temperature {fin['temperature']}, span threshold {fin['threshold']:.3f}, "
            f"second-sentence ratio {fin['second_ratio']} within {fin.get('second_max_chars', 400)} characters"
        ),
        (
            f"- ranking stage per question (question analysis, sentence features and scores, span candidates, "
            f"features, scores and decoding; retrieval and sentence splitting excluded; feature caches cold; "
            f"shared 2-core machine): mean {tm['mean_ms']:.1f} ms, median {tm['median_ms']:.1f} ms, "
            f"p95 {tm['p95_ms']:.1f} ms"
        ),
        f"- total run {report['seconds'] / 60:.0f} min",
        "",
    ]
    for cv in list(report["cv"].values())[-1:]:
        lines += [
            f"## Examples (random, end to end, {cv['name']})",
            "",
            "| question | gold | short answer | EM | F1 |",
            "|---|---|---|---|---|",
        ]
        for ex in cv["examples"]:
            cells = [str(ex["question"]), str(ex["gold"]), str(ex["span"]), str(int(ex["em"])), str(ex["f1"])]
            lines.append("| " + " | ".join(c.replace("|", "/").replace("\n", " ") for c in cells) + " |")
    lines += [
        "",
        "## Features",
        "",
        "Sentence features (assistant/answer/sentence_features.py, SENTENCE_FEATURES):",
        "",
    ]
    lines += [f"- `{n}`: {r}" for n, r in SENTENCE_FEATURES]
    lines += ["", "Span features (SPAN_FEATURES):", ""]
    lines += [f"- `{n}`: {r}" for n, r in SPAN_FEATURES if "_x_" not in n]
    lines += [
        (
            "- `<type>_x_<feature>`: the feature when the expected answer type is <type> (lets a linear model "
            "prefer other forms per type)"
        ),
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "evaldata" / "germanquad")
    parser.add_argument("--out", type=Path, default=ROOT / "assistant" / "answer" / "models")
    parser.add_argument("--limit", type=int, default=0, help="first N questions only (smoke test)")
    parser.add_argument("--recipes", default="linear,mixed", help="comma-separated: linear, mixed")
    parser.add_argument("--final", default="mixed", help="the recipe of the files written")
    parser.add_argument("--threads", type=int, default=2, help="LightGBM threads")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
