"""Applying fitted ranking models: the best sentences of a pool and the short answer in them.

:class:`AnswerRanker` holds a sentence scorer, a span scorer, the decoding setting and the
threshold below which no short answer is given. Scorers are linear (standardised features, one
weight each, stored as JSON) or a LightGBM model (its text format, scored with the ``lightgbm``
package). Everything here is what the product needs at answer time, besides
:mod:`.sentence_features`, :mod:`.spans` and :mod:`.span_features`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import AnswerModelError
from ..index.bm25 import LexicalIndex
from .question import Question
from .sentence_features import SENTENCE_FEATURE_NAMES, SentenceInput, sentence_features
from .span_features import SPAN_FEATURE_NAMES, sentence_context, span_features
from .span_filter import MBR_CANDIDATES, best_allowed
from .spans import Span, span_candidates, span_text, token_view

_WORD = re.compile(r"\w+")
TOP_SENTENCES = 3  # spans are looked for in this many of the best sentences
SENTENCE_COV = SENTENCE_FEATURE_NAMES.index("cov_local")


class Scorer(Protocol):
    def score(self, features: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class LinearModel:
    """``score = ((x - mean) / scale) @ coef + intercept``."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def score(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.scale) @ self.coef + self.intercept

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "linear",
            "intercept": round(float(self.intercept), 6),
            "features": {
                n: {"mean": round(float(m), 6), "scale": round(float(s), 6), "weight": round(float(w), 6)}
                for n, m, s, w in zip(self.names, self.mean, self.scale, self.coef, strict=False)
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], names: Sequence[str]) -> LinearModel:
        """Weights in the order of ``names`` (the current feature list); a feature the file does
        not know gets weight 0, one the list no longer has is an error."""
        stored = data["features"]
        unknown = set(stored) - set(names)
        if unknown:
            raise ValueError(f"model has features the code does not compute: {sorted(unknown)}")

        def column(key: str, default: float) -> np.ndarray:
            return np.array([stored.get(n, {}).get(key, default) for n in names], dtype=np.float64)

        return cls(
            tuple(names), column("mean", 0.0), column("scale", 1.0), column("weight", 0.0), float(data["intercept"])
        )


# lightgbm imports scikit-learn and pandas when they are installed, for wrappers the product does
# not use: 2.3 s of a cold `assistant ask` here, 0.4 s without them (python -X importtime). Only
# the booster is needed, so they are hidden from that one import when nothing has loaded them yet.
_LIGHTGBM_OPTIONAL = ("sklearn", "pandas")


