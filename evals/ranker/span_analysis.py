"""Where the short answer's F1 on GermanQuAD is lost inside the chosen sentence: out-of-fold
decomposition of the shipped recipe ("mixed") and span-stage variants measured against it under
the same cross-validation (train.py's folds, inner folds and decoding choice).

    .venv/bin/python evals/ranker/span_analysis.py [--folds 5] [--variants base,...] [--cache DIR]

Items and span candidates are cached (pickle) under --cache so that repeated runs skip the
index build and the feature computation. Writes <cache>/results-<variant>.pkl (per question: the
chosen span, the oracle candidates, the model's rank of the best one) and prints the tables.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
for folder in (ROOT, Path(__file__).resolve().parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import train
from data import load_items, open_index

DATA = ROOT.parent / "shared" / "evaldata" / "germanquad"


def cached_items(cache: Path):
    path = cache / "items.pkl"
    if path.exists():
        items = pickle.loads(path.read_bytes())
        # the lexical index (its stemmer does not pickle): reopened from a kept index folder
        return items, open_index(DATA / "corpus", cache / "index" / "gq").index.lexical
    started = time.perf_counter()
    items, assistant = load_items(DATA, 0, lambda *a: None)
    lexical = assistant.index.lexical
    print(f"load_items: {time.perf_counter() - started:.0f} s", flush=True)
    for it in items:
        getattr(it.question, "memo", {}).clear()
    path.write_bytes(pickle.dumps(items))
    return items, lexical


# --- variants ---------------------------------------------------------------------------------


class Variant:
    """A span-stage change: extra feature columns (computed per cached sentence), a decoding
    hook. The base variant is the shipped recipe."""

    name = "base"
    extra_names: tuple[str, ...] = ()
    keep = train.CASCADE_KEEP  # candidates the LightGBM stage re-scores

    def __init__(self, name: str = "base", keep: int = train.CASCADE_KEEP, objective: str = "lambdarank", **params):
        self.name, self.keep, self.objective, self.params = name, keep, objective, params

    def extra(self, item, kind: str, index: int, cached) -> np.ndarray | None:
        return None

    def recipe(self, threads: int) -> train.Recipe:
        names = train.SPAN_FEATURE_NAMES + self.extra_names

        def fit_linear(rows):
            X, em, _, g = train.sample_rows(rows)
            return train.fit_listwise(X, em, g, names)

        def fit_cascade(rows):
            first = fit_linear(rows)
            chosen = [(r, np.argsort(-first.score(r.features), kind="stable")[: self.keep]) for r in rows if len(r.em)]
            X = np.concatenate([r.features[o] for r, o in chosen])
            rel = np.concatenate([train.graded(r.em[o], r.f1[o]) for r, o in chosen])
            g = np.concatenate([np.full(len(o), k) for k, (_, o) in enumerate(chosen)])
            params = dict(self.params)
            rounds = params.pop("rounds", 300)
            model = train.fit_lightgbm(X, rel, g, names, threads, self.objective, rounds, params)
            return train.Cascade(first, model, self.keep)

        def sentences(X, y, g):
            return train.fit_listwise(X, y, g, train.SENTENCE_FEATURE_NAMES)

        return train.Recipe(self.name, self.name, sentences, fit_cascade)


class VariantCache:
    """train.SpanCache's rows with the variant's extra columns appended."""

    def __init__(self, base: train.SpanCache, variant: Variant):
        self.base, self.variant, self.store = base, variant, {}

    def get(self, item, kind: str, index: int):
        key = (item.qid, kind, index)
        if key not in self.store:
            cached = self.base.get(item, kind, index)
            extra = self.variant.extra(item, kind, index, cached)
            if extra is None:
                self.store[key] = cached
            else:
                self.store[key] = train.CachedSpans(
                    cached.texts,
                    cached.first,
                    cached.last,
                    np.hstack([cached.features, extra.astype(np.float32)]),
                    cached.em,
                    cached.f1,
                )
        return self.store[key]


# Features LightGBM sees relative to the other kept candidates of the question: trees split on
# absolute values and cannot compare rows of one group, a ranking is about such comparisons.
RELATIVE = (
    "q_outside",
    "near_q",
    "dist_left",
    "dist_right",
    "log_words",
    "sentence_score",
    "type_match",
    "novel",
    "q_share",
    "head_near",
    "cap_share",
    "relative_position",
)


def stacked(features: np.ndarray, coarse: np.ndarray, with_coarse: bool = True) -> np.ndarray:
    """The kept rows' features, then the linear score, its margin to the best, its rank, and the
    RELATIVE features minus their maximum and mean over the kept rows."""
    cols = [train.SPAN_FEATURE_NAMES.index(n) for n in RELATIVE]
    rel = features[:, cols]
    rank = np.argsort(np.argsort(-coarse, kind="stable"), kind="stable")
    extra = [coarse[:, None], (coarse - coarse.max())[:, None], np.log1p(rank)[:, None]] if with_coarse else []
    extra += [rel - rel.max(axis=0), rel - rel.mean(axis=0)]
    return np.hstack([features, *extra]).astype(np.float32)


STACKED_NAMES = (
    ("coarse", "coarse_margin", "coarse_rank")
    + tuple(f"{n}_minus_max" for n in RELATIVE)
    + tuple(f"{n}_minus_mean" for n in RELATIVE)
)


class StackedCascade:
    """train.Cascade, with LightGBM given the linear score and group-relative columns."""

    def __init__(self, first, second, keep: int, with_coarse: bool):
        self.first, self.second, self.keep, self.with_coarse = first, second, keep, with_coarse

    def score(self, features: np.ndarray) -> np.ndarray:
        coarse = self.first.score(features)
        top = np.argsort(-coarse, kind="stable")[: self.keep]
        out = np.full(len(coarse), -np.inf)
        out[top] = self.second.score(stacked(features[top], coarse[top], self.with_coarse))
        return out


class Stacked(Variant):
    with_coarse = True

    def recipe(self, threads: int) -> train.Recipe:
        names = train.SPAN_FEATURE_NAMES

        def fit_cascade(rows):
            X, em, _, g = train.sample_rows(rows)
            first = train.fit_listwise(X, em, g, names)
            parts, rel, groups = [], [], []
            for k, r in enumerate(x for x in rows if len(x.em)):
                coarse = first.score(r.features)
                o = np.argsort(-coarse, kind="stable")[: self.keep]
                parts.append(stacked(r.features[o], coarse[o], self.with_coarse))
                rel.append(train.graded(r.em[o], r.f1[o]))
                groups.append(np.full(len(o), k))
            model = train.fit_lightgbm(
                np.concatenate(parts),
                np.concatenate(rel),
                np.concatenate(groups),
                names + (STACKED_NAMES if self.with_coarse else STACKED_NAMES[3:]),
                threads,
                "lambdarank",
            )
            return StackedCascade(first, model, self.keep, self.with_coarse)

        def sentences(X, y, g):
            return train.fit_listwise(X, y, g, train.SENTENCE_FEATURE_NAMES)

        return train.Recipe(self.name, self.name, sentences, fit_cascade)


class Relative(Stacked):
    """Only the group-relative columns: the linear score on its own training rows is overconfident."""

    with_coarse = False


VARIANTS: dict[str, Variant] = {
    "base": Variant(),
    # the linear first stage drops the best candidate of the right sentence before LightGBM sees it
    "keep150": Variant("keep150", 150),
    # LightGBM given the linear score and features relative to the question's other candidates
    "stacked": Stacked("stacked"),
    # LightGBM settings: another ranking objective; more, smaller steps with deeper trees
    "xendcg": Variant("xendcg", objective="rank_xendcg"),
    "deeper": Variant("deeper", num_leaves=63, min_data_in_leaf=20, learning_rate=0.03, rounds=500),
    "relative": Relative("relative"),
}


# --- cross-validation with the per-question record ------------------------------------------


def record(item, rows, scores, stage) -> dict:
    pool = item.e2e
    out = train.outcome(item, pool, rows, scores, stage.decoding.temperature)
    rec = {"outcome": out, "threshold": stage.decoding.threshold, "temperature": stage.decoding.temperature}
    if len(scores):
        allowed = train.best_allowed(item.question, scores, lambda i: rows.texts[i])
        j = train.decode(allowed, rows.sentence, rows.first, rows.last, stage.decoding.temperature)
        rec.update(
            j=int(j),
            scores=np.asarray(scores, dtype=np.float32),
            allowed=np.asarray(allowed, dtype=np.float32),
            f1=rows.f1,
            em=rows.em,
            sentence=rows.sentence,
            first=rows.first,
            last=rows.last,
            texts=rows.texts,
            label=pool.label.copy(),
            order=rows.order[: train.TOP_SENTENCES],
        )
    return rec


def cross_validate(variant: Variant, cache, items, folds: int, threads: int, log=print) -> list[dict]:
    recipe = variant.recipe(threads)
    out: list[dict | None] = [None] * len(items)
    for k, (tr, te) in enumerate(train.group_folds(items, folds), 1):
        started = time.perf_counter()
        stage = train.fit_stage(recipe, cache, [items[i] for i in tr], train.INNER_FOLDS)
        for i in te:
            it = items[i]
            rows = train.question_spans(cache, it, "e2e", stage.sentence_model.score(it.e2e.features))
            scores = stage.span_model.score(rows.features) if len(rows.em) else np.zeros(0)
            out[i] = record(it, rows, scores, stage)
        d = stage.decoding
        log(
            f"  [{variant.name}] fold {k}: T {d.temperature}, threshold {d.threshold:.3f}, "
            f"{time.perf_counter() - started:.0f} s"
        )
    return out  # type: ignore[return-value]


# --- tables ---------------------------------------------------------------------------------


def summary(recs: list[dict]) -> dict[str, float]:
    short = [r["outcome"].short(r["threshold"]) for r in recs]
    return {
        "n": len(recs),
        "EM": float(np.mean([s[0] for s in short])) if recs else 0.0,
        "F1": float(np.mean([s[1] for s in short])) if recs else 0.0,
        "EM_always_span": float(np.mean([r["outcome"].span_em for r in recs])) if recs else 0.0,
        "F1_always_span": float(np.mean([r["outcome"].span_f1 for r in recs])) if recs else 0.0,
        "span_given": float(np.mean([s[2] for s in short])) if recs else 0.0,
    }


def decompose(recs: list[dict]) -> dict:
    """F1/EM split by whether the chosen span's sentence holds gold; oracle candidates there; the
    model's rank of the best candidate."""
    groups = {"span sentence holds gold": [], "span sentence without gold": [], "no candidate": []}
    for r in recs:
        if "j" not in r:
            groups["no candidate"].append(r)
        elif r["label"][r["sentence"][r["j"]]]:
            groups["span sentence holds gold"].append(r)
        else:
            groups["span sentence without gold"].append(r)
    table = {k: summary(v) for k, v in groups.items()}
    for k, v in groups.items():
        if not v or k == "no candidate":
            continue
        oracle_s, oracle_em_s, oracle_all, ranks_s, ranks_all, best_allowed_ok = [], [], [], [], [], []
        for r in v:
            same = r["sentence"] == r["sentence"][r["j"]]
            f1s = np.where(same, r["f1"], -1)
            b = int(np.argmax(f1s))
            oracle_s.append(float(r["f1"][b]))
            oracle_em_s.append(float(r["em"][same].max()))
            oracle_all.append(float(r["f1"].max()))
            sc = r["scores"]
            ranks_s.append(int((sc[same] > sc[b]).sum()) + 1)
            ranks_all.append(int((sc > sc[b]).sum()) + 1)
            best_allowed_ok.append(bool(np.isfinite(r["allowed"][b])))
        ranks_s = np.array(ranks_s)
        table[k].update(
            oracle_F1_in_sentence=float(np.mean(oracle_s)),
            oracle_EM_in_sentence=float(np.mean(oracle_em_s)),
            oracle_F1_top3_sentences=float(np.mean(oracle_all)),
            best_rank_in_sentence_median=float(np.median(ranks_s)),
            best_rank_1=float(np.mean(ranks_s == 1)),
            best_rank_le3=float(np.mean(ranks_s <= 3)),
            best_rank_le10=float(np.mean(ranks_s <= 10)),
            best_rank_gt60_overall=float(np.mean(np.array(ranks_all) > 60)),
            best_kept_by_filter=float(np.mean(best_allowed_ok)),
            share_oracle_F1_ge_08=float(np.mean(np.array(oracle_s) >= 0.8)),
        )
    return table