def _import_lightgbm() -> Any:
    import importlib
    import sys

    if "lightgbm" in sys.modules:
        return sys.modules["lightgbm"]
    hidden = [name for name in _LIGHTGBM_OPTIONAL if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` raise ImportError
    try:
        return importlib.import_module("lightgbm")
    finally:
        for name in hidden:
            if sys.modules.get(name) is None:
                del sys.modules[name]


@dataclass(frozen=True)
class LightGBMModel:
    """A LightGBM booster over the full feature list, in order."""

    booster: Any
    names: tuple[str, ...]

    def score(self, features: np.ndarray) -> np.ndarray:
        return self.booster.predict(features, raw_score=True, num_threads=1)

    @classmethod
    def load(cls, path: Path, names: Sequence[str]) -> LightGBMModel:
        lgb = _import_lightgbm()
        booster = lgb.Booster(model_file=str(path))
        if booster.num_feature() != len(names):
            raise ValueError(f"{path}: {booster.num_feature()} features, the code computes {len(names)}")
        return cls(booster, tuple(names))


@dataclass(frozen=True)
class Cascade:
    """A cheap first scorer keeps the ``keep`` best rows of a question, the second scores those
    (the others get -inf): LightGBM costs ~10 µs a row, a question has ~300 span candidates."""

    first: LinearModel
    second: Scorer
    keep: int

    def score(self, features: np.ndarray) -> np.ndarray:
        coarse = self.first.score(features)
        if len(coarse) <= self.keep:
            return self.second.score(features)
        top = np.argpartition(-coarse, self.keep - 1)[: self.keep]
        out = np.full(len(coarse), -np.inf)
        out[top] = self.second.score(features[top])
        return out


@dataclass(frozen=True)
class SpanChoice:
    sentence: int  # index in the pool
    span: Span
    text: str
    score: float


@dataclass(frozen=True)
class SentenceSpans:
    """The candidates of one of the best sentences, with their features."""

    index: int  # in the pool
    spans: list[Span]
    features: np.ndarray


@dataclass(frozen=True)
class AnswerRanker:
    sentence_model: Scorer
    span_model: Scorer
    span_threshold: float  # below this span score: no short answer
    mbr_temperature: float | None = None  # None: the best-scored span; else decode by expected F1
    top_sentences: int = TOP_SENTENCES
    # the second-best sentence is shown when its softmax share is at least this share of the
    # best one's (fitted on containment within a median answer length, evals/ranker/train.py)
    second_ratio: float = float("inf")
    # ... and only while the two sentences have at most this many characters (fitted with it)
    second_max_chars: int = 400

    def sentence_scores(
        self, question: Question, pool: Sequence[SentenceInput], lexical: LexicalIndex
    ) -> tuple[np.ndarray, np.ndarray]:
        """The features and scores of the pool's sentences."""
        features = sentence_features(question, pool, lexical)
        return features, (self.sentence_model.score(features) if len(pool) else np.zeros(0))

    def short_answer(
        self,
        question: Question,
        pool: Sequence[SentenceInput],
        features: np.ndarray,
        scores: np.ndarray,
        lexical: LexicalIndex,
    ) -> tuple[SpanChoice | None, SpanChoice | None]:
        """(the short answer or None when its score is below the threshold, the best span anyway)."""
        groups = best_sentence_spans(question, pool, features, scores, lexical, self.top_sentences)
        best = pick_span(self.span_model, groups, self.mbr_temperature, question, pool)
        if best is None:
            return None, None
        group, j, score = best
        found = SpanChoice(group.index, group.spans[j], span_text(pool[group.index].text, group.spans[j]), score)
        return (found if score >= self.span_threshold else None), found


def top_indices(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the ``k`` best scores, best first; ties keep pool order."""
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]


def best_sentence_spans(
    question: Question,
    pool: Sequence[SentenceInput],
    features: np.ndarray,
    scores: np.ndarray,
    lexical: LexicalIndex,
    top: int = TOP_SENTENCES,
) -> list[SentenceSpans]:
    """Span candidates and features of the ``top`` best sentences."""
    out = []
    for rank, i in enumerate(top_indices(scores, top)):
        view = token_view(question, pool[i].text, lexical)
        spans = span_candidates(view)
        if spans:
            out.append(
                SentenceSpans(
                    i,
                    spans,
                    span_features(
                        question, view, spans, float(features[i, SENTENCE_COV]), sentence_context(scores, i, rank)
                    ),
                )
            )
    return out


def pick_span(
    model: Scorer,
    groups: Sequence[SentenceSpans],
    temperature: float | None,
    question: Question | None = None,
    pool: Sequence[SentenceInput] = (),
) -> tuple[SentenceSpans, int, float] | None:
    """The chosen span: (its sentence's group, its index there, its model score). With the
    ``question`` and the ``pool``, spans that only repeat the question are left out."""
    if not groups:
        return None
    scores = model.score(np.concatenate([g.features for g in groups]))
    if question is not None:
        spans = [(pool[g.index].text, sp) for g in groups for sp in g.spans]
        scores = best_allowed(question, scores, lambda i: span_text(*spans[i]))
    sentence = np.concatenate([np.full(len(g.spans), k) for k, g in enumerate(groups)])
    first = np.array([s.first for g in groups for s in g.spans])
    last = np.array([s.last for g in groups for s in g.spans])
    chosen = decode(scores, sentence, first, last, temperature)
    k = int(sentence[chosen])
    offset = sum(len(g.spans) for g in groups[:k])
    return groups[k], chosen - offset, float(scores[chosen])


def decode(
    scores: np.ndarray, sentence: np.ndarray, first: np.ndarray, last: np.ndarray, temperature: float | None
) -> int:
    """The best-scored candidate, or (with a temperature) the one with the highest expected
    word-overlap F1 against the others weighted by softmax(temperature * score): minimum Bayes
    risk decoding, which prefers a span that agrees with the other likely spans."""
    best = int(np.argmax(scores))
    if temperature is None or len(scores) < 2 or not np.isfinite(scores[best]):
        return best
    top = np.argsort(-scores, kind="stable")[:MBR_CANDIDATES]
    p = np.exp(temperature * (scores[top] - scores[top].max()))
    p /= p.sum()
    a, b = first[top], last[top]
    overlap = np.minimum(b[:, None], b[None, :]) - np.maximum(a[:, None], a[None, :]) + 1
    same = sentence[top][:, None] == sentence[top][None, :]
    length = (b - a + 1).astype(np.float64)
    f1 = np.where(same & (overlap > 0), 2 * overlap / (length[:, None] + length[None, :]), 0.0)
    return int(top[int(np.argmax(f1 @ p))])


def save(ranker: AnswerRanker, folder: Path, name: str = "ranker") -> list[Path]:
    """``<name>.json`` (settings, linear models inline) plus ``<name>_span.lgb.txt`` when the
    span model is a LightGBM booster."""
    folder.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "version": 1,
        "top_sentences": ranker.top_sentences,
        "span_threshold": round(ranker.span_threshold, 6),
        "mbr_temperature": ranker.mbr_temperature,
        "second_ratio": ranker.second_ratio if math.isfinite(ranker.second_ratio) else None,
        "second_max_chars": ranker.second_max_chars,
    }
    written: list[Path] = []

    def entry(model: Scorer, stem: str) -> dict[str, Any]:
        if isinstance(model, LinearModel):
            return model.to_json()
        if isinstance(model, Cascade):
            return {
                "type": "cascade",
                "keep": model.keep,
                "first": entry(model.first, stem),
                "second": entry(model.second, stem),
            }
        path = folder / f"{name}_{stem}.lgb.txt"
        model.booster.save_model(str(path))  # type: ignore[attr-defined]
        written.append(path)
        return {"type": "lightgbm", "file": path.name}

    data["sentence_model"] = entry(ranker.sentence_model, "sentence")
    data["span_model"] = entry(ranker.span_model, "span")
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return [path, *written]


def load(path: Path) -> AnswerRanker:
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))

    def model(entry: dict[str, Any], names: Sequence[str]) -> Scorer:
        if entry["type"] == "linear":
            return LinearModel.from_json(entry, names)
        if entry["type"] == "cascade":
            first = LinearModel.from_json(entry["first"], names)
            return Cascade(first, model(entry["second"], names), int(entry["keep"]))
        return LightGBMModel.load(path.parent / entry["file"], names)

    second = data.get("second_ratio")
    return AnswerRanker(
        model(data["sentence_model"], SENTENCE_FEATURE_NAMES),
        model(data["span_model"], SPAN_FEATURE_NAMES),
        float(data["span_threshold"]),
        data.get("mbr_temperature"),
        int(data["top_sentences"]),
        float("inf") if second is None else float(second),
        int(data.get("second_max_chars", AnswerRanker.second_max_chars)),
    )


MODEL_FILE = Path(__file__).parent / "models" / "ranker.json"


@lru_cache(maxsize=1)
def default_ranker() -> AnswerRanker:
    """The shipped models (``models/ranker.json``, fitted by ``evals/ranker/train.py``), loaded once."""
    try:
        return load(MODEL_FILE)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AnswerModelError(f"Antwortmodell {MODEL_FILE} nicht lesbar: {exc}") from None