def fmt(d: dict) -> str:
    return "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in d.items())


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--cache", type=Path, default=Path("/tmp/span-cache"))
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--variants", default="base")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit", type=int, default=0)
    args = p.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    items, lexical = cached_items(args.cache)
    if args.limit:
        items = items[: args.limit]
    print(f"{len(items)} items ({time.perf_counter() - t0:.0f} s)", flush=True)
    base = train.SpanCache(lexical)
    spans_path = args.cache / "spans.pkl"
    if spans_path.exists() and not args.limit:
        base.store = pickle.loads(spans_path.read_bytes())
    n_cached = len(base.store)
    for name in args.variants.split(","):
        variant = VARIANTS[name]
        t = time.perf_counter()
        cache = base if name == "base" else VariantCache(base, variant)
        recs = cross_validate(variant, cache, items, args.folds, args.threads)
        print(f"[{name}] cross-validation {args.folds} folds: {time.perf_counter() - t:.0f} s", flush=True)
        print(f"[{name}] overall: {fmt(summary(recs))}", flush=True)
        for k, v in decompose(recs).items():
            print(f"[{name}]   {k}: {fmt(v)}", flush=True)
        tag = f"{name}-f{args.folds}" + (f"-l{args.limit}" if args.limit else "")
        (args.cache / f"results-{tag}.pkl").write_bytes(pickle.dumps(recs))
        if len(base.store) > n_cached and not args.limit:
            spans_path.write_bytes(pickle.dumps(base.store))
            n_cached = len(base.store)
    return 0


if __name__ == "__main__":
    sys.exit(main())
